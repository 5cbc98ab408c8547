"""Jinja2 templates (autoescape on) with the site's globals, and versioned static URLs."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from kb.events import REASON_LABELS
from kb.settings import Settings

WEB = Path(__file__).parent
STATIC = WEB / "static"


def static_versions() -> dict[str, str]:
    """A content hash per static file: URLs change when a file does, so browsers may cache them for good."""
    return {
        p.relative_to(STATIC).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()[:10]
        for p in STATIC.rglob("*") if p.is_file()
    }


def human_date(value: dt.date | None) -> str:
    return f"{value:%B} {value.day}, {value.year}" if value else ""


def relative_date(value: dt.date | None, today: dt.date | None = None) -> str:
    """"today", "3 days ago", "5 weeks ago"...; empty for dates in the future."""
    if not value:
        return ""
    days = ((today or dt.date.today()) - value).days
    if days < 0:
        return ""
    for size, unit in ((365, "year"), (30, "month"), (7, "week"), (1, "day")):
        if days >= size:
            n = days // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "today"


def breadcrumb_items(crumbs: list[tuple[str, str]], root: str) -> list[dict[str, object]]:
    """schema.org ``ListItem``s for a ``BreadcrumbList``."""
    return [
        {"@type": "ListItem", "position": i, "name": name, "item": root + url}
        for i, (name, url) in enumerate(crumbs, start=1)
    ]


def build_templates(settings: Settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=WEB / "templates")
    env = templates.env
    versions = static_versions()
    env.globals.update(
        site_name=settings.site_name,
        support_email=settings.support_email,
        reason_labels=REASON_LABELS,
        max_query_chars=settings.max_query_chars,
        max_message_chars=settings.max_message_chars,
        static=lambda name: f"/static/{name}?v={versions.get(name, '0')}",
    )
    env.filters["human_date"] = human_date
    env.filters["relative_date"] = relative_date
    env.filters["breadcrumb_items"] = breadcrumb_items
    env.trim_blocks = True
    env.lstrip_blocks = True
    return templates


def base_url(request: Request, settings: Settings) -> str:
    """The site's public address without a trailing slash (``KB_BASE_URL``, else the request's)."""
    return (settings.base_url or str(request.base_url)).rstrip("/")


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render a page; every page gets ``canonical`` (its absolute URL without the query)."""
    settings: Settings = request.app.state.settings
    root = base_url(request, settings)
    page = {"canonical": root + request.url.path, "base_url": root, "path": request.url.path, **(context or {})}
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, page, status_code=status_code)

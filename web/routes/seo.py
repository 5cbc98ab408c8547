"""For crawlers and language models: sitemap.xml, robots.txt and llms.txt."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from kb import helpcenter
from web.deps import ServicesDep, SettingsDep
from web.templating import base_url

router = APIRouter(include_in_schema=False)
# Pages answer HEAD too (crawlers and link checkers use it). Searches and clicks stay GET-only,
# since they record analytics that a prefetch must not fake.
get_or_head = partial(router.api_route, methods=["GET", "HEAD"])


@get_or_head("/sitemap.xml")
def sitemap(request: Request, services: ServicesDep) -> Response:
    entries = helpcenter.sitemap_entries(services.db())
    templates = request.app.state.templates
    body = templates.get_template("sitemap.xml").render(
        base_url=base_url(request, request.app.state.settings), entries=entries
    )
    return Response(body, media_type="application/xml")


@get_or_head("/robots.txt", response_class=PlainTextResponse)
def robots(request: Request, settings: SettingsDep) -> str:
    # Result pages are thin duplicates of articles; they also carry `noindex`.
    return (
        "User-agent: *\nDisallow: /search\nDisallow: /api/\n\n"
        f"Sitemap: {base_url(request, settings)}/sitemap.xml\n"
    )


@get_or_head("/llms.txt", response_class=PlainTextResponse)
def llms_txt(request: Request, services: ServicesDep, settings: SettingsDep) -> str:
    """The help center as an llms.txt index, linking each article's plain Markdown."""
    root = base_url(request, settings)
    lines = [
        f"# {settings.site_name}", "",
        f"> Help articles for {settings.site_name}. Every article is also available as plain Markdown "
        "(the links below); support: " + settings.support_email, "",
    ]
    for category in helpcenter.list_categories(services.db()):
        lines += [f"## {category.title}", ""]
        if category.description:
            lines += [category.description, ""]
        for a in category.all_articles:
            lines.append(f"- [{a.title}]({root}{a.url}.md)" + (f": {a.description}" if a.description else ""))
        lines.append("")
    return "\n".join(lines)

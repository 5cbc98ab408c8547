"""The HTML pages. Each handler parses the request, makes one core call, and renders a template."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse

from bot.search_log import record_search
from kb import events, helpcenter
from search.results import search_articles
from web.deps import EngineDep, ServicesDep, SessionDep, SettingsDep
from web.links import click_url
from web.templating import render

router = APIRouter(include_in_schema=False)
# Pages answer HEAD too (crawlers and link checkers use it). Searches and clicks stay GET-only,
# since they record analytics that a prefetch must not fake.
get_or_head = partial(router.api_route, methods=["GET", "HEAD"])
FeedbackState = Literal["up", "down", "sent"]


@get_or_head("/", response_class=HTMLResponse)
def home(request: Request, services: ServicesDep) -> HTMLResponse:
    db = services.db()
    return render(request, "home.html", {
        "categories": helpcenter.list_categories(db), "popular": services.popular_articles(6),
    })


@get_or_head("/categories/{category}", response_class=HTMLResponse)
def category(request: Request, category: str, services: ServicesDep) -> HTMLResponse:
    found = helpcenter.get_category(services.db(), category)
    return render(request, "category.html", {"category": found})


@get_or_head("/categories/{category}/{section}", response_class=HTMLResponse)
def section(request: Request, category: str, section: str, services: ServicesDep) -> HTMLResponse:
    parent, found = helpcenter.get_section(services.db(), category, section)
    return render(request, "section.html", {"category": parent, "section": found})


@get_or_head("/articles/{slug}.md", response_class=PlainTextResponse)
def article_markdown(slug: str, services: ServicesDep) -> PlainTextResponse:
    found = helpcenter.get_article(services.db(), slug)
    head = f"# {found.summary.title}\n\n" + (f"> {found.summary.description}\n\n" if found.summary.description else "")
    return PlainTextResponse(head + found.markdown.strip() + "\n", media_type="text/markdown; charset=utf-8")


@get_or_head("/articles/{slug}", response_class=HTMLResponse)
def article(
    request: Request, slug: str, services: ServicesDep, engine: EngineDep, session: SessionDep,
    feedback: Annotated[FeedbackState | None, Query()] = None,
) -> HTMLResponse:
    db = services.db()
    found = helpcenter.get_article(db, slug)
    if feedback is None and request.method == "GET":  # coming back after voting is not another view
        events.record_view(db, found.summary.slug, session)
    return render(request, "article.html", {
        "article": found, "related": engine.related.related(found.summary.slug, k=5),
        "feedback": feedback, "vote": events.session_vote(db, found.summary.slug, session),
    })


@router.post("/articles/{slug}/feedback")
def article_feedback(
    slug: str, services: ServicesDep, session: SessionDep, vote: Annotated[Literal["up", "down"], Form()],
    reason: Annotated[str | None, Form()] = None, comment: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """The vote form without JavaScript: record, then back to the article (a "No" then asks why)."""
    reason = (reason or None) if vote == "down" else None
    events.record_feedback(services.db(), events.Feedback(slug, session, vote, reason, comment.strip()))
    state = "up" if vote == "up" else ("sent" if reason or comment.strip() else "down")
    return RedirectResponse(f"/articles/{quote(slug)}?feedback={state}#feedback", status_code=303)


@router.get("/search", response_class=HTMLResponse)
def search(
    request: Request, services: ServicesDep, engine: EngineDep, settings: SettingsDep, session: SessionDep,
    q: str = "", category: str | None = None,
) -> HTMLResponse:
    db = services.db()
    if not q.strip():
        return render(request, "search.html", {"results": None, "query": "", "popular": []})
    results = search_articles(
        engine.searcher, q, k=settings.search_limit, category=category or None, min_score=settings.search_min_score
    )
    event_id = record_search(db, results, session, request.headers.get("referer"))
    return render(request, "search.html", {
        "results": results, "query": results.query,
        "links": [
            (click_url(event_id, rank, hit.slug), click_url(event_id, rank, hit.slug, hit.anchor))
            for rank, hit in enumerate(results.hits, start=1)
        ],
        "popular": [] if results.hits else services.popular_articles(5),
    })


@router.get("/search/click")
def search_click(
    services: ServicesDep, session: SessionDep, event: int, rank: Annotated[int, Query(ge=1, le=100)],
    slug: Annotated[str, Query(max_length=200)], anchor: Annotated[str, Query(max_length=200)] = "",
) -> RedirectResponse:
    """Record which result was opened, then go there. The target is always an article path."""
    events.record_click(services.db(), event, session, slug, rank)
    target = f"/articles/{quote(slug, safe='')}" + (f"#{quote(anchor, safe='')}" if anchor else "")
    return RedirectResponse(target, status_code=303)

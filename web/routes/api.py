"""The JSON API: the same core calls as the pages, as JSON (documented at ``/docs``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from bot.search_log import record_search
from kb import events, helpcenter
from search.results import search_articles
from search.suggest import suggest_articles
from web import schemas
from web.deps import EngineDep, ServicesDep, SessionDep, SettingsDep
from web.links import click_url

router = APIRouter(prefix="/api", tags=["api"])
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": schemas.ErrorResponse, "description": "The query is empty or too long."},
    404: {"model": schemas.ErrorResponse, "description": "No such article."},
}
QueryText = Annotated[str, Query(description="What to look for, in the reader's own words.")]


@router.get("/search", response_model=schemas.SearchResponse, responses=ERRORS)
def search(
    q: QueryText, request: Request, services: ServicesDep, engine: EngineDep, settings: SettingsDep,
    session: SessionDep, category: Annotated[str | None, Query(description="Only this category (slug).")] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> schemas.SearchResponse:
    """Search the articles. Each call is recorded as a committed search (analytics for writers)."""
    results = search_articles(engine.searcher, q, k=limit, category=category, min_score=settings.search_min_score)
    event_id = record_search(services.db(), results, session, request.headers.get("referer"))
    return schemas.SearchResponse(
        query=results.query, count=results.count, corrected=results.corrected,
        similar_titles=[schemas.TitleMatch.model_validate(t) for t in results.similar_titles],
        results=[
            schemas.SearchResult.model_validate({**hit.__dict__, "section_url": hit.section_url,
                                                 "click_url": click_url(event_id, rank, hit.slug, hit.anchor)})
            for rank, hit in enumerate(results.hits, start=1)
        ],
        event_id=event_id,
    )


@router.get("/suggest", response_model=schemas.SuggestResponse, responses=ERRORS)
def suggest(q: QueryText, engine: EngineDep, settings: SettingsDep) -> schemas.SuggestResponse:
    """Suggestions while typing (at least 2 characters). Not recorded: only committed searches are."""
    found = suggest_articles(engine.searcher, q, min_score=settings.search_min_score)
    return schemas.SuggestResponse(query=q, suggestions=[schemas.Suggestion.model_validate(s) for s in found])


@router.get("/articles", response_model=list[schemas.ArticleSummary])
def articles(services: ServicesDep) -> list[schemas.ArticleSummary]:
    """Every published article, in help-center order."""
    return [schemas.ArticleSummary.model_validate(a) for a in helpcenter.list_articles(services.db())]


@router.get("/articles/{slug}", response_model=schemas.Article, responses=ERRORS)
def article(slug: str, services: ServicesDep, engine: EngineDep) -> schemas.Article:
    """One article with its body, table of contents and related articles. An old slug redirects (301)."""
    found = helpcenter.get_article(services.db(), slug)
    return schemas.Article.model_validate({
        **schemas.ArticleSummary.model_validate(found.summary).model_dump(),
        "html": found.html, "markdown": found.markdown, "toc": found.toc, "tags": found.tags,
        "word_count": found.word_count, "related": engine.related.related(found.summary.slug),
    })


@router.post("/feedback", response_model=schemas.FeedbackResponse, responses=ERRORS)
def feedback(body: schemas.FeedbackRequest, services: ServicesDep, session: SessionDep) -> schemas.FeedbackResponse:
    """Vote on an article. One vote per session and article: a new vote replaces the earlier one."""
    reason = body.reason if body.vote == "down" else None
    events.record_feedback(
        services.db(), events.Feedback(body.article_slug, session, body.vote, reason, body.comment.strip())
    )
    return schemas.FeedbackResponse(article_slug=body.article_slug, vote=body.vote, reason=reason)

"""Gap reports for writers: what customers asked that the help center could not answer, grouped by meaning."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.gap_review import article_replay, nearest_articles
from bot.gaps import MAX_REASON_CHARS, dismiss_gap, export_gaps, gap_detail, list_gaps, reopen_gap, resolve_gap
from kb import helpcenter
from web.auth import GapsDep, GapsFormDep
from web.deps import ServicesDep, SettingsDep
from web.routes.admin import NO_STORE, render_admin
from web.services import Services

router = APIRouter(prefix="/admin", include_in_schema=False)
Status = Literal["open", "resolved", "dismissed", "all"]
Period = Literal["7", "30", "90"]
Sort = Literal["impact", "count", "last_seen", "trend"]
GapId = Annotated[int, Path(ge=1, le=2**63 - 1)]  # SQLite's integer range: a bigger id is a 422, not a 500
SAVED = {"resolved": "Resolved.", "dismissed": "Dismissed. It stays dismissed: new questions on it join it quietly.",
         "reopened": "Reopened: it is back on the open list."}


def _grouping(services: Services) -> bool:
    """Whether new questions are waiting to be grouped; wakes the background worker if so."""
    worker = services.gap_worker
    if worker is None:
        return False
    waiting = worker.busy or worker.has_new_signals(services.db())
    if waiting:
        worker.wake()
    return waiting


@router.get("/gaps", response_class=HTMLResponse)
def gaps(request: Request, admin: GapsDep, services: ServicesDep, settings: SettingsDep,
         status: Status = "open", period: Period = "30", sort: Sort = "impact", clustered: bool = False) -> HTMLResponse:
    views = list_gaps(services.db(), status=status, period_days=int(period), sort=sort,
                      edit_score=settings.gap_edit_score)
    worker = services.gap_worker
    return render_admin(request, "admin/gaps.html", {
        "gaps": views, "status": status, "period": period, "sort": sort, "grouping": _grouping(services),
        "last_report": worker.last_report if worker and clustered else None,
        "last_run": worker.last_run if worker else None,
    })


@router.post("/gaps/cluster")
def recluster(admin: GapsFormDep, services: ServicesDep) -> RedirectResponse:
    """Group new questions now, in this request (after any background run in progress)."""
    assert services.gap_worker is not None, "the gap worker starts with the app"
    services.gap_worker.run(services.db())
    return RedirectResponse("/admin/gaps?clustered=1", status_code=303)


def _export(services: Services, settings: SettingsDep, fmt: str, status: str, period: str, sort: str) -> Response:
    text = export_gaps(services.db(), fmt, status=status, period_days=int(period), sort=sort,
                       edit_score=settings.gap_edit_score)
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    return Response(text, media_type=media, headers={
        **NO_STORE, "Content-Disposition": f'attachment; filename="gaps-{status}-{period}d.{fmt}"',
    })


@router.get("/gaps.csv")
def gaps_csv(admin: GapsDep, services: ServicesDep, settings: SettingsDep,
             status: Status = "open", period: Period = "30", sort: Sort = "impact") -> Response:
    return _export(services, settings, "csv", status, period, sort)


@router.get("/gaps.json")
def gaps_json(admin: GapsDep, services: ServicesDep, settings: SettingsDep,
              status: Status = "open", period: Period = "30", sort: Sort = "impact") -> Response:
    return _export(services, settings, "json", status, period, sort)


def _gap_page(request: Request, services: Services, settings: SettingsDep, gap_id: int, period: str,
              *, saved: str = "", error: str = "", form: dict[str, str] | None = None,
              status_code: int = 200) -> HTMLResponse:
    db = services.db()
    detail = gap_detail(db, gap_id, period_days=int(period), edit_score=settings.gap_edit_score)
    question = detail.gap.title or detail.gap.representative_query
    return render_admin(request, "admin/gap.html", {
        "detail": detail, "gap": detail.gap, "period": period, "saved": SAVED.get(saved, ""), "error": error,
        "nearest": nearest_articles(services.searcher, question, k=3) if question else [],
        "articles": helpcenter.list_articles(db), "form": form or {}, "max_reason": MAX_REASON_CHARS,
    }, status_code=status_code)


@router.get("/gaps/{gap_id}", response_class=HTMLResponse)
def gap(request: Request, gap_id: GapId, admin: GapsDep, services: ServicesDep, settings: SettingsDep,
        period: Period = "30", saved: str = "") -> HTMLResponse:
    return _gap_page(request, services, settings, gap_id, period, saved=saved)


def _done(gap_id: int, saved: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/gaps/{gap_id}?saved={saved}#status", status_code=303)


@router.post("/gaps/{gap_id}/resolve", response_class=HTMLResponse)
def resolve(request: Request, gap_id: GapId, admin: GapsFormDep, services: ServicesDep, settings: SettingsDep,
            article_slug: Annotated[str, Form(max_length=300)] = "",
            note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Link the article that answers the gap, then ask its questions again: "now answered x of y"."""
    bot = services.bot
    assert bot is not None, "the chatbot starts with the app"
    replay = article_replay(services.searcher, bot.calibration, bot.thresholds, article_slug.strip())
    try:
        resolve_gap(services.db(), gap_id, article_slug, note, replay=replay)
    except ValueError as exc:
        return _gap_page(request, services, settings, gap_id, "30", error=str(exc), status_code=422,
                         form={"article_slug": article_slug, "note": note})
    return _done(gap_id, "resolved")


@router.post("/gaps/{gap_id}/dismiss", response_class=HTMLResponse)
def dismiss(request: Request, gap_id: GapId, admin: GapsFormDep, services: ServicesDep, settings: SettingsDep,
            reason: Annotated[str, Form(max_length=4000)] = "") -> Response:
    try:
        dismiss_gap(services.db(), gap_id, reason)
    except ValueError as exc:
        return _gap_page(request, services, settings, gap_id, "30", error=str(exc), status_code=422,
                         form={"reason": reason})
    return _done(gap_id, "dismissed")


@router.post("/gaps/{gap_id}/reopen", response_class=HTMLResponse)
def reopen(request: Request, gap_id: GapId, admin: GapsFormDep, services: ServicesDep,
           settings: SettingsDep) -> Response:
    try:
        reopen_gap(services.db(), gap_id)
    except ValueError as exc:
        return _gap_page(request, services, settings, gap_id, "30", error=str(exc), status_code=422)
    return _done(gap_id, "reopened")

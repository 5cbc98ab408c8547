"""Gap reports for writers: record what the help center could not answer, group it, and act on the groups.

The public API lives here; the work is split by job into ``gap_store`` (signals), ``gap_cluster``
(grouping by meaning), ``gap_title`` (names) and ``gap_report`` (the numbers writers see, exports).

>>> record_signal(db, source="chat", reason="low_confidence", query="Is there a dark mode?", session_id="s1")
>>> cluster_gaps(db, embedder, nearest=nearest_article(searcher))
>>> [g.suggested_title for g in list_gaps(db, period_days=30)]
['Dark mode in the app', ...]
>>> resolve_gap(db, 3, "change-the-theme", note="new article", replay=article_replay(searcher, calibration, thresholds, "change-the-theme"))
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlite_utils import Database

from bot.gap_cluster import BATCH_SIZE, MATCH_SIMILARITY, MIN_SIMILARITY, ClusterReport, cluster_gaps, query_vectors
from bot.gap_report import (
    EDIT_SCORE, SORTS, GapDetail, GapQuestion, GapView, NearestFn, export_gaps, gap_detail, list_gaps, newest_questions,
    recommend,
)
from bot.gap_store import (
    REASONS, SOURCES, STATUSES, GapNotFoundError, GapSignal, get_gap, iso, normalize_query, record_signal, to_utc,
)
from bot.gap_title import keywords_by_group, title_from_question

if TYPE_CHECKING:
    from bot.chat import Thresholds
    from bot.confidence import Calibration
    from search.searcher import Searcher

__all__ = [
    "BATCH_SIZE", "EDIT_SCORE", "MATCH_SIMILARITY", "MIN_SIMILARITY", "REASONS", "SORTS", "SOURCES", "STATUSES", "ClusterReport",
    "GapDetail", "GapNotFoundError", "GapQuestion", "GapSignal", "GapView", "NearestFn", "ReplayFn", "cluster_gaps",
    "dismiss_gap", "export_gaps", "gap_detail", "keywords_by_group", "list_gaps",
    "nearest_article", "normalize_query", "query_vectors", "recommend", "record_signal", "reopen_gap", "replay_gap",
    "resolve_gap", "title_from_question",
]

ReplayFn = Callable[[list[str]], list[bool]]
MAX_REASON_CHARS = 500
REPLAY_LIMIT = 200


def gap_questions(db: Database, gap_id: int, limit: int = REPLAY_LIMIT) -> list[str]:
    """The gap's distinct questions, newest first, each in its newest wording."""
    return newest_questions(db, gap_id, limit)


def replay_gap(db: Database, gap_id: int, replay: ReplayFn, *, now: datetime | None = None) -> tuple[int, int]:
    """Ask the gap's questions again (``replay`` says which are answered now) and store "answered x of y"."""
    get_gap(db, gap_id)
    questions = gap_questions(db, gap_id)
    answers = list(replay(questions))
    if len(answers) != len(questions):
        raise ValueError(f"replay returned {len(answers)} answers for {len(questions)} questions: return one bool each")
    answered, total = sum(1 for a in answers if a), len(questions)
    db.table("gaps").update(gap_id, {"replay_answered": answered, "replay_total": total, "replayed_at": iso(to_utc(now))})
    return answered, total


def _known_article(db: Database, slug: str) -> bool:
    if not db["articles"].exists() or not db["articles"].count:
        return True  # no catalog in this database (e.g. a bare gap store): nothing to check against
    return bool(db.execute("select 1 from articles where slug = ? union select 1 from redirects where old_slug = ?",
                           [slug, slug]).fetchone())


def resolve_gap(
    db: Database,
    gap_id: int,
    article_slug: str,
    note: str = "",
    replay: ReplayFn | None = None,
    *,
    now: datetime | None = None,
) -> GapView:
    """Close a gap by linking the article that answers it; with ``replay``, also store "now answered x of y".

    If customers ask about it again after this, ``cluster_gaps`` reopens it.
    """
    gap = get_gap(db, gap_id)
    slug = article_slug.strip()
    if not slug:
        raise ValueError("name the article that answers this gap (its slug, e.g. reset-your-password)")
    if not _known_article(db, slug):
        raise ValueError(f"no published article has the slug {slug!r}: publish it and run `kb index` first")
    stamp = iso(to_utc(now))
    db.table("gaps").update(gap_id, {
        "status": "resolved", "resolved_article_slug": slug, "resolution_note": note.strip() or None,
        "resolved_at": stamp, "dismissed_reason": None, "status_note": None, "updated": stamp,
    })
    if replay is not None:
        replay_gap(db, gap_id, replay, now=now)
    return _view(db, gap["id"], now)


def dismiss_gap(db: Database, gap_id: int, reason: str, *, now: datetime | None = None) -> GapView:
    """Set a gap aside for good: it stays dismissed, and later questions on the topic join it quietly."""
    get_gap(db, gap_id)
    reason = " ".join(reason.split())
    if not reason:
        raise ValueError("say why the gap is dismissed (e.g. \"spam\" or \"we don't plan to support this\")")
    if len(reason) > MAX_REASON_CHARS:
        raise ValueError(f"the reason is {len(reason)} characters long; keep it under {MAX_REASON_CHARS}")
    stamp = iso(to_utc(now))
    db.table("gaps").update(gap_id, {"status": "dismissed", "dismissed_reason": reason, "status_note": None, "updated": stamp})
    return _view(db, gap_id, now)


def reopen_gap(db: Database, gap_id: int, *, now: datetime | None = None) -> GapView:
    """Put a resolved or dismissed gap back on the open list (the link or reason is kept in the note)."""
    gap = get_gap(db, gap_id)
    if gap["status"] == "open":
        raise ValueError(f"gap {gap_id} is already open")
    stamp = iso(to_utc(now))
    was = (f"resolved with '{gap['resolved_article_slug']}'" if gap["status"] == "resolved"
           else f"dismissed: {gap['dismissed_reason']}")
    db.table("gaps").update(gap_id, {"status": "open", "status_note": f"Reopened by hand on {stamp[:10]} (was {was}).",
                               "dismissed_reason": None, "updated": stamp})
    return _view(db, gap_id, now)


def _view(db: Database, gap_id: int, now: datetime | None) -> GapView:
    return gap_detail(db, gap_id, now=now, limit=0).gap


def nearest_article(searcher: Searcher) -> NearestFn:
    """A ``nearest`` callable for ``cluster_gaps``/``list_gaps``: the top article and its cosine similarity."""

    def nearest(question: str) -> tuple[str, str, float] | None:
        try:
            hits = searcher.search(question[: searcher.max_query_chars], k=1)
        except ValueError:  # an empty question after trimming
            return None
        return (hits[0].slug, hits[0].title, float(hits[0].vector_score)) if hits else None

    return nearest

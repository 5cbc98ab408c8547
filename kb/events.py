"""What readers do, recorded for the writers: committed searches (and chat turns), article votes, article views.

Each record is a frozen dataclass with a timestamp and ``properties()`` (the row it stores), in the
spirit of datasette's ``events.py``. The ``record_*`` functions write one row and nothing else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlite_utils import Database

from kb.helpcenter import NotFoundError
from kb.storage import insert_row

CHANNELS = ("search", "widget", "chat")
VOTES = ("up", "down")
REASONS = ("need_more_info", "inaccurate", "hard_to_understand", "broken_link", "other")
REASON_LABELS = {
    "need_more_info": "I need more information",
    "inaccurate": "It's inaccurate or out of date",
    "hard_to_understand": "It's hard to understand",
    "broken_link": "A link is broken",
    "other": "Something else",
}
MAX_COMMENT_CHARS = 1000


class FeedbackError(ValueError):
    """A vote that cannot be recorded as given; the message says what to change."""


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def normalize_query(text: str) -> str:
    """Case and spacing folded, so "Reset  Password" and "reset password" count as one query."""
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class QueryEvent:
    """One committed question: a search submitted on the site or the API, or a chat turn."""

    channel: str
    query_text: str
    session_id: str | None = None
    page_url: str | None = None
    result_count: int = 0
    top_score: float | None = None
    second_score: float | None = None
    top_article_slug: str | None = None
    answered: bool | None = None
    handed_off: bool = False
    gap_id: int | None = None
    decision: str | None = None
    ts: str = field(default_factory=now_iso)

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, got {self.channel!r}")

    def properties(self) -> dict[str, Any]:
        row = asdict(self)
        row["query_norm"] = normalize_query(self.query_text)
        row["answered"] = None if self.answered is None else int(self.answered)
        row["handed_off"] = int(self.handed_off)
        return row


@dataclass(frozen=True)
class Feedback:
    """One reader's vote on one article; a later vote by the same session replaces it."""

    article_slug: str
    session_id: str
    vote: str
    reason: str | None = None
    comment: str = ""
    ts: str = field(default_factory=now_iso)

    def __post_init__(self) -> None:
        if self.vote not in VOTES:
            raise FeedbackError(f"vote must be 'up' or 'down', got {self.vote!r}")
        if self.reason is not None and self.reason not in REASONS:
            raise FeedbackError(f"reason must be one of {', '.join(REASONS)}, got {self.reason!r}")
        if len(self.comment) > MAX_COMMENT_CHARS:
            raise FeedbackError(
                f"the comment is {len(self.comment)} characters long; the limit is {MAX_COMMENT_CHARS}"
            )
        if not self.session_id:
            raise FeedbackError("a vote needs a session id")

    def properties(self) -> dict[str, Any]:
        return asdict(self)


def record_query(db: Database, event: QueryEvent) -> int:
    """Store a committed search or chat turn; returns its id (results link clicks back to it)."""
    return insert_row(db, "query_events", event.properties())


def record_click(db: Database, event_id: int, session_id: str, article_slug: str, rank: int) -> bool:
    """Note which result a search led to. Only the session that searched can mark its own search."""
    with db.conn:
        cursor = db.execute(
            "update query_events set clicked_article_slug = ?, clicked_rank = ? where id = ? and session_id = ?",
            [article_slug, rank, event_id, session_id],
        )
    return cursor.rowcount == 1


def record_feedback(db: Database, feedback: Feedback) -> None:
    """Store a vote; one row per (article, session), so the latest vote counts.

    :raise NotFoundError: no published article has that slug.
    """
    if not db["articles"].count_where("slug = ?", [feedback.article_slug]):
        raise NotFoundError(f"there is no article '{feedback.article_slug}'")
    db.table("article_feedback").upsert(feedback.properties(), pk=("article_slug", "session_id"))


def record_view(db: Database, article_slug: str, session_id: str | None) -> None:
    insert_row(db, "article_views", {"article_slug": article_slug, "ts": now_iso(), "session_id": session_id})


def session_vote(db: Database, article_slug: str, session_id: str) -> Feedback | None:
    """The vote this session gave this article, if any (so the page can show it)."""
    rows = list(db.query(
        "select article_slug, session_id, vote, reason, comment, ts from article_feedback "
        "where article_slug = ? and session_id = ?",
        [article_slug, session_id],
    ))
    if not rows:
        return None
    row = rows[0]
    return Feedback(row["article_slug"], row["session_id"], row["vote"], row["reason"], row["comment"] or "", row["ts"])

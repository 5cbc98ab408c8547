"""Gap signals as they are recorded, and the small storage helpers the gap modules share."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlite_utils import Database

from kb.storage import insert_row

Source = Literal["chat", "search", "feedback"]
Reason = Literal["low_confidence", "handoff", "not_helpful", "no_result", "ambiguous"]
Status = Literal["open", "resolved", "dismissed"]
SOURCES: tuple[str, ...] = ("chat", "search", "feedback")
REASONS: tuple[str, ...] = ("low_confidence", "handoff", "not_helpful", "no_result", "ambiguous")
STATUSES: tuple[str, ...] = ("open", "resolved", "dismissed")
MAX_QUERY_CHARS = 2000
_TRAILING = re.compile(r"[\s?!.,;:…]+$")


class GapNotFoundError(LookupError):
    """No gap has this id."""


def normalize_query(text: str) -> str:
    """The form questions are grouped and embedded by: lower case, single spaces, no trailing punctuation.

    >>> normalize_query("  How do I   GIFT a subscription?? ")
    'how do i gift a subscription'
    """
    return _TRAILING.sub("", " ".join(text.lower().split()))


def to_utc(now: datetime | None = None) -> datetime:
    """``now`` in UTC (naive datetimes are taken as UTC); the current time when ``None``."""
    if now is None:
        return datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def iso(moment: datetime) -> str:
    # One fixed format for every stored time, so periods can be compared as strings in SQL.
    return to_utc(moment).isoformat(timespec="seconds")


def period_start(now: datetime, days: float) -> str:
    return iso(to_utc(now) - timedelta(days=days))


@dataclass(frozen=True)
class GapSignal:
    """One question the help center could not answer well, with where and how it failed."""

    ts: str
    source: str
    reason: str
    query_text: str
    query_norm: str
    session_id: str | None = None
    top_score: float | None = None
    top_article_slug: str | None = None
    page_url: str | None = None
    message_id: int | None = None

    def properties(self) -> dict[str, Any]:
        return asdict(self)


def record_signal(
    db: Database,
    *,
    source: str,
    reason: str,
    query: str,
    session_id: str | None = None,
    top_score: float | None = None,
    top_article_slug: str | None = None,
    page_url: str | None = None,
    message_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Store one gap signal and return its id. One insert, no embedding: safe on the chat's hot path.

    ``source`` is "chat", "search" or "feedback"; ``reason`` is "low_confidence", "handoff", "not_helpful",
    "no_result" or "ambiguous". ``kb gaps cluster`` later groups the signals into gaps.

    >>> record_signal(db, source="chat", reason="handoff", query="Is there a dark mode?", session_id="s1")
    1
    """
    if source not in SOURCES:
        raise ValueError(f"unknown gap signal source {source!r}: use one of {', '.join(SOURCES)}")
    if reason not in REASONS:
        raise ValueError(f"unknown gap signal reason {reason!r}: use one of {', '.join(REASONS)}")
    text = query.strip()[:MAX_QUERY_CHARS]
    norm = normalize_query(text)
    if not norm:
        raise ValueError("the gap signal has no question text: pass the customer's question as query")
    signal = GapSignal(
        ts=iso(to_utc(now)), source=source, reason=reason, query_text=text, query_norm=norm, session_id=session_id,
        top_score=None if top_score is None else float(top_score), top_article_slug=top_article_slug,
        page_url=page_url, message_id=message_id,
    )
    return insert_row(db, "gap_signals", signal.properties())


def get_gap(db: Database, gap_id: int) -> dict[str, Any]:
    """The stored row of one gap; ``GapNotFoundError`` when there is none."""
    rows = list(db.query("select * from gaps where id = ?", [gap_id]))
    if not rows:
        raise GapNotFoundError(f"no gap has id {gap_id}: list them with `kb gaps list --status all`")
    return rows[0]


def ask_key_sql(alias: str = "s") -> str:
    """SQL naming one customer question: a chat message can leave several signals (low confidence, then a
    handoff), and it should count once."""
    return f"coalesce('m' || {alias}.message_id, 's' || {alias}.id)"


def customer_key_sql(alias: str = "s") -> str:
    # Signals without a session (e.g. anonymous searches) can't be told apart, so each counts as its own customer.
    return f"coalesce('c' || {alias}.session_id, 's' || {alias}.id)"

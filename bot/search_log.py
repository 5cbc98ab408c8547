"""Committed searches for the writers: every search is an analytics event, and one with no confident result
is also a gap signal (what readers looked for and the help center could not answer)."""

from __future__ import annotations

from sqlite_utils import Database

from bot.gap_store import normalize_query, record_signal
from kb.events import record_query
from search.results import SearchResults


def record_search(db: Database, results: SearchResults, session_id: str | None, page_url: str | None = None) -> int:
    """Store the search (``kb.events.record_query``); returns its event id, which result links click back to.

    ``results`` holds only hits at or above the site's minimum vector score, so no hits means no result was
    confident enough to show: that search becomes a ``no_result`` gap signal.
    """
    event_id = record_query(db, results.event("search", session_id, page_url))
    # A query of punctuation alone ("???") is searchable but says nothing a writer could act on.
    if not results.hits and normalize_query(results.query):
        record_signal(db, source="search", reason="no_result", query=results.query, session_id=session_id,
                      page_url=page_url)
    return event_id

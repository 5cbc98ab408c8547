"""A committed search as a results page shows it: relevant hits only, and help when there are none."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process, utils

from kb.events import QueryEvent
from search.searcher import SearchHit, Searcher

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class TitleMatch:
    """An article whose title looks like the query (for "did you mean" when nothing matched)."""

    slug: str
    title: str

    @property
    def url(self) -> str:
        return f"/articles/{self.slug}"


@dataclass(frozen=True)
class SearchResults:
    query: str
    hits: list[SearchHit]
    corrected: str | None = None  # the query with misspellings fixed, when that differs
    similar_titles: list[TitleMatch] = field(default_factory=list)
    category: str | None = None

    @property
    def count(self) -> int:
        return len(self.hits)

    def event(self, channel: str, session_id: str | None, page_url: str | None = None) -> QueryEvent:
        """The analytics record of this search (``kb.events.record_query`` stores it)."""
        scores = [h.score for h in self.hits]
        return QueryEvent(
            channel=channel, query_text=self.query, session_id=session_id, page_url=page_url,
            result_count=self.count, top_score=scores[0] if scores else None,
            second_score=scores[1] if len(scores) > 1 else None,
            top_article_slug=self.hits[0].slug if self.hits else None, answered=bool(self.hits),
        )


def search_articles(
    searcher: Searcher, query: str, *, k: int = 10, category: str | None = None, min_score: float = 0.0
) -> SearchResults:
    """Search, keeping hits whose vector similarity reaches ``min_score``.

    The vector score is the gate because the keyword score is relative (the best keyword match
    always scores 1.0, however poor): with the default model unrelated queries stay below ~0.33
    while real questions score above ~0.45 (measured on the bundled articles).

    :raise QueryError: the query is empty or too long.
    """
    hits = _relevant(searcher, query, k, category, min_score)
    query = query.strip()
    corrected: str | None = searcher.corrected(query)
    if corrected == " ".join(_WORD.findall(query.lower())):
        corrected = None
    if hits:
        return SearchResults(query, hits, corrected, [], category)
    # Nothing matched: offer the spelling fix only if it finds something ("banana bread" must not
    # become a useless "banana read"), and titles that look like what was typed.
    if corrected and not _relevant(searcher, corrected, 1, category, min_score):
        corrected = None
    return SearchResults(query, [], corrected, similar_titles(searcher, query), category)


def _relevant(searcher: Searcher, query: str, k: int, category: str | None, min_score: float) -> list[SearchHit]:
    return [h for h in searcher.search(query, k=k, category=category) if h.vector_score >= min_score]


def similar_titles(searcher: Searcher, query: str, limit: int = 3, cutoff: float = 60) -> list[TitleMatch]:
    """Articles whose titles are close to the query's spelling (rapidfuzz weighted ratio)."""
    titles = {slug: row["title"] for slug, row in searcher.articles.items()}
    matches = process.extract(
        query, titles, scorer=fuzz.WRatio, processor=utils.default_process, limit=limit, score_cutoff=cutoff
    )
    return [TitleMatch(slug, title) for title, _, slug in matches]

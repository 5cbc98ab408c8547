"""Search-as-you-type suggestions: titles that start with what is typed, then the best search hits."""

from __future__ import annotations

import re
from dataclasses import dataclass

from search.searcher import Searcher

MIN_CHARS = 2
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Suggestion:
    slug: str
    title: str
    category_title: str
    section: str  # the matching section's heading ("" for a title match)
    anchor: str

    @property
    def url(self) -> str:
        return f"/articles/{self.slug}" + (f"#{self.anchor}" if self.anchor else "")


def suggest_articles(searcher: Searcher, query: str, k: int = 8, min_score: float = 0.0) -> list[Suggestion]:
    """Up to ``k`` articles for a partly typed query; nothing under ``MIN_CHARS`` characters.

    While a word is half typed ("passw") neither the embedding nor the full-text index knows it, so
    titles whose words start with every typed word come first; semantic hits fill the rest.

    :raise QueryError: the query is too long.
    """
    if len(query.strip()) < MIN_CHARS:
        return []
    query = searcher.check_query(query)
    typed = _WORD.findall(query.lower())
    found: dict[str, Suggestion] = {}
    for slug, row in searcher.articles.items():
        words = _WORD.findall(row["title"].lower())
        if typed and all(any(w.startswith(t) for w in words) for t in typed):
            found[slug] = Suggestion(slug, row["title"], row["category_title"], "", "")
    prefix = sorted(found.values(), key=lambda s: (len(s.title), s.title))[:k]
    found = {s.slug: s for s in prefix}
    for hit in searcher.search(query, k=k):
        if len(found) >= k:
            break
        if hit.slug not in found and hit.vector_score >= min_score:
            found[hit.slug] = Suggestion(hit.slug, hit.title, hit.category_title, hit.section, hit.anchor)
    return list(found.values())

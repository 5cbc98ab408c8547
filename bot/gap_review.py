"""What a writer reviewing one gap asks the search engine: the nearest articles, and whether a linked article
now answers the gap's questions.

>>> nearest_articles(searcher, "Is there a dark mode?", k=3)
[ArticleMatch(slug='change-the-theme', title='Change the theme', score=0.71), ...]
>>> resolve_gap(db, 3, "change-the-theme", replay=article_replay(searcher, calibration, thresholds, "change-the-theme"))
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.chat import Thresholds, decide
from bot.confidence import Calibration
from bot.gaps import ReplayFn
from search.searcher import Searcher


@dataclass(frozen=True)
class ArticleMatch:
    """An article close to a gap's question; ``score`` is the cosine similarity of its best section."""

    slug: str
    title: str
    url: str
    score: float


def nearest_articles(searcher: Searcher, question: str, k: int = 3) -> list[ArticleMatch]:
    """The ``k`` articles nearest to ``question`` by meaning (vector score, as ``nearest_article`` rates them)."""
    try:
        hits = searcher.search(question[: searcher.max_query_chars], k=k)
    except ValueError:  # a question that is empty once trimmed
        return []
    return [ArticleMatch(h.slug, h.title, h.url, round(float(h.vector_score), 4)) for h in hits]


def article_replay(searcher: Searcher, calibration: Calibration, thresholds: Thresholds, article_slug: str) -> ReplayFn:
    """A ``replay`` for ``resolve_gap``: a question counts as answered now when the chatbot would answer it, or
    offer it as a "Did you mean" choice, with ``article_slug`` first. Answering with another article doesn't
    count: the writer linked this one because it is the answer."""

    def replay(questions: list[str]) -> list[bool]:
        answers = []
        for question in questions:
            try:
                hits = searcher.search(question[: searcher.max_query_chars], k=5)
            except ValueError:
                answers.append(False)
                continue
            decision = decide(hits, calibration, thresholds)
            answers.append(decision.type in ("answer", "clarify") and bool(decision.hits)
                           and decision.hits[0].slug == article_slug)
        return answers

    return replay

"""Related articles: the nearest articles by embedding, same category first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from search.searcher import Searcher


@dataclass(frozen=True)
class RelatedArticle:
    slug: str
    title: str
    description: str
    category: str
    category_title: str
    score: float

    @property
    def url(self) -> str:
        return f"/articles/{self.slug}"


class RelatedIndex:
    """One vector per article (the normalized mean of its chunk vectors), built once per loaded index.

    >>> RelatedIndex(searcher).related("reset-your-password", k=3)[0].slug
    'locked-out-of-your-account'
    """

    def __init__(self, searcher: Searcher) -> None:
        self.articles = searcher.articles
        self.slugs = [s for s in searcher.rows_by_article if s in searcher.articles]
        self.position = {slug: i for i, slug in enumerate(self.slugs)}
        dims = searcher.vectors.shape[1] if searcher.vectors.ndim == 2 else 0
        matrix = np.zeros((len(self.slugs), dims), dtype=np.float32)
        for i, slug in enumerate(self.slugs):
            # The mean of every chunk (summary, questions, sections) describes the whole article,
            # where any single chunk would pull the neighbours toward one section's topic.
            matrix[i] = searcher.vectors[searcher.rows_by_article[slug]].mean(axis=0)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self.matrix = matrix / np.where(norms > 0, norms, 1.0)

    def related(self, slug: str, k: int = 5, same_category_floor: float = 0.3) -> list[RelatedArticle]:
        """Up to ``k`` nearest other articles: those in ``slug``'s category first, each group nearest first.

        A same-category article only jumps the queue when it is at least ``same_category_floor``
        similar: a barely related neighbour from the same category should not push out a close one
        from another (with the default model, unrelated articles score below ~0.2).
        """
        row = self.position.get(slug)
        if row is None or k <= 0:
            return []
        scores = self.matrix @ self.matrix[row]
        category = self.articles[slug]["category"]
        candidates = [
            (not (self.articles[other]["category"] == category and score >= same_category_floor), -float(score), other)
            for other, score in zip(self.slugs, scores)
            if other != slug
        ]
        candidates.sort()
        return [self._related(other, -neg_score) for _, neg_score, other in candidates[:k]]

    def _related(self, slug: str, score: float) -> RelatedArticle:
        row = self.articles[slug]
        return RelatedArticle(
            slug=slug, title=row["title"], description=row["description"] or "", category=row["category"],
            category_title=row["category_title"], score=round(score, 4),
        )

"""Related articles: nearest by embedding, same category first."""

import numpy as np

from search.related import RelatedArticle, RelatedIndex
from search.searcher import Searcher


def test_same_category_first_then_nearest(indexed, data_dir, fake_embedder):
    related = RelatedIndex(Searcher.load(data_dir, fake_embedder))
    assert related.related("reset-password", k=3) == [
        RelatedArticle("change-email", "Change your email address", "Use a new email address for sign-in and receipts.",
                       "account", "Account and sign-in", 0.4539),
        RelatedArticle("refunds", "Request a refund", "Refunds are possible within 14 days of a charge.", "billing",
                       "Billing", 0.3297),
        RelatedArticle("welcome", "Welcome to the platform", "A tour of courses, learning paths and certificates.",
                       "getting-started", "Getting started", 0.2698),
    ]
    assert related.related("nope") == []
    assert related.related("reset-password", k=0) == []


def test_article_vector_is_the_normalized_mean_of_its_chunks(indexed, data_dir, fake_embedder):
    searcher = Searcher.load(data_dir, fake_embedder)
    related = RelatedIndex(searcher)
    mean = searcher.vectors[searcher.rows_by_article["plans"]].mean(axis=0)
    np.testing.assert_allclose(related.matrix[related.position["plans"]], mean / np.linalg.norm(mean), rtol=1e-5)


def test_a_weak_same_category_neighbour_does_not_jump_the_queue(indexed, data_dir, fake_embedder):
    related = RelatedIndex(Searcher.load(data_dir, fake_embedder))
    # For plans, refunds (billing, 0.3459) is above the default floor and comes first...
    assert [(r.slug, r.score) for r in related.related("plans", k=2)] == [("refunds", 0.3459), ("welcome", 0.4191)]
    # ...below the floor it competes on similarity alone.
    assert [r.slug for r in related.related("plans", k=2, same_category_floor=0.4)] == ["welcome", "refunds"]

"""Search-as-you-type suggestions."""

import pytest

from search.searcher import QueryError, Searcher
from search.suggest import Suggestion, suggest_articles


def test_half_typed_words_complete_titles_then_semantic_hits_fill(indexed, data_dir, fake_embedder):
    searcher = Searcher.load(data_dir, fake_embedder)
    assert suggest_articles(searcher, "chan em", min_score=0.45) == [
        Suggestion("change-email", "Change your email address", "Account and sign-in", "", "")]
    found = suggest_articles(searcher, "how much does it cost", min_score=0.45)
    assert [(s.slug, s.url) for s in found] == [("plans", "/articles/plans")]
    assert suggest_articles(searcher, "r") == []
    assert len(suggest_articles(searcher, "re", k=1)) == 1


def test_too_long_is_an_error(indexed, data_dir, fake_embedder):
    searcher = Searcher.load(data_dir, fake_embedder, max_query_chars=20)
    with pytest.raises(QueryError):
        suggest_articles(searcher, "x" * 21)

"""The search results page's core: the relevance floor, spelling fixes that help, similar titles."""

from search.results import SearchResults, TitleMatch, search_articles
from search.searcher import Searcher


def test_hits_below_the_floor_are_dropped(indexed, data_dir, fake_embedder):
    searcher = Searcher.load(data_dir, fake_embedder)
    assert [h.slug for h in search_articles(searcher, "forgot my password", min_score=0.0).hits][:2] == [
        "reset-password", "refunds"]
    assert [h.slug for h in search_articles(searcher, "forgot my password", min_score=0.45).hits] == [
        "reset-password"]


def test_no_hits_offers_a_fix_that_finds_something_and_similar_titles(indexed, data_dir, fake_embedder):
    searcher = Searcher.load(data_dir, fake_embedder)
    assert search_articles(searcher, " Reqest a refnd ", min_score=0.45) == SearchResults(
        query="Reqest a refnd", hits=[], corrected="request a refund",
        similar_titles=[TitleMatch("refunds", "Request a refund")],
    )
    assert search_articles(searcher, "zzzqqq", min_score=0.45) == SearchResults("zzzqqq", [], None, [])


def test_event_summarizes_the_search(indexed, data_dir, fake_embedder):
    results = search_articles(Searcher.load(data_dir, fake_embedder), "email", min_score=0.45)
    event = results.event("search", "s1", "/search")
    assert (event.result_count, event.top_article_slug, event.top_score, event.second_score, event.answered) == (
        1, "change-email", results.hits[0].score, None, True)

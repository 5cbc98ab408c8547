import pytest

from search.highlight import highlight, query_terms
from search.searcher import QueryError, Searcher, search_many


@pytest.fixture
def searcher(indexed, data_dir, fake_embedder):
    s = Searcher.load(data_dir, fake_embedder)
    yield s
    s.close()


def test_results_are_articles_with_their_best_section(searcher):
    hits = searcher.search("the reset email never arrived", k=3)
    top = hits[0]
    assert (top.slug, top.title, top.url) == ("reset-password", "Reset your password", "/articles/reset-password")
    assert (top.category, top.category_title) == ("account", "Account and sign-in")
    assert (top.section, top.anchor) == ("The reset email never arrived", "the-reset-email-never-arrived")
    assert top.section_url == "/articles/reset-password#the-reset-email-never-arrived"
    assert top.snippet == "Check your spam folder, then see change your <mark>email</mark>."
    assert len({h.slug for h in hits}) == len(hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_keyword_side_fixes_typos(searcher):
    assert searcher.corrected("refnd anual plan") == "refund annual plan"
    assert searcher.search("refnd", k=1)[0].slug == "refunds"


def test_category_filter(searcher):
    hits = searcher.search("password email refund", k=10, category="billing")
    assert hits and {h.category for h in hits} == {"billing"}


def test_drafts_are_never_found(searcher):
    assert all(h.slug != "roadmap" for h in searcher.search("secret plans upcoming features", k=10))


@pytest.mark.parametrize(("query", "message"), [("", "empty"), ("   ", "empty"), ("x" * 501, "501 characters")])
def test_bad_queries_are_clear_errors(searcher, query, message):
    with pytest.raises(QueryError, match=message):
        searcher.search(query)


def test_query_embeddings_are_cached(searcher, fake_embedder):
    fake_embedder.calls.clear()
    searcher.search("How much does it COST")
    searcher.search("how much  does it cost")
    assert fake_embedder.calls == [1]


def test_search_many_matches_one_by_one(searcher):
    queries = ["how much does it cost", "can I get my money back"]
    assert search_many(searcher, queries, k=2) == [searcher.search(q, k=2) for q in queries]


def test_snippets_escape_html(searcher):
    hit = searcher.search("<script>alert(1)</script> learning paths", k=1)[0]
    assert "<script" not in hit.snippet


def test_highlight_marks_terms_and_escapes():
    assert highlight("Use <b>passwords</b> & keys", query_terms("password")) == (
        "Use &lt;b&gt;<mark>passwords</mark>&lt;/b&gt; &amp; keys")
    assert query_terms("How do I reset my password?") == ["passwo", "reset"]


def test_short_words_do_not_mark_longer_words():
    assert highlight("Backups are kept; money comes back.", query_terms("get my money back")) == (
        "Backups are kept; <mark>money</mark> comes <mark>back</mark>.")

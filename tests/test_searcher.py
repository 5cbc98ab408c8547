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


def test_terms_mark_whole_words_from_their_start_in_any_case():
    terms = query_terms("password backed")
    assert highlight("PASSWORDS, unpassword, pass_word; BACKED up", terms) == (
        "<mark>PASSWORDS</mark>, unpassword, pass_word; <mark>BACKED</mark> up")
    # A character whose lowercase is longer ("İ" is two) still marks the right words after it.
    assert highlight("İstanbul office: reset the password", query_terms("reset password")) == (
        "İstanbul office: <mark>reset</mark> the <mark>password</mark>")



def _assert_votes_are_shares_of_nearest(searcher, hits, vector, skip=frozenset()):
    """Each article's votes count its chunks among the VOTE_CHUNKS most similar (brute force; ties either way)."""
    import numpy as np

    from search.searcher import VOTE_CHUNKS

    rows = [r for r, info in enumerate(searcher.chunks) if info.article_slug not in skip]
    sims = searcher.vectors[rows] @ vector
    cutoff = np.sort(sims)[::-1][VOTE_CHUNKS - 1]
    votes = {h.slug: round(h.votes * VOTE_CHUNKS) for h in hits}
    assert sum(votes.values()) == VOTE_CHUNKS
    for slug in {searcher.chunks[r].article_slug for r in rows}:
        mine = sims[[searcher.chunks[r].article_slug == slug for r in rows]]
        assert (mine > cutoff + 1e-6).sum() <= votes.get(slug, 0) <= (mine >= cutoff - 1e-6).sum(), slug


@pytest.mark.parametrize("query", ["the reset email never arrived", "can I get my money back", "dark colors"])
def test_votes_are_each_articles_share_of_the_nearest_chunks(searcher, query):
    vector = searcher.embed(query)
    hits = searcher.search_vector(query, vector, k=20)
    _assert_votes_are_shares_of_nearest(searcher, hits, vector)
    # An article held out (self-calibration) does not vote: the next nearest chunks do.
    top = frozenset({hits[0].slug})
    held = searcher.search_vector(query, vector, k=20, exclude_articles=top)
    assert all(h.slug != hits[0].slug for h in held)
    _assert_votes_are_shares_of_nearest(searcher, held, vector, skip=top)


@pytest.mark.parametrize("query", ["the reset email never arrived", "can I get my money back", "how much does it cost"])
def test_an_articles_questions_among_the_nearest_chunks_add_to_its_score(searcher, query):
    import numpy as np

    from search.searcher import RANK_VOTE_CHUNKS, VOTE_WEIGHT

    vector = searcher.embed(query)
    hits = searcher.search_vector(query, vector, k=20)
    sims = searcher.vectors @ vector
    cutoff = np.sort(sims)[::-1][RANK_VOTE_CHUNKS - 1]
    for hit in hits:
        bonus = hit.score - hit.vector_score - searcher.keyword_weight * hit.keyword_score
        questions = np.array([info.article_slug == hit.slug and info.kind == "question" for info in searcher.chunks])
        # Its questions among the 10 nearest chunks (ties at the tenth either way); sections never vote.
        low, high = (sims[questions] > cutoff + 1e-6).sum(), (sims[questions] >= cutoff - 1e-6).sum()
        assert VOTE_WEIGHT * low / RANK_VOTE_CHUNKS - 2e-4 <= bonus <= VOTE_WEIGHT * high / RANK_VOTE_CHUNKS + 2e-4
    assert any(h.score > h.vector_score + searcher.keyword_weight * h.keyword_score + 1e-3 for h in hits)
    searcher.vote_weight = 0.0
    assert all(abs(h.score - h.vector_score - searcher.keyword_weight * h.keyword_score) < 2e-4
               for h in searcher.search_vector(query, vector, k=20))

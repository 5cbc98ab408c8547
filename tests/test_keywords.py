"""The in-memory keyword index ranks exactly as FTS5's bm25 does, only faster."""

from __future__ import annotations

import re
import sqlite3

import pytest

from kb.storage import DB_FILE, fts_query, keyword_search, open_db
from search.keywords import KeywordIndex
from search.searcher import Searcher

QUERIES = [
    "how do I reset my password", "refund for my annual plan", "change email", "pasword", "the", "cancel",
    "invoice receipt download pdf", "Rückerstattung café", "what's the weather in Paris", "sign in sign in sign in",
    "how can I change the email on my account and get a refund for the plan",
]


@pytest.fixture
def keywords(indexed, data_dir) -> KeywordIndex:
    with sqlite3.connect(data_dir / DB_FILE) as db:
        return KeywordIndex.build(db)


@pytest.mark.parametrize("query", QUERIES)
def test_the_same_rows_and_scores_as_fts5(keywords, data_dir, query):
    db = open_db(data_dir / DB_FILE)
    expected = keyword_search(db, fts_query(query), limit=20)
    found = keywords.search(re.findall(r"\w+", query.lower()), limit=20)
    assert found is not None and len(found) == len(expected)
    assert [h.rank for h in found] == pytest.approx([h.rank for h in expected], rel=1e-9, abs=1e-12)
    # Rows with the same score may come in another order; each score names the same rows.
    assert sorted((round(h.rank, 9), h.chunk_id, h.article_slug) for h in found) == sorted(
        (round(h.rank, 9), h.chunk_id, h.article_slug) for h in expected)


def test_a_word_fts5_reads_as_a_phrase_is_left_to_fts5(keywords):
    assert keywords.search(["wi_fi", "setup"]) is None
    assert keywords.search(["nothingmatchesthis"]) == []


def test_the_searcher_switches_to_it_with_the_same_results(indexed, data_dir, fake_embedder):
    plain = Searcher.load(data_dir, fake_embedder, memory_keywords=False)
    fast = Searcher.load(data_dir, fake_embedder)
    assert fast.wait_for_keywords(timeout=30) and not plain.wait_for_keywords(timeout=0)
    for query in QUERIES:
        assert fast.search(query, k=5) == plain.search(query, k=5)
    assert fast.search("wi_fi setup", k=5) == plain.search("wi_fi setup", k=5)  # FTS5 answers this one
    plain.close()
    fast.close()

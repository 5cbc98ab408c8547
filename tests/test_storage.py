import sqlite3

import pytest

from kb.migrations import migrations
from kb.storage import fts_query, insert_row, keyword_search, open_db, update_row


def test_migrations_create_every_table_once(tmp_path):
    db = open_db(tmp_path / "kb.db")
    assert {"articles", "categories", "redirects", "chunks", "chunks_fts", "embeddings", "index_runs"} <= set(
        db.table_names()
    )
    applied = [m.name for m in migrations.applied(db)]
    assert applied[:3] == ["m001_create_articles", "m002_create_chunks", "m003_create_index_runs"]
    assert applied == sorted(set(applied), key=applied.index)
    assert migrations.pending(db) == []
    db.close()
    again = open_db(tmp_path / "kb.db")  # re-opening applies nothing twice
    assert [m.name for m in migrations.applied(again)] == applied


def test_insert_row_and_update_row_write_committed_rows(tmp_path):
    db = open_db(tmp_path / "kb.db")
    first = insert_row(db, "conversations", {"id": "c1", "created": "t0", "updated": "t0", "channel": "chat",
                                             "verified": 0, "state": "{}"})
    second = insert_row(db, "messages", {"conversation_id": "c1", "ts": "t1", "role": "user", "text": 'say "hi"; --'})
    assert first >= 1 and second >= 1
    update_row(db, "conversations", "id", "c1", {"state": '{"topic": "x"}', "page_url": "/pricing"})
    other = open_db(tmp_path / "kb.db")  # another connection sees both: they are committed
    assert other["conversations"].get("c1")["page_url"] == "/pricing"
    assert other["messages"].get(second)["text"] == 'say "hi"; --'
    with pytest.raises(sqlite3.OperationalError, match="no_such_column"):
        insert_row(db, "messages", {"no_such_column": 1})
    assert other["messages"].count == 1  # the failed insert left nothing behind


def test_fts_query_quotes_every_word_so_input_is_never_syntax():
    assert fts_query('reset "password" OR NEAR(x) -y*') == '"reset" OR "password" OR "or" OR "near" OR "x" OR "y"'
    assert fts_query("  ?! ") == ""
    assert fts_query("pasword reset", {"pasword": "password"}) == '"password" OR "reset"'


def test_keyword_search_ranks_titles_and_stems(db):
    db["chunks"].insert_all([
        {"id": "a/1", "article_slug": "a", "kind": "section", "anchor": "", "heading": "", "title": "Reset passwords",
         "text": "Choose a new one.", "content_hash": "h1", "position": 0},
        {"id": "b/1", "article_slug": "b", "kind": "section", "anchor": "", "heading": "", "title": "Billing",
         "text": "Your password is not needed to pay.", "content_hash": "h2", "position": 1},
    ])
    hits = keyword_search(db, fts_query("password"))
    assert [h.chunk_id for h in hits] == ["a/1", "b/1"]
    assert hits[0].rank < hits[1].rank < 0
    assert keyword_search(db, "") == []

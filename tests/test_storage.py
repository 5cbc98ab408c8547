from kb.migrations import migrations
from kb.storage import fts_query, keyword_search, open_db


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

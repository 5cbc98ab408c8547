"""SQLite storage (sqlite-utils): articles, categories, chunks with full-text search, cached embeddings."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from kb.migrations import migrations
from kb.models import Article, Category, Chunk

DB_FILE = "kb.db"
_WORD = re.compile(r"\w+", re.UNICODE)


def open_db(path: Path | str | None = None) -> Database:
    """Open (or create) the database with every migration applied. ``None`` gives an in-memory database."""
    if path is None:
        db = Database(memory=True)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = Database(path)
        db.execute("PRAGMA journal_mode=WAL")
        # WAL's recommended durability: a commit survives the process crashing; only an OS crash or
        # power cut may roll back the last commits. FULL fsyncs every commit: a chat reply (four or
        # five small commits) took 16 ms with FULL and 2 ms with NORMAL, a page view's analytics write
        # 2.8 ms and 0.06 ms, on the 2-core target machine.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
    db.execute("PRAGMA foreign_keys=ON")
    migrations.apply(db)
    return db


def insert_row(db: Database, table: str, row: Mapping[str, Any]) -> int:
    """Insert one row of scalar values with plain SQL and commit; returns its rowid.

    For the request hot path (chat turns, analytics, gap signals): sqlite-utils' ``Table.insert``
    introspects the table first, about a dozen schema queries a call, which was most of a chat reply's
    database time (issue 7). The tables are made by ``kb.migrations``, so their columns are known.
    """
    columns = ", ".join(f'"{name}"' for name in row)
    marks = ", ".join("?" * len(row))
    with db.conn:
        cursor = db.conn.execute(f'insert into "{table}" ({columns}) values ({marks})', list(row.values()))
    assert cursor.lastrowid is not None
    return int(cursor.lastrowid)


def update_row(db: Database, table: str, key: str, value: Any, fields: Mapping[str, Any]) -> None:
    """``update table set fields where key = value`` with plain SQL, committed (the hot-path twin of ``Table.update``)."""
    assignments = ", ".join(f'"{name}" = ?' for name in fields)
    with db.conn:
        db.conn.execute(f'update "{table}" set {assignments} where "{key}" = ?', [*fields.values(), value])


def category_key(slug: str, parent: str | None) -> str:
    return f"{parent}/{slug}" if parent else slug


def article_row(article: Article, html: str, content_hash: str) -> dict[str, Any]:
    return {
        "slug": article.slug,
        "external_id": article.external_id,
        "title": article.title,
        "description": article.description,
        "category": article.category,
        "section": article.section,
        "tags": json.dumps(list(article.tags)),
        "questions": json.dumps(list(article.questions)),
        "updated": article.updated.isoformat() if article.updated else None,
        "position": article.position,
        "path": str(article.path),
        "markdown": article.body,
        "html": html,
        "word_count": article.word_count,
        "reading_minutes": article.reading_minutes,
        "redirect_from": json.dumps(list(article.redirect_from)),
        "content_hash": content_hash,
    }


def replace_catalog(
    db: Database,
    articles: list[Article],
    categories: list[Category],
    chunks: list[Chunk],
    html: Mapping[str, str],
    article_hashes: Mapping[str, str],
) -> list[str]:
    """Make the stored catalog exactly these articles; returns the slugs that were removed.

    Runs in the caller's transaction; unchanged articles (same hash) are not rewritten.
    """
    known = {r["slug"]: r["content_hash"] for r in db.query("select slug, content_hash from articles")}
    keep = {a.slug for a in articles}
    removed = sorted(set(known) - keep)
    for slug in removed:
        db.table("chunks").delete_where("article_slug = ?", [slug])
        db.table("articles").delete(slug)
    changed = [a for a in articles if known.get(a.slug) != article_hashes[a.slug]]
    changed_slugs = {a.slug for a in changed}
    for slug in changed_slugs & set(known):
        db.table("chunks").delete_where("article_slug = ?", [slug])
    db.table("articles").upsert_all((article_row(a, html[a.slug], article_hashes[a.slug]) for a in changed), pk="slug")
    titles = {a.slug: a.title for a in articles}
    db.table("chunks").insert_all(
        (
            {"id": c.id, "article_slug": c.article_slug, "kind": c.kind, "anchor": c.anchor, "heading": c.heading,
             "title": titles[c.article_slug], "text": c.text, "content_hash": c.content_hash, "position": i}
            for i, c in enumerate(chunks) if c.article_slug in changed_slugs
        ),
        pk="id",
    )
    db.table("categories").delete_where()
    db.table("categories").insert_all(
        {"key": category_key(c.slug, c.parent), "slug": c.slug, "parent": c.parent, "title": c.title,
         "description": c.description, "position": c.position}
        for c in categories
    )
    db.table("redirects").delete_where()
    db.table("redirects").insert_all(
        ({"old_slug": old, "slug": a.slug} for a in articles for old in a.redirect_from if old not in keep),
        pk="old_slug", replace=True,
    )
    return removed


def cached_vectors(db: Database, model: str, hashes: Iterable[str]) -> dict[str, bytes]:
    """Stored embeddings for these content hashes under this model (the ones not stored are missing)."""
    wanted = list(dict.fromkeys(hashes))
    found: dict[str, bytes] = {}
    for start in range(0, len(wanted), 500):
        batch = wanted[start : start + 500]
        marks = ",".join("?" * len(batch))
        for row in db.execute(
            f"select content_hash, vector from embeddings where model = ? and content_hash in ({marks})", [model, *batch]
        ).fetchall():
            found[row[0]] = row[1]
    return found


def store_vectors(db: Database, model: str, vectors: Mapping[str, bytes]) -> None:
    db.table("embeddings").upsert_all(
        ({"model": model, "content_hash": h, "vector": v} for h, v in vectors.items()), pk=("model", "content_hash")
    )


def prune_vectors(db: Database, model: str) -> int:
    """Forget embeddings no chunk uses any more; returns how many were removed."""
    cursor = db.execute(
        "delete from embeddings where model = ? and content_hash not in (select content_hash from chunks)", [model]
    )
    return cursor.rowcount


# bm25 weight of each full-text column: a title match counts most.
FTS_WEIGHTS = {"title": 4.0, "heading": 2.0, "text": 1.0}


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    article_slug: str
    rank: float  # FTS5 bm25: lower (more negative) is better


def fts_query(text: str, vocabulary: Mapping[str, str] | None = None) -> str:
    """An FTS5 query that ORs the words of ``text``; each word is quoted so no input is FTS syntax.

    ``vocabulary`` maps a misspelt word to a word of the index (did-you-mean for the keyword side).
    """
    words = [w.lower() for w in _WORD.findall(text)]
    if vocabulary:
        words = [vocabulary.get(w, w) for w in words]
    terms = [f'"{w}"' for w in dict.fromkeys(words)]
    return " OR ".join(terms)


def keyword_search(db: Database, query: str, limit: int = 50) -> list[KeywordHit]:
    """Chunks matching ``query`` (an ``fts_query`` string), best bm25 first; title matches weigh most."""
    if not query:
        return []
    # Rank inside FTS5 first, then join only the rows kept (10-20 % faster than joining every match).
    rows = db.execute(
        "select chunks.id, chunks.article_slug, f.rank from ("
        f"select rowid, bm25(chunks_fts, {', '.join(map(str, FTS_WEIGHTS.values()))}) as rank from chunks_fts "
        "where chunks_fts match ? "
        "order by rank limit ?) f join chunks on chunks.rowid = f.rowid order by f.rank",
        [query, limit],
    ).fetchall()
    return [KeywordHit(r[0], r[1], r[2]) for r in rows]


def record_index_run(db: Database, run: Mapping[str, Any]) -> None:
    db.table("index_runs").insert(dict(run), alter=True)

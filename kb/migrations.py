"""Numbered schema migrations for the help-center database (sqlite-utils ``Migrations``)."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("kb")


@migrations()
def m001_create_articles(db: Database) -> None:
    db["articles"].create(
        {
            "slug": str, "external_id": str, "title": str, "description": str, "category": str, "section": str,
            "tags": str, "questions": str, "updated": str, "position": int, "path": str, "markdown": str,
            "html": str, "word_count": int, "reading_minutes": int, "redirect_from": str, "content_hash": str,
        },
        pk="slug",
    )
    db["articles"].create_index(["category", "section", "position"])
    db["categories"].create(
        {"key": str, "slug": str, "parent": str, "title": str, "description": str, "position": int}, pk="key"
    )
    db["redirects"].create({"old_slug": str, "slug": str}, pk="old_slug")


@migrations()
def m002_create_chunks(db: Database) -> None:
    db["chunks"].create(
        {
            "id": str, "article_slug": str, "kind": str, "anchor": str, "heading": str, "title": str,
            "text": str, "content_hash": str, "position": int,
        },
        pk="id",
    )
    db["chunks"].create_index(["article_slug"])
    # Porter stemming lets "passwords" find "password"; the triggers keep the index in step with the table.
    db["chunks"].enable_fts(["title", "heading", "text"], create_triggers=True, tokenize="porter")
    db["embeddings"].create({"model": str, "content_hash": str, "vector": bytes}, pk=("model", "content_hash"))


@migrations()
def m003_create_index_runs(db: Database) -> None:
    db["index_runs"].create(
        {
            "id": int, "started": str, "seconds": float, "articles": int, "chunks": int, "embedded": int,
            "reused": int, "removed": int, "problems": int, "model": str,
        },
        pk="id",
    )

"""Numbered schema migrations for the help-center database (sqlite-utils ``Migrations``)."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("kb")


@migrations()
def m001_create_articles(db: Database) -> None:
    db.table("articles").create(
        {
            "slug": str, "external_id": str, "title": str, "description": str, "category": str, "section": str,
            "tags": str, "questions": str, "updated": str, "position": int, "path": str, "markdown": str,
            "html": str, "word_count": int, "reading_minutes": int, "redirect_from": str, "content_hash": str,
        },
        pk="slug",
    )
    db.table("articles").create_index(["category", "section", "position"])
    db.table("categories").create(
        {"key": str, "slug": str, "parent": str, "title": str, "description": str, "position": int}, pk="key"
    )
    db.table("redirects").create({"old_slug": str, "slug": str}, pk="old_slug")


@migrations()
def m002_create_chunks(db: Database) -> None:
    db.table("chunks").create(
        {
            "id": str, "article_slug": str, "kind": str, "anchor": str, "heading": str, "title": str,
            "text": str, "content_hash": str, "position": int,
        },
        pk="id",
    )
    db.table("chunks").create_index(["article_slug"])
    # Porter stemming lets "passwords" find "password"; the triggers keep the index in step with the table.
    db.table("chunks").enable_fts(["title", "heading", "text"], create_triggers=True, tokenize="porter")
    db.table("embeddings").create({"model": str, "content_hash": str, "vector": bytes}, pk=("model", "content_hash"))


@migrations()
def m003_create_index_runs(db: Database) -> None:
    db.table("index_runs").create(
        {
            "id": int, "started": str, "seconds": float, "articles": int, "chunks": int, "embedded": int,
            "reused": int, "removed": int, "problems": int, "model": str,
        },
        pk="id",
    )


@migrations()
def m004_create_events(db: Database) -> None:
    """What readers do: committed searches (and chat turns), article votes and article views."""
    # Generic on purpose: the chat writes its turns here too (channel "chat"), so one table answers
    # "what did people ask, and did they find it" across the site, the widget and the bot.
    db.table("query_events").create(
        {
            "id": int, "ts": str, "channel": str, "session_id": str, "page_url": str, "query_text": str,
            "query_norm": str, "result_count": int, "top_score": float, "second_score": float,
            "top_article_slug": str, "answered": int, "clicked_article_slug": str, "clicked_rank": int,
            "handed_off": int, "gap_id": int, "decision": str,
        },
        pk="id",
    )
    db.table("query_events").create_index(["ts"])
    db.table("query_events").create_index(["query_norm"])
    db.table("article_feedback").create(
        {
            "article_slug": str, "session_id": str, "ts": str, "vote": str, "reason": str, "comment": str,
        },
        pk=("article_slug", "session_id"),
    )
    db.table("article_feedback").create_index(["ts"])
    db.table("article_views").create({"id": int, "article_slug": str, "ts": str, "session_id": str}, pk="id")
    db.table("article_views").create_index(["article_slug", "ts"])
    db.table("article_views").create_index(["ts"])


@migrations()
def m005_create_conversations(db: Database) -> None:
    """Chat conversations, their messages, handoff tickets and the delivery outbox."""
    db.table("conversations").create(
        {
            "id": str, "created": str, "updated": str, "channel": str, "page_url": str, "user_id": str,
            "email": str, "name": str, "verified": int, "state": str, "ticket_id": int,
        },
        pk="id",
    )
    db.table("messages").create(
        {
            "id": int, "conversation_id": str, "ts": str, "role": str, "text": str, "type": str, "page_url": str,
            "articles": str, "confidence": float, "feedback": str, "query": str,
        },
        pk="id", foreign_keys=[("conversation_id", "conversations", "id")],
    )
    db.table("messages").create_index(["conversation_id", "id"])
    db.table("tickets").create(
        {
            "id": int, "reference": str, "conversation_id": str, "created": str, "updated": str, "status": str,
            "reason": str, "email": str, "name": str, "note": str, "subject": str, "page_url": str,
            "confidence": float, "verified": int, "packet": str,
        },
        pk="id", foreign_keys=[("conversation_id", "conversations", "id")],
    )
    db.table("tickets").create_index(["reference"], unique=True)
    db.table("tickets").create_index(["conversation_id"], unique=True)
    db.table("tickets").create_index(["status", "created"])
    db.table("outbox").create(
        {
            "id": int, "created": str, "kind": str, "ticket_id": int, "event": str, "payload": str, "status": str,
            "attempts": int, "next_attempt_at": str, "last_error": str, "delivered_at": str,
        },
        pk="id",
    )
    db.table("outbox").create_index(["status", "next_attempt_at"])


@migrations()
def m006_create_gaps(db: Database) -> None:
    """Questions the help center could not answer (signals), grouped into gaps for writers."""
    db.table("gap_signals").create(
        {
            "id": int, "ts": str, "source": str, "reason": str, "session_id": str, "query_text": str,
            "query_norm": str, "top_score": float, "top_article_slug": str, "page_url": str, "message_id": int,
            "gap_id": int,
        },
        pk="id",
    )
    db.table("gap_signals").create_index(["gap_id"])
    db.table("gap_signals").create_index(["ts"])
    db.table("gaps").create(
        {
            "id": int, "title": str, "suggested_title": str, "representative_query": str, "status": str,
            "nearest_article_slug": str, "nearest_article_score": float, "resolved_article_slug": str,
            "resolution_note": str, "dismissed_reason": str, "resolved_at": str, "created": str, "updated": str,
            "centroid": bytes, "replay_answered": int, "replay_total": int,
        },
        pk="id",
    )


@migrations()
def m007_create_staff(db: Database) -> None:
    """Staff accounts for /admin: writers and agents."""
    db.table("staff").create(
        {"id": int, "username": str, "password_hash": str, "role": str, "created": str, "last_login": str},
        pk="id",
    )
    db.table("staff").create_index(["username"], unique=True)


@migrations()
def m008_gap_clustering(db: Database) -> None:
    """Cached question vectors for gap clustering, and the gap fields the writers' reports show."""
    # Not in `embeddings`: `kb index` prunes vectors no chunk uses, which would drop these on every build.
    db.table("gap_vectors").create({"model": str, "query_norm": str, "vector": bytes}, pk=("model", "query_norm"))
    for column in ("centroid_model", "nearest_article_title", "keywords", "status_note", "replayed_at"):
        db.table("gaps").add_column(column, str)
    db.table("gap_signals").create_index(["gap_id", "ts"])


@migrations()
def m009_create_widget_tokens(db: Database) -> None:
    """The chat widget's conversation tokens. Only a hash is stored: the token itself lives on the customer's page."""
    db.table("widget_tokens").create(
        {"token_hash": str, "conversation_id": str, "created": str, "last_seen": str, "origin": str},
        pk="token_hash", foreign_keys=[("conversation_id", "conversations", "id")],
    )
    db.table("widget_tokens").create_index(["conversation_id"])

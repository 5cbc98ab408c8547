"""Conversations and their messages in SQLite: what the customer said, what the bot answered, and when."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from kb.storage import insert_row, update_row


class ConversationNotFoundError(LookupError):
    """No conversation has this id (it expired, or the id was mistyped)."""


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class State:
    """What the bot remembers between turns."""

    topic: str = ""  # the last question that was searched, for follow-ups
    options: list[dict[str, str]] = field(default_factory=list)  # pending "Did you mean" choices
    rephrase_asked: bool = False
    not_helpful: int = 0
    handoff_reason: str | None = None  # why a handoff was last offered
    last_answer_id: int | None = None

    @classmethod
    def from_json(cls, text: str | None) -> State:
        return cls(**json.loads(text)) if text else cls()

    def to_json(self) -> str:
        return json.dumps(self.__dict__)


@dataclass(frozen=True)
class Message:
    id: int
    ts: str
    role: str  # "user" | "bot" | "system"
    text: str
    type: str | None
    page_url: str | None
    articles: list[dict[str, Any]]
    confidence: float | None
    feedback: str | None


def create_conversation(db: Database, channel: str = "chat", page_url: str | None = None) -> str:
    conversation_id = secrets.token_urlsafe(18)
    stamp = now_iso()
    insert_row(db, "conversations", {
        "id": conversation_id, "created": stamp, "updated": stamp, "channel": channel, "page_url": page_url,
        "verified": 0, "state": State().to_json(),
    })
    return conversation_id


def get_conversation(db: Database, conversation_id: str) -> dict[str, Any]:
    rows = list(db.query("select * from conversations where id = ?", [conversation_id]))
    if not rows:
        raise ConversationNotFoundError(f"no conversation {conversation_id!r}: start a new one without a session_id")
    return rows[0]


def save_state(db: Database, conversation_id: str, state: State, page_url: str | None = None) -> None:
    """Store what the bot remembers (and the page the customer is on now, when given)."""
    fields: dict[str, Any] = {"state": state.to_json(), "updated": now_iso()}
    if page_url:
        fields["page_url"] = page_url
    update_row(db, "conversations", "id", conversation_id, fields)


def add_message(
    db: Database,
    conversation_id: str,
    role: str,
    text: str,
    *,
    type: str | None = None,
    page_url: str | None = None,
    articles: list[dict[str, Any]] | None = None,
    confidence: float | None = None,
    query: str | None = None,
) -> int:
    return insert_row(db, "messages", {
        "conversation_id": conversation_id, "ts": now_iso(), "role": role, "text": text, "type": type,
        "page_url": page_url, "articles": json.dumps(articles or []), "confidence": confidence, "query": query,
    })


def messages(db: Database, conversation_id: str) -> list[Message]:
    return [
        Message(r["id"], r["ts"], r["role"], r["text"], r["type"], r["page_url"], json.loads(r["articles"] or "[]"),
                r["confidence"], r["feedback"])
        for r in db.query("select * from messages where conversation_id = ? order by id", [conversation_id])
    ]


def set_feedback(db: Database, message_id: int, feedback: str) -> None:
    db.table("messages").update(message_id, {"feedback": feedback})

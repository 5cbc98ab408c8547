"""Widget sessions: an opaque token per conversation, kept in the customer's page, and who the user is.

The token is the only key to a widget conversation. It is random (never derived from an email or an
id), and only its SHA-256 is stored, so the database alone cannot continue anyone's conversation.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from bot.conversations import create_conversation, get_conversation, now_iso
from bot.identity import Identity
from bot.ticket_text import format_time
from kb.storage import insert_row, update_row

CHANNEL = "widget"


class WidgetTokenError(LookupError):
    """The widget token is missing, unknown or was reset; the widget starts a new session."""


@dataclass(frozen=True)
class WidgetSession:
    """A widget conversation as its token opens it."""

    token: str
    conversation_id: str
    identity: Identity | None
    created: bool = False  # a new conversation was started for this call

    @property
    def verified(self) -> bool:
        return bool(self.identity and self.identity.verified)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _identity(conversation: dict[str, Any]) -> Identity | None:
    if not (conversation["user_id"] or conversation["email"] or conversation["name"]):
        return None
    return Identity(conversation["user_id"], conversation["email"] or "", conversation["name"] or "",
                    bool(conversation["verified"]))


def _lookup(db: Database, token: str) -> dict[str, Any] | None:
    rows = list(db.query("select conversation_id from widget_tokens where token_hash = ?", [_hash(token)]))
    return get_conversation(db, rows[0]["conversation_id"]) if rows else None


def session_for(db: Database, token: str | None) -> WidgetSession:
    """The session a token opens.

    :raise WidgetTokenError: no token, or one this help center never issued (or has forgotten).
    """
    conversation = _lookup(db, token) if token else None
    if conversation is None or token is None:
        raise WidgetTokenError("the widget's conversation token is missing or unknown: start a new session")
    return WidgetSession(token, conversation["id"], _identity(conversation))


def _other_person(conversation: dict[str, Any], identity: Identity | None) -> bool:
    """Would continuing this conversation show one person's transcript to another?"""
    owner = conversation["user_id"]
    return bool(identity and identity.user_id and owner and owner != identity.user_id)


def start_session(
    db: Database,
    token: str | None,
    *,
    identity: Identity | None = None,
    page_url: str | None = None,
    origin: str | None = None,
    admit: Callable[[str | None], None] | None = None,
) -> WidgetSession:
    """Continue the conversation of ``token``, or start one (with a new token) when there is none.

    A token of another signed-in person's conversation (a shared computer whose page forgot to call
    ``reset`` on sign-out) starts a new conversation instead of continuing theirs. ``admit`` is called
    first, with the conversation id to resume or None for a new one, and may raise to refuse (rate limits).
    """
    conversation = _lookup(db, token) if token else None
    created = conversation is None or _other_person(conversation, identity)
    if admit is not None:
        admit(None if created or conversation is None else conversation["id"])
    if created:
        token = secrets.token_urlsafe(32)
        conversation_id = create_conversation(db, CHANNEL, page_url)
        stamp = now_iso()
        insert_row(db, "widget_tokens", {"token_hash": _hash(token), "conversation_id": conversation_id,
                                         "created": stamp, "last_seen": stamp, "origin": origin})
        conversation = get_conversation(db, conversation_id)
    else:
        assert token is not None and conversation is not None
        update_row(db, "widget_tokens", "token_hash", _hash(token), {"last_seen": now_iso()})
    if identity is not None:
        identify(db, conversation["id"], identity)
        conversation = get_conversation(db, conversation["id"])
    return WidgetSession(token, conversation["id"], _identity(conversation), created)


def identify(db: Database, conversation_id: str, identity: Identity) -> None:
    """Record who the user is on the conversation (its ticket shows it, verified or not)."""
    current = get_conversation(db, conversation_id)
    same_person = bool(identity.user_id) and identity.user_id == current["user_id"]
    # A page that identifies the same user without a signature must not undo an earlier verification.
    verified = identity.verified or (same_person and bool(current["verified"]))
    db.table("conversations").update(conversation_id, {
        "user_id": identity.user_id or current["user_id"], "email": identity.email or current["email"],
        "name": identity.name or current["name"], "verified": int(verified),
    })


def transcript_text(site_name: str, transcript: dict[str, Any], base_url: str = "") -> str:
    """The conversation as the customer downloads it: who said what and when, with the articles' links."""
    speakers = {"user": "You", "bot": "Assistant", "system": site_name}
    lines = [f"Your conversation with {site_name}", ""]
    ticket = transcript.get("ticket")
    if ticket:
        lines += [f"Support request: {ticket['reference']} ({ticket['status']})", ""]
    for message in transcript["messages"]:
        lines.append(f"[{format_time(message['ts'])}] {speakers.get(message['role'], message['role'])}:")
        lines += [f"  {line}" for line in str(message["text"]).splitlines() or [""]]
        for article in message["articles"]:
            anchor = f"#{article['anchor']}" if article.get("anchor") else ""
            lines.append(f"  - {article.get('title', article['slug'])}: {base_url}{article.get('url', '')}{anchor}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"

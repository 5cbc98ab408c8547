"""Handoff tickets: the whole packet an agent needs, so the customer never repeats themselves."""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlite_utils import Database

from bot.conversations import get_conversation, messages, now_iso

PACKET_SCHEMA = "kb.handoff.v1"
REASONS = {
    "low_confidence": "The bot was not confident it could answer",
    "ambiguous": "The question matched several articles",
    "user_requested": "The customer asked for a person",
    "negative_feedback": "The customer said the answers did not help",
}
STATUSES = ("open", "pending", "closed")
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: references are read aloud and retyped


class TicketNotFoundError(LookupError):
    """No ticket has this reference."""


class Notifier(Protocol):
    """Gets every new or updated ticket's packet (the outbox queues it for email and webhook)."""

    def __call__(self, event: str, ticket_id: int, packet: dict[str, Any]) -> None: ...


def no_notifier(event: str, ticket_id: int, packet: dict[str, Any]) -> None:
    """Deliver nowhere (tests, or a help center with no email or webhook configured)."""


@dataclass(frozen=True)
class Ticket:
    id: int
    reference: str
    conversation_id: str
    status: str
    reason: str
    email: str
    name: str
    subject: str
    created: str
    updated: str


def _ticket(row: dict[str, Any]) -> Ticket:
    return Ticket(row["id"], row["reference"], row["conversation_id"], row["status"], row["reason"],
                  row["email"] or "", row["name"] or "", row["subject"] or "", row["created"], row["updated"])


def new_reference() -> str:
    return "T-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


def ticket_for_conversation(db: Database, conversation_id: str) -> Ticket | None:
    rows = list(db.query("select * from tickets where conversation_id = ?", [conversation_id]))
    return _ticket(rows[0]) if rows else None


def open_ticket(
    db: Database,
    conversation_id: str,
    *,
    reason: str,
    email: str,
    name: str = "",
    note: str = "",
    verified: bool = False,
    confidence: float | None = None,
) -> tuple[Ticket, bool]:
    """The conversation's ticket, created on first call: (ticket, created). Later calls update contact details."""
    conversation = get_conversation(db, conversation_id)
    existing = ticket_for_conversation(db, conversation_id)
    stamp = now_iso()
    if existing:
        db.table("tickets").update(existing.id, {"email": email, "name": name or existing.name, "updated": stamp,
                                                 **({"note": note} if note else {})})
        return _ticket(db.table("tickets").get(existing.id)), False
    first = next((m for m in messages(db, conversation_id) if m.role == "user"), None)
    subject = (first.text if first else note or "Help request").strip()
    subject = subject if len(subject) <= 150 else subject[:149] + "…"
    for _ in range(10):
        try:
            with db.conn:
                row = db.table("tickets").insert({
                    "reference": new_reference(), "conversation_id": conversation_id, "created": stamp,
                    "updated": stamp, "status": "open", "reason": reason if reason in REASONS else "user_requested",
                    "email": email, "name": name, "note": note, "subject": subject,
                    "page_url": conversation["page_url"], "confidence": confidence, "verified": int(verified),
                })
                db.table("conversations").update(
                    conversation_id, {"ticket_id": row.last_pk, "email": email, "name": name}
                )
            return _ticket(db.table("tickets").get(cast(int, row.last_pk))), True
        except sqlite3.IntegrityError:
            # A reference collision (1 in a billion) or a concurrent handoff of the same conversation.
            again = ticket_for_conversation(db, conversation_id)
            if again:
                return again, False
    raise RuntimeError("could not allocate a ticket reference")


def packet(db: Database, ticket: Ticket, base_url: str = "") -> dict[str, Any]:
    """The handoff packet: reason, customer, confidence, articles shown with votes, the full transcript."""
    row = db.table("tickets").get(ticket.id)
    conversation = get_conversation(db, ticket.conversation_id)
    transcript = messages(db, ticket.conversation_id)
    shown: dict[str, dict[str, Any]] = {}
    for m in transcript:
        for a in m.articles:
            entry = shown.setdefault(a["slug"], {"slug": a["slug"], "title": a.get("title", a["slug"]),
                                                 "url": a.get("url", f"/articles/{a['slug']}"),
                                                 "score": a.get("score"), "feedback": None})
            entry["score"] = max(entry["score"] or 0.0, a.get("score") or 0.0)
            if m.feedback and m.articles and m.articles[0]["slug"] == a["slug"]:
                entry["feedback"] = m.feedback
    return {
        "schema": PACKET_SCHEMA,
        "reference": ticket.reference,
        "created_at": row["created"],
        "updated_at": row["updated"],
        "status": row["status"],
        "reason": row["reason"],
        "reason_text": REASONS.get(row["reason"], row["reason"]),
        "customer": {"email": row["email"], "name": row["name"], "user_id": conversation["user_id"],
                     "verified": bool(row["verified"])},
        "subject": row["subject"],
        "note": row["note"] or "",
        "page_url": row["page_url"],
        "confidence": row["confidence"],
        "articles_suggested": list(shown.values()),
        "transcript": [
            {"role": m.role, "text": m.text, "ts": m.ts, "page_url": m.page_url, "type": m.type,
             "articles": [{"slug": a["slug"], "score": a.get("score")} for a in m.articles], "feedback": m.feedback}
            for m in transcript
        ],
        "admin_url": f"{base_url}/admin/tickets/{ticket.reference}",
    }


def get_ticket(db: Database, reference: str) -> Ticket:
    rows = list(db.query("select * from tickets where reference = ?", [reference.upper()]))
    if not rows:
        raise TicketNotFoundError(f"no ticket {reference!r}")
    return _ticket(rows[0])


def list_tickets(db: Database, status: str | None = None, query: str | None = None, limit: int = 200) -> list[Ticket]:
    """Newest first, optionally one status and a text filter over reference, email, name and subject."""
    where, params = [], []
    if status:
        where.append("status = ?")
        params.append(status)
    if query:
        where.append("(reference like ? or email like ? or name like ? or subject like ?)")
        params.extend([f"%{query}%"] * 4)
    sql = "select * from tickets" + (" where " + " and ".join(where) if where else "") + " order by id desc limit ?"
    return [_ticket(r) for r in db.query(sql, [*params, limit])]


def set_status(db: Database, reference: str, status: str) -> Ticket:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    ticket = get_ticket(db, reference)
    db.table("tickets").update(ticket.id, {"status": status, "updated": now_iso()})
    return get_ticket(db, reference)


def ticket_packet_json(db: Database, ticket: Ticket) -> str:
    return json.dumps(packet(db, ticket), indent=2)

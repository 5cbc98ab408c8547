"""The agent inbox: handoff tickets as a list to work through, with counts per status."""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from bot.handoff import STATUSES, Ticket, list_tickets


@dataclass(frozen=True)
class InboxRow:
    ticket: Ticket
    verified: bool  # the customer's identity was verified by the site that embedded the chat


@dataclass(frozen=True)
class Inbox:
    rows: list[InboxRow]  # newest first, at most ``limit``
    counts: dict[str, int]  # every status, including those with none, over all tickets
    matching: int  # tickets matching the filters (may be more than ``rows``)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def ticket_counts(db: Database) -> dict[str, int]:
    """Tickets per status, each status present (0 when it has none)."""
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: int(n) for status, n in db.execute(
        "select status, count(*) from tickets group by status").fetchall()})
    return counts


def list_inbox(db: Database, status: str | None = None, query: str | None = None, limit: int = 200) -> Inbox:
    """``bot.handoff.list_tickets`` with the verified flag per ticket and the counts the inbox shows.

    :raise ValueError: ``status`` is not one of open, pending, closed.
    """
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    query = (query or "").strip() or None
    tickets = list_tickets(db, status=status, query=query, limit=limit)
    ids = [t.id for t in tickets]
    verified: set[int] = set()
    if ids:
        marks = ",".join("?" * len(ids))
        verified = {int(r[0]) for r in db.execute(f"select id from tickets where verified and id in ({marks})", ids)}
    counts = ticket_counts(db)
    if query is None:
        matching = counts[status] if status else sum(counts.values())
    else:
        # The same filter as list_tickets, counted without its limit.
        where = "(reference like ? or email like ? or name like ? or subject like ?)"
        params: list[object] = [f"%{query}%"] * 4
        if status:
            where += " and status = ?"
            params.append(status)
        matching = int(db.execute(f"select count(*) from tickets where {where}", params).fetchone()[0])
    return Inbox([InboxRow(t, t.id in verified) for t in tickets], counts, matching)

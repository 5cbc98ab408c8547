"""The delivery outbox: ticket events wait in SQLite until email and webhook delivery succeed.

Delivery is at least once. A row is claimed with one atomic UPDATE, so two workers never send it at the
same time; failed attempts back off exponentially with jitter; after ``max_attempts`` a row is ``failed``
and stays there until ``retry_failed`` puts it back. Receivers drop repeats by ``webhook-id`` or Message-ID.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.background import BackgroundLoop
from bot.delivery import DeliveryConfig, DeliveryError
from bot.mail import compose_email, send_email
from bot.webhook import post_webhook, webhook_message_id
from kb.storage import open_db

log = logging.getLogger(__name__)

KINDS = ("email", "webhook")
EVENTS = ("ticket.created", "ticket.updated")
STATUSES = ("pending", "delivered", "failed")

__all__ = [
    "DeliveryConfig", "DeliveryResult", "OutboxEntry", "OutboxNotifier", "OutboxWorker", "backoff_delay", "deliver_due",
    "enqueue", "enqueue_ticket", "next_due_in", "retry_failed", "ticket_deliveries",
]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    """One fixed format (UTC, microseconds), so comparing the strings in SQL compares the times."""
    if moment.tzinfo is None:
        raise ValueError("outbox times must be timezone-aware; pass datetime.now(timezone.utc)")
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    created: str
    kind: str
    ticket_id: int
    event: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: str
    last_error: str | None
    delivered_at: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> OutboxEntry:
        try:
            payload = json.loads(row["payload"] or "{}")
        except ValueError:
            payload = {}
        return cls(**{**row, "payload": payload if isinstance(payload, dict) else {}})


@dataclass(frozen=True)
class DeliveryResult:
    """What one attempt did: ``status`` is ``delivered``, ``pending`` (retry at ``next_attempt_at``) or ``failed``."""

    outbox_id: int
    kind: str
    event: str
    ticket_id: int
    status: str
    attempts: int
    error: str | None = None
    next_attempt_at: str | None = None


def enqueue(
    db: Database, kind: str, event: str, ticket_id: int, payload: dict[str, Any], *, now: dt.datetime | None = None
) -> int:
    """Queue one delivery, due at once; returns the outbox row id. Call the worker's ``wake()`` after committing."""
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}: use one of {', '.join(KINDS)}")
    if event not in EVENTS:
        raise ValueError(f"unknown ticket event {event!r}: use one of {', '.join(EVENTS)}")
    stamp = iso(now or utc_now())
    row = {
        "created": stamp, "kind": kind, "ticket_id": ticket_id, "event": event,
        "payload": json.dumps(payload, ensure_ascii=False), "status": "pending", "attempts": 0,
        "next_attempt_at": stamp, "last_error": None, "delivered_at": None,
    }
    return int(db["outbox"].insert(row).last_pk)  # type: ignore[union-attr, arg-type]


def enqueue_ticket(
    db: Database, config: DeliveryConfig, event: str, ticket_id: int, packet: dict[str, Any],
    *, now: dt.datetime | None = None,
) -> list[int]:
    """Queue a ticket event for every configured channel (email, webhook); returns the row ids, maybe none."""
    ids = [enqueue(db, kind, event, ticket_id, packet, now=now) for kind in config.channels]
    if not ids:
        log.info("ticket %s: no email or webhook configured, so it is only in the agent inbox", ticket_id)
    return ids


def backoff_delay(attempts: int, base: float, cap: float, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the ``attempts``-th failure: ``base * 2**(attempts-1)`` capped at ``cap``, then
    a random 50-100% of that, so a receiver that comes back is not hit by every queued row at once."""
    ceiling = min(cap, base * 2.0 ** min(max(attempts - 1, 0), 64))  # the exponent bound avoids float overflow
    return ceiling * (0.5 + rng() / 2)


def _claim(db: Database, now: dt.datetime, lease: float) -> OutboxEntry | None:
    """Take the next due row. Pushing ``next_attempt_at`` past a lease hides it from other workers; if this
    worker dies mid-send the row is due again after the lease. ``attempts`` doubles as the claim token."""
    sql = """
        update outbox set attempts = attempts + 1, next_attempt_at = :lease
        where id = (
            select id from outbox where status = 'pending' and next_attempt_at <= :now
            order by next_attempt_at, id limit 1
        )
        returning *
    """
    if db.conn.in_transaction:
        raise RuntimeError("deliver_due() needs a connection with no open transaction: give the worker its own")
    # IMMEDIATE takes the write lock up front (waiting on busy_timeout), so concurrent claims queue up
    # instead of failing when a WAL read snapshot goes stale.
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        cursor = db.conn.execute(sql, {"now": iso(now), "lease": iso(now + dt.timedelta(seconds=lease))})
        columns = [c[0] for c in cursor.description]
        rows = cursor.fetchall()
    except BaseException:
        db.conn.rollback()
        raise
    db.conn.commit()
    return OutboxEntry.from_row(dict(zip(columns, rows[0]))) if rows else None


def _send(entry: OutboxEntry, config: DeliveryConfig) -> None:
    if not entry.payload:
        raise DeliveryError(f"outbox row {entry.id} has no valid JSON payload", retry=False)
    if entry.kind == "email":
        if not config.email_enabled:
            raise DeliveryError("email delivery is off: set KB_SMTP_HOST, then retry the failed rows", retry=False)
        send_email(compose_email(entry.payload, config, event=entry.event, outbox_id=entry.id), config)
    elif entry.kind == "webhook":
        if not config.webhook_enabled:
            raise DeliveryError("webhook delivery is off: set KB_WEBHOOK_URL, then retry the failed rows", retry=False)
        msg_id = webhook_message_id(entry.id, entry.payload)
        post_webhook(config.webhook_url, config.webhook_secret, msg_id, entry.payload, config.webhook_timeout)
    else:
        raise DeliveryError(f"outbox row {entry.id} has unknown kind {entry.kind!r}", retry=False)


def _finish(db: Database, entry: OutboxEntry, changes: dict[str, Any]) -> bool:
    """Record an attempt's outcome, unless another worker has re-claimed the row since (lease expired)."""
    assignments = ", ".join(f"{column} = :{column}" for column in changes)
    cursor = db.execute(
        f"update outbox set {assignments} where id = :id and attempts = :attempts",
        {**changes, "id": entry.id, "attempts": entry.attempts},
    )
    return cursor.rowcount == 1


def _attempt(db: Database, entry: OutboxEntry, config: DeliveryConfig, now: dt.datetime | None) -> DeliveryResult:
    """Send one claimed row and record the outcome; times are taken after the send unless ``now`` is fixed."""
    result = DeliveryResult(entry.id, entry.kind, entry.event, entry.ticket_id, "delivered", entry.attempts)
    changes: dict[str, Any]
    try:
        _send(entry, config)
    except DeliveryError as exc:
        error = str(exc)
        if exc.retry and entry.attempts < config.max_attempts:
            delay = backoff_delay(entry.attempts, config.backoff_seconds, config.backoff_max_seconds)
            if exc.retry_after is not None:
                delay = min(max(delay, exc.retry_after), config.backoff_max_seconds)
            due = iso((now or utc_now()) + dt.timedelta(seconds=delay))
            changes = {"status": "pending", "next_attempt_at": due, "last_error": error}
            result = DeliveryResult(entry.id, entry.kind, entry.event, entry.ticket_id, "pending", entry.attempts, error, due)
            log.warning(
                "outbox %d (%s, ticket %s): attempt %d of %d failed, retrying at %s: %s",
                entry.id, entry.kind, entry.ticket_id, entry.attempts, config.max_attempts, due, error,
            )
        else:
            changes = {"status": "failed", "last_error": error}
            result = DeliveryResult(entry.id, entry.kind, entry.event, entry.ticket_id, "failed", entry.attempts, error)
            log.error(
                "outbox %d (%s, ticket %s) failed after %d attempts; fix the cause, then retry_failed(): %s",
                entry.id, entry.kind, entry.ticket_id, entry.attempts, error,
            )
    except Exception as exc:  # a bug in composing or sending must not stop the worker or lose the row
        log.exception("outbox %d (%s): unexpected error while delivering", entry.id, entry.kind)
        changes = {"status": "failed", "last_error": f"unexpected {type(exc).__name__}: {exc}"}
        result = DeliveryResult(
            entry.id, entry.kind, entry.event, entry.ticket_id, "failed", entry.attempts, changes["last_error"]
        )
    else:
        changes = {"status": "delivered", "delivered_at": iso(now or utc_now()), "last_error": None}
        log.info("outbox %d (%s, ticket %s) delivered", entry.id, entry.kind, entry.ticket_id)
    if not _finish(db, entry, changes):
        log.warning("outbox %d: another worker took it over while it was being sent; keeping its record", entry.id)
    return result


def deliver_due(
    db: Database, config: DeliveryConfig, now: dt.datetime | None = None, *, limit: int = 100
) -> list[DeliveryResult]:
    """Claim and send up to ``limit`` due rows, one at a time; never raises for a delivery error.

    ``now`` fixes the clock for scheduling (tests drive back-off with it); by default it is the real time.
    """
    results: list[DeliveryResult] = []
    for _ in range(limit):
        entry = _claim(db, now or utc_now(), config.lease_seconds)
        if entry is None:
            break
        results.append(_attempt(db, entry, config, now))
    return results


def retry_failed(db: Database, ids: list[int] | None = None, *, now: dt.datetime | None = None) -> int:
    """Put ``failed`` rows (all, or these ids) back in the queue with a fresh attempt budget; returns how many."""
    sql = "update outbox set status = 'pending', attempts = 0, next_attempt_at = ? where status = 'failed'"
    params: list[Any] = [iso(now or utc_now())]
    if ids is not None:
        sql += f" and id in ({','.join('?' * len(ids))})" if ids else " and 0"
        params += ids
    return db.execute(sql, params).rowcount


def next_due_in(db: Database, now: dt.datetime | None = None) -> float | None:
    """Seconds until the next pending row is due (0 if one is due now), or ``None`` if none is pending."""
    row = db.execute("select min(next_attempt_at) from outbox where status = 'pending'").fetchone()
    if not row or row[0] is None:
        return None
    due = dt.datetime.fromisoformat(row[0]) - (now or utc_now())
    return max(due.total_seconds(), 0.0)


def ticket_deliveries(db: Database, ticket_id: int) -> list[OutboxEntry]:
    """A ticket's deliveries, oldest first, for the agent's ticket page."""
    return [OutboxEntry.from_row(r) for r in db.query("select * from outbox where ticket_id = ? order by id", [ticket_id])]


@dataclass(frozen=True)
class OutboxNotifier:
    """A ``bot.handoff.Notifier``: queues the event for every channel, then wakes the worker (if any)."""

    db: Database
    config: DeliveryConfig
    wake: Callable[[], None] | None = None

    def __call__(self, event: str, ticket_id: int, packet: dict[str, Any]) -> None:
        if enqueue_ticket(self.db, self.config, event, ticket_id, packet) and self.wake is not None:
            self.wake()


class OutboxWorker(BackgroundLoop):
    """Delivers the outbox from a daemon thread with its own SQLite connection, so the chat never waits.

    Usage::

        worker = OutboxWorker(data_dir / "kb.db", DeliveryConfig.from_settings(settings)).start()
        ...  # after committing a ticket and its outbox rows:
        worker.wake()
        ...
        worker.stop()
    """

    name = "kb-outbox"

    def __init__(self, db_path: Path | str, config: DeliveryConfig) -> None:
        super().__init__(db_path, config.poll_seconds)
        self.config = config

    def tick(self, db: Database) -> float | None:
        """One delivery pass; sleep until the next retry falls due (at most the poll interval)."""
        deliver_due(db, self.config)
        return next_due_in(db)

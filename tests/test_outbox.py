"""The outbox: queued ticket events reach real receivers, survive receivers that are down, and go out once."""

from __future__ import annotations

import collections
import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlite_utils import Database
from standardwebhooks import Webhook

from bot.delivery import DeliveryConfig
from bot.outbox import (
    DeliveryResult, OutboxEntry, OutboxNotifier, OutboxWorker, _claim, backoff_delay, deliver_due, enqueue,
    enqueue_ticket, iso, next_due_in, retry_failed, ticket_deliveries,
)
from kb.storage import open_db
from tests.receivers import SECRET, SmtpInbox, WebhookReceiver, free_port, make_packet

T0 = dt.datetime(2026, 11, 24, 5, 40, tzinfo=dt.timezone.utc)


def later(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def hook_config(url: str, **changes: object) -> DeliveryConfig:
    return DeliveryConfig(**{"webhook_url": url, "webhook_secret": SECRET, "webhook_timeout": 5.0, **changes})  # type: ignore[arg-type]


def row(db: Database, outbox_id: int) -> dict[str, object]:
    return dict(db["outbox"].get(outbox_id))


def test_enqueue_stores_a_pending_row_due_now(db: Database) -> None:
    outbox_id = enqueue(db, "webhook", "ticket.created", 3, make_packet(), now=T0)
    assert row(db, outbox_id) == {
        "id": outbox_id, "created": "2026-11-24T05:40:00.000000+00:00", "kind": "webhook", "ticket_id": 3,
        "event": "ticket.created", "payload": json.dumps(make_packet(), ensure_ascii=False), "status": "pending",
        "attempts": 0, "next_attempt_at": "2026-11-24T05:40:00.000000+00:00", "last_error": None, "delivered_at": None,
    }


@pytest.mark.parametrize(
    ("kind", "event", "message"),
    [("sms", "ticket.created", "unknown outbox kind 'sms'"), ("email", "ticket.closed", "unknown ticket event")],
)
def test_enqueue_rejects_unknown_kinds_and_events(db: Database, kind: str, event: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        enqueue(db, kind, event, 1, {})


@pytest.mark.parametrize(
    ("changes", "kinds"),
    [
        ({}, []),
        ({"smtp_host": "127.0.0.1"}, ["email"]),
        ({"webhook_url": "http://127.0.0.1:9/h", "webhook_secret": SECRET}, ["webhook"]),
        ({"smtp_host": "127.0.0.1", "webhook_url": "http://127.0.0.1:9/h", "webhook_secret": SECRET}, ["email", "webhook"]),
    ],
)
def test_enqueue_ticket_queues_one_row_per_configured_channel(db: Database, changes: dict, kinds: list[str]) -> None:
    ids = enqueue_ticket(db, DeliveryConfig(**changes), "ticket.created", 5, make_packet())
    assert [row(db, i)["kind"] for i in ids] == kinds


@pytest.mark.parametrize(
    ("attempts", "rng", "expected"),
    [(1, 0.0, 1.0), (1, 1.0, 2.0), (3, 1.0, 8.0), (3, 0.5, 6.0), (10, 1.0, 900.0), (40, 0.0, 450.0)],
)
def test_backoff_doubles_with_jitter_up_to_the_cap(attempts: int, rng: float, expected: float) -> None:
    assert backoff_delay(attempts, base=2, cap=900, rng=lambda: rng) == expected


def test_email_and_webhook_are_delivered(db: Database) -> None:
    packet = make_packet()
    with SmtpInbox() as inbox, WebhookReceiver() as receiver:
        config = hook_config(receiver.url, smtp_host="127.0.0.1", smtp_port=inbox.port)
        email_id, hook_id = enqueue_ticket(db, config, "ticket.created", 1, packet, now=T0)
        results = deliver_due(db, config, now=T0)
    assert results == [
        DeliveryResult(email_id, "email", "ticket.created", 1, "delivered", 1),
        DeliveryResult(hook_id, "webhook", "ticket.created", 1, "delivered", 1),
    ]
    assert [m["Subject"] for m in inbox.messages] == ["[T-8F3K2Q] My certificate <b>never</b> arrived"]
    [(headers, body)] = receiver.requests
    assert Webhook(SECRET).verify(body, headers) == packet
    assert headers["webhook-id"] == f"msg_T-8F3K2Q_{hook_id}"
    assert [(e.kind, e.status, e.delivered_at) for e in ticket_deliveries(db, 1)] == [
        ("email", "delivered", iso(T0)), ("webhook", "delivered", iso(T0)),
    ]
    assert deliver_due(db, config, now=later(3600)) == []


@pytest.mark.parametrize("kind", ["webhook", "email"])
def test_a_receiver_that_is_down_then_up_gets_the_ticket(db: Database, kind: str, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    config = hook_config(f"http://127.0.0.1:{port}/hook", smtp_host="127.0.0.1", smtp_port=port, smtp_timeout=2.0)
    outbox_id = enqueue(db, kind, "ticket.created", 1, make_packet(), now=T0)

    [first] = deliver_due(db, config, now=T0)
    assert (first.status, first.attempts) == ("pending", 1)
    assert "Connect" in (first.error or "")
    assert iso(later(1)) <= (first.next_attempt_at or "") <= iso(later(2))  # 2 s base, 50-100 % jitter
    assert deliver_due(db, config, now=later(0.5)) == []  # backing off: not due yet

    [second] = deliver_due(db, config, now=later(60))
    assert (second.status, second.attempts) == ("pending", 2)
    assert iso(later(62)) <= (second.next_attempt_at or "") <= iso(later(64))
    assert "attempt 2 of 16 failed" in caplog.text

    receiver = SmtpInbox(port) if kind == "email" else WebhookReceiver(port)
    with receiver:
        [third] = deliver_due(db, config, now=later(3600))
    assert (third.status, third.attempts) == ("delivered", 3)
    received = receiver.messages if isinstance(receiver, SmtpInbox) else receiver.requests
    assert len(received) == 1
    assert row(db, outbox_id)["status"] == "delivered"


def test_a_500_is_retried_with_the_same_webhook_id(db: Database) -> None:
    with WebhookReceiver(responses=[500]) as receiver:
        config = hook_config(receiver.url)
        outbox_id = enqueue(db, "webhook", "ticket.updated", 1, make_packet(event="ticket.updated"), now=T0)
        [first] = deliver_due(db, config, now=T0)
        [second] = deliver_due(db, config, now=later(10))
    assert (first.status, second.status) == ("pending", "delivered")
    assert "HTTP 500" in (first.error or "")
    assert [h["webhook-id"] for h, _ in receiver.requests] == [f"msg_T-8F3K2Q_{outbox_id}"] * 2
    for headers, body in receiver.requests:
        Webhook(SECRET).verify(body, headers)
    assert row(db, outbox_id)["last_error"] is None


def test_a_timeout_is_a_logged_retry(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    with WebhookReceiver(responses=["hang"]) as receiver:
        config = hook_config(receiver.url, webhook_timeout=0.3)
        enqueue(db, "webhook", "ticket.created", 1, make_packet(), now=T0)
        with caplog.at_level(logging.WARNING, logger="bot.outbox"):
            [result] = deliver_due(db, config, now=T0)
        assert (result.status, result.attempts) == ("pending", 1)
        assert "no answer within 0.3s" in (result.error or "")
        assert "no answer within 0.3s" in caplog.text
        [again] = deliver_due(db, config, now=later(10))
    assert again.status == "delivered"


def test_a_rejected_request_fails_at_once_and_can_be_retried(db: Database) -> None:
    with WebhookReceiver(responses=[400]) as receiver:
        config = hook_config(receiver.url)
        outbox_id = enqueue(db, "webhook", "ticket.created", 1, make_packet(), now=T0)
        [failed] = deliver_due(db, config, now=T0)
        assert (failed.status, failed.attempts) == ("failed", 1)
        assert "HTTP 400" in (failed.error or "")
        assert deliver_due(db, config, now=later(3600)) == []
        assert retry_failed(db, now=later(3600)) == 1
        assert (row(db, outbox_id)["status"], row(db, outbox_id)["attempts"]) == ("pending", 0)
        [delivered] = deliver_due(db, config, now=later(3600))
    assert delivered.status == "delivered"
    assert len(receiver.requests) == 2


def test_after_max_attempts_the_row_is_failed_until_retried(db: Database) -> None:
    config = hook_config(f"http://127.0.0.1:{free_port()}/hook", max_attempts=3)
    outbox_id = enqueue(db, "webhook", "ticket.created", 1, make_packet(), now=T0)
    statuses = [deliver_due(db, config, now=later(hour * 3600))[0].status for hour in range(3)]
    assert statuses == ["pending", "pending", "failed"]
    assert deliver_due(db, config, now=later(10 * 3600)) == []
    assert retry_failed(db, [outbox_id + 1], now=later(10 * 3600)) == 0
    assert retry_failed(db, [outbox_id], now=later(10 * 3600)) == 1
    assert row(db, outbox_id)["status"] == "pending"


def test_a_channel_switched_off_after_enqueue_fails_with_what_to_do(db: Database) -> None:
    enqueue(db, "email", "ticket.created", 1, make_packet(), now=T0)
    [result] = deliver_due(db, DeliveryConfig(), now=T0)
    assert (result.status, result.error) == ("failed", "email delivery is off: set KB_SMTP_HOST, then retry the failed rows")


def test_a_row_whose_worker_died_is_taken_again_after_the_lease(db: Database) -> None:
    with WebhookReceiver() as receiver:
        config = hook_config(receiver.url)
        outbox_id = enqueue(db, "webhook", "ticket.created", 1, make_packet(), now=T0)
        claimed = _claim(db, T0, config.lease_seconds)  # a worker claims it, then crashes before sending
        assert isinstance(claimed, OutboxEntry) and claimed.id == outbox_id
        assert deliver_due(db, config, now=later(config.lease_seconds - 1)) == []
        [result] = deliver_due(db, config, now=later(config.lease_seconds + 1))
    assert (result.status, result.attempts) == ("delivered", 2)
    assert len(receiver.requests) == 1


def test_two_workers_deliver_fifty_rows_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "kb.db"
    setup = open_db(path)
    with WebhookReceiver() as receiver:
        config = hook_config(receiver.url)
        ids = [enqueue(setup, "webhook", "ticket.created", n, make_packet(reference=f"T-{n}")) for n in range(50)]
        start = threading.Barrier(2)
        done: list[list[DeliveryResult]] = []
        errors: list[BaseException] = []

        def work() -> None:
            db = open_db(path)
            try:
                start.wait()
                results = deliver_due(db, config)
                done.append(results)
            except BaseException as exc:  # surfaced below: an exception in a thread would be lost
                errors.append(exc)
            finally:
                db.close()

        threads = [threading.Thread(target=work) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert errors == []
    sent = collections.Counter(headers["webhook-id"] for headers, _ in receiver.requests)
    assert sent == collections.Counter(f"msg_T-{n}_{i}" for n, i in enumerate(ids))
    assert sorted(r.outbox_id for results in done for r in results) == ids
    assert {r.status for results in done for r in results} == {"delivered"}
    assert setup.execute("select count(*) from outbox where status = 'delivered'").fetchone()[0] == 50
    setup.close()


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_the_worker_delivers_right_after_wake(tmp_path: Path) -> None:
    path = tmp_path / "kb.db"
    db = open_db(path)
    with WebhookReceiver() as receiver:
        config = hook_config(receiver.url, poll_seconds=60)  # only wake() can make it deliver within the test
        with OutboxWorker(path, config) as worker:
            assert wait_for(lambda: worker.running)
            time.sleep(0.1)  # let it finish its first (empty) pass and go to sleep
            OutboxNotifier(db, config, wake=worker.wake)("ticket.created", 1, make_packet())
            woken = time.monotonic()
            assert wait_for(lambda: len(receiver.requests) == 1, 5)
            assert time.monotonic() - woken < 2
        assert not worker.running
    assert [e.status for e in ticket_deliveries(db, 1)] == ["delivered"]
    db.close()


def test_the_worker_retries_on_its_own_after_the_back_off(tmp_path: Path) -> None:
    path = tmp_path / "kb.db"
    db = open_db(path)
    with WebhookReceiver(responses=[503]) as receiver:
        config = hook_config(receiver.url, poll_seconds=60, backoff_seconds=0.05)
        enqueue(db, "webhook", "ticket.created", 1, make_packet())
        with OutboxWorker(path, config):
            assert wait_for(lambda: len(receiver.requests) == 2, 5)
            assert wait_for(lambda: ticket_deliveries(db, 1)[0].status == "delivered", 5)
    assert [r[0]["webhook-id"] for r in receiver.requests] == ["msg_T-8F3K2Q_1"] * 2
    db.close()


def test_next_due_in(db: Database) -> None:
    assert next_due_in(db, T0) is None
    enqueue(db, "webhook", "ticket.created", 1, {}, now=later(30))
    assert next_due_in(db, T0) == 30.0
    assert next_due_in(db, later(60)) == 0.0

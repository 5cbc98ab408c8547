"""Signed webhooks: Standard Webhooks headers checked by the reference library, and which answers are retried."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from bot.delivery import DeliveryConfigError, DeliveryError, webhook_secret_bytes
from bot.webhook import post_webhook, sign_webhook, webhook_body, webhook_headers, webhook_message_id
from tests.receivers import SECRET, WebhookReceiver, free_port, make_packet


def test_secret_bytes_decode_whsec_and_take_plain_text_as_is() -> None:
    assert webhook_secret_bytes(SECRET) == base64.b64decode(SECRET.removeprefix("whsec_"))
    assert webhook_secret_bytes("whsec_" + base64.b64encode(b"key").decode().rstrip("=")) == b"key"
    assert webhook_secret_bytes("correct horse battery staple") == b"correct horse battery staple"


@pytest.mark.parametrize("secret", ["whsec_not*base64!", "whsec_"])
def test_a_broken_whsec_secret_says_how_to_make_one(secret: str) -> None:
    with pytest.raises(DeliveryConfigError, match="KB_WEBHOOK_SECRET.*generate one with"):
        webhook_secret_bytes(secret)


@pytest.mark.parametrize(
    ("secret", "verifier_key"),
    [(SECRET, SECRET), ("plain-shared-secret", b"plain-shared-secret")],
)
def test_headers_verify_with_the_standardwebhooks_library(secret: str, verifier_key: str | bytes) -> None:
    packet = make_packet(note="naïve café ✓")
    body = webhook_body(packet)
    headers = webhook_headers(secret, "msg_T-8F3K2Q_1", body)
    assert Webhook(verifier_key).verify(body, headers) == packet
    with pytest.raises(WebhookVerificationError):
        Webhook(verifier_key).verify(body.replace(b"0.31", b"0.99"), headers)


def test_signature_is_the_documented_hmac() -> None:
    # Independent vector: the standardwebhooks library's own signer, same id, timestamp and body.
    body = b'{"a":1}'
    expected = Webhook(SECRET).sign("msg_1", datetime.fromtimestamp(1795671600, tz=timezone.utc), body.decode())
    assert sign_webhook(SECRET, "msg_1", 1795671600, body) == expected


def test_message_id_is_stable_per_row_and_names_the_ticket() -> None:
    assert webhook_message_id(17, make_packet()) == "msg_T-8F3K2Q_17"
    assert webhook_message_id(17, {}) == "msg_ticket_17"


def test_post_delivers_the_packet_and_the_receiver_verifies_it() -> None:
    packet = make_packet()
    with WebhookReceiver() as receiver:
        status = post_webhook(receiver.url, SECRET, "msg_T-8F3K2Q_1", packet, timeout=5)
    assert status == 200
    [(headers, body)] = receiver.requests
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == "msg_T-8F3K2Q_1"
    assert Webhook(SECRET).verify(body, headers) == packet
    assert json.loads(body) == packet


@pytest.mark.parametrize(
    ("status", "retry"),
    [(500, True), (502, True), (503, True), (408, True), (429, True), (400, False), (401, False), (404, False),
     (410, False), (301, False)],
)
def test_which_answers_are_retried(status: int, retry: bool) -> None:
    with WebhookReceiver(responses=[status]) as receiver:
        with pytest.raises(DeliveryError, match=f"HTTP {status}") as caught:
            post_webhook(receiver.url, SECRET, "msg_1", make_packet(), timeout=5)
    assert caught.value.retry is retry


def test_retry_after_is_passed_on() -> None:
    with WebhookReceiver(responses=[429]) as receiver:
        receiver.headers = {"retry-after": "120"}
        with pytest.raises(DeliveryError) as caught:
            post_webhook(receiver.url, SECRET, "msg_1", make_packet(), timeout=5)
    assert (caught.value.retry, caught.value.retry_after) == (True, 120.0)


def test_a_receiver_that_is_down_is_a_retry() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(DeliveryError, match="ConnectError") as caught:
        post_webhook(url, SECRET, "msg_1", make_packet(), timeout=2)
    assert caught.value.retry is True


def test_a_receiver_slower_than_the_timeout_is_a_retry() -> None:
    with WebhookReceiver(responses=["hang"]) as receiver:
        with pytest.raises(DeliveryError, match=r"no answer within 0.3s") as caught:
            post_webhook(receiver.url, SECRET, "msg_1", make_packet(), timeout=0.3)
    assert caught.value.retry is True

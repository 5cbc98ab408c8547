"""Signed JSON webhooks with Standard Webhooks headers (https://www.standardwebhooks.com/).

A receiver verifies ``webhook-signature`` = ``v1,`` + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}"))
with the shared secret, and drops repeats by ``webhook-id`` (it stays the same across retries of one message).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot.delivery import DeliveryError, webhook_secret_bytes

USER_AGENT = "kb-helpcenter-webhook/1"
# Standard Webhooks: retry on these; any other non-2xx answer means the request itself is wrong.
RETRY_STATUSES = frozenset({408, 425, 429})


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes that are sent and signed: compact UTF-8 JSON."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def webhook_message_id(outbox_id: int, payload: dict[str, Any]) -> str:
    """``webhook-id``: the same for every retry of one outbox row, so receivers can drop duplicates.

    The ticket reference is part of it because row ids restart at 1 in a new database.
    """
    reference = str(payload.get("reference") or "ticket")
    return f"msg_{reference}_{outbox_id}"


def sign_webhook(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one request."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(webhook_secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_headers(secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Every header of a webhook request; ``timestamp`` (Unix seconds) defaults to now."""
    # Always the real clock: receivers reject timestamps more than a few minutes from their own.
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign_webhook(secret, msg_id, ts, body),
    }


def post_webhook(url: str, secret: str, msg_id: str, payload: dict[str, Any], timeout: float) -> int:
    """POST one signed message; returns the 2xx status code.

    :raise DeliveryError: with ``retry=True`` for timeouts, connection errors, 408/425/429 and 5xx;
        ``retry=False`` for any other answer (3xx, 4xx), whose status is in the message.
    """
    body = webhook_body(payload)
    headers = webhook_headers(secret, msg_id, body)
    try:
        # Redirects are not followed: a signed request must not be replayed to an address nobody configured.
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"webhook {url}: no answer within {timeout:g}s ({type(exc).__name__})", retry=True) from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook {url}: {type(exc).__name__}: {exc}", retry=True) from exc
    status = response.status_code
    if 200 <= status < 300:
        return status
    detail = f"webhook {url}: HTTP {status} {response.reason_phrase}: {response.text[:200]!r}"
    if status in RETRY_STATUSES or status >= 500:
        raise DeliveryError(detail, retry=True, retry_after=_retry_after(response))
    raise DeliveryError(
        detail + " - the receiver rejected the request; fix it, then retry the failed rows", retry=False
    )


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), if it has one."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None

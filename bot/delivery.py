"""What email and webhook delivery need to know (``DeliveryConfig``) and how a delivery fails (``DeliveryError``)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from email.headerregistry import Address
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kb.settings import Settings

WEBHOOK_SECRET_PREFIX = "whsec_"
NEW_SECRET_HINT = (
    "generate one with: python -c \"import base64, os; print('whsec_' + base64.b64encode(os.urandom(24)).decode())\""
)


class DeliveryConfigError(ValueError):
    """The email or webhook settings cannot work; the message names the variable to fix."""


class DeliveryError(Exception):
    """One delivery attempt failed.

    ``retry`` says whether trying again later can help (a receiver that is down, a timeout, HTTP 429/5xx)
    or not (HTTP 400, a refused recipient): the outbox backs off and retries the first kind and marks the
    second ``failed`` at once. ``retry_after`` is a delay in seconds the receiver asked for, if any.
    """

    def __init__(self, message: str, *, retry: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.retry_after = retry_after


def webhook_secret_bytes(secret: str) -> bytes:
    """The HMAC key of a webhook secret: ``whsec_<base64>`` is decoded, anything else is used as UTF-8 text."""
    if not secret.startswith(WEBHOOK_SECRET_PREFIX):
        return secret.encode()
    encoded = secret[len(WEBHOOK_SECRET_PREFIX) :]
    try:
        # Tolerate missing padding, as the standardwebhooks reference library does.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise DeliveryConfigError(
            f"KB_WEBHOOK_SECRET: the part after {WEBHOOK_SECRET_PREFIX!r} is not valid base64; {NEW_SECRET_HINT}"
        ) from None
    if not key:
        raise DeliveryConfigError(f"KB_WEBHOOK_SECRET: the secret is empty; {NEW_SECRET_HINT}")
    return key


@dataclass(frozen=True)
class DeliveryConfig:
    """Where handoff tickets go and how hard the outbox tries. Email is on when ``smtp_host`` and
    ``support_email`` are set; the webhook is on when ``webhook_url`` is set.

    Build it at the edge with ``DeliveryConfig.from_settings(settings)``; tests build it directly.
    """

    support_email: str = "support@lumio.example"
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = False
    smtp_from: str = "help-center@localhost"
    smtp_timeout: float = 10.0
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    webhook_timeout: float = 10.0
    max_attempts: int = 16
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 900.0
    poll_seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.email_enabled:
            for name, value in (("KB_SUPPORT_EMAIL", self.support_email), ("KB_SMTP_FROM", self.smtp_from)):
                if "@" not in value or any(c in value for c in "\r\n<>"):
                    raise DeliveryConfigError(f"{name}: {value!r} is not an email address like name@example.com")
        if self.webhook_enabled:
            if not self.webhook_url.startswith(("http://", "https://")):
                raise DeliveryConfigError(f"KB_WEBHOOK_URL: {self.webhook_url!r} must start with http:// or https://")
            if not self.webhook_secret:
                raise DeliveryConfigError(
                    "KB_WEBHOOK_SECRET: set a secret so receivers can verify KB_WEBHOOK_URL's requests; "
                    + NEW_SECRET_HINT
                )
            webhook_secret_bytes(self.webhook_secret)
        if self.max_attempts < 1:
            raise DeliveryConfigError("KB_OUTBOX_MAX_ATTEMPTS: must be at least 1")

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host and self.support_email)

    @property
    def webhook_enabled(self) -> bool:
        return bool(self.webhook_url)

    @property
    def channels(self) -> tuple[str, ...]:
        """The outbox kinds a ticket event is queued for, in delivery order."""
        return tuple(kind for kind, on in (("email", self.email_enabled), ("webhook", self.webhook_enabled)) if on)

    @property
    def sender(self) -> Address:
        user, _, domain = self.smtp_from.rpartition("@")
        return Address(username=user, domain=domain)

    @property
    def lease_seconds(self) -> float:
        """How long a claimed row stays with its worker before another may take it (a worker that died).

        Longer than any one attempt can take: SMTP applies its timeout to each command, hence the margin.
        """
        return max(self.smtp_timeout, self.webhook_timeout) * 4 + 60

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryConfig:
        return cls(
            support_email=settings.support_email,
            smtp_host=settings.smtp_host,
            smtp_port=settings.smtp_port,
            smtp_username=settings.smtp_username,
            smtp_password=settings.smtp_password.get_secret_value(),
            smtp_starttls=settings.smtp_starttls,
            smtp_from=settings.smtp_from,
            smtp_timeout=settings.smtp_timeout,
            webhook_url=settings.webhook_url,
            webhook_secret=settings.webhook_secret.get_secret_value(),
            webhook_timeout=settings.webhook_timeout,
            max_attempts=settings.outbox_max_attempts,
            backoff_seconds=settings.outbox_backoff_seconds,
            backoff_max_seconds=settings.outbox_backoff_max_seconds,
            poll_seconds=settings.outbox_poll_seconds,
        )

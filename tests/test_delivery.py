"""DeliveryConfig: built from settings, channels on and off, and settings that cannot work fail early."""

from __future__ import annotations

import pytest

from bot.delivery import DeliveryConfig, DeliveryConfigError
from kb.settings import Settings
from tests.receivers import SECRET


def test_from_settings_copies_every_delivery_setting() -> None:
    settings = Settings(
        support_email="help@example.com", smtp_host="mail.example.com", smtp_port=587, smtp_username="bot",
        smtp_password="pw", smtp_starttls=True, smtp_from="kb@example.com", smtp_timeout=3,
        webhook_url="https://hooks.example.com/kb", webhook_secret=SECRET, webhook_timeout=4,
        outbox_max_attempts=5, outbox_backoff_seconds=1, outbox_backoff_max_seconds=60, outbox_poll_seconds=2,
    )  # type: ignore[arg-type]
    assert DeliveryConfig.from_settings(settings) == DeliveryConfig(
        support_email="help@example.com", smtp_host="mail.example.com", smtp_port=587, smtp_username="bot",
        smtp_password="pw", smtp_starttls=True, smtp_from="kb@example.com", smtp_timeout=3.0,
        webhook_url="https://hooks.example.com/kb", webhook_secret=SECRET, webhook_timeout=4.0,
        max_attempts=5, backoff_seconds=1.0, backoff_max_seconds=60.0, poll_seconds=2.0,
    )


def test_secrets_stay_out_of_reprs() -> None:
    config = DeliveryConfig(smtp_password="hunter2", webhook_url="https://h.example", webhook_secret=SECRET)
    assert "hunter2" not in repr(config) and SECRET not in repr(config)
    assert "hunter2" not in repr(Settings(smtp_password="hunter2"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "channels"),
    [
        ({}, ()),
        ({"smtp_host": "127.0.0.1"}, ("email",)),
        ({"smtp_host": "127.0.0.1", "support_email": ""}, ()),
        ({"webhook_url": "http://127.0.0.1:9/h", "webhook_secret": SECRET}, ("webhook",)),
        ({"smtp_host": "127.0.0.1", "webhook_url": "http://127.0.0.1:9/h", "webhook_secret": "x"}, ("email", "webhook")),
    ],
)
def test_channels(changes: dict[str, str], channels: tuple[str, ...]) -> None:
    assert DeliveryConfig(**changes).channels == channels  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"webhook_url": "https://h.example/kb"}, "KB_WEBHOOK_SECRET: set a secret"),
        ({"webhook_url": "ftp://h.example/kb", "webhook_secret": SECRET}, "KB_WEBHOOK_URL: .* must start with http"),
        ({"webhook_url": "https://h.example/kb", "webhook_secret": "whsec_%%%"}, "not valid base64"),
        ({"smtp_host": "mail", "smtp_from": "nobody"}, "KB_SMTP_FROM: 'nobody' is not an email address"),
        ({"smtp_host": "mail", "support_email": "a@b\r\nBcc: c@d"}, "KB_SUPPORT_EMAIL"),
        ({"max_attempts": 0}, "KB_OUTBOX_MAX_ATTEMPTS"),
    ],
)
def test_settings_that_cannot_work_name_the_variable(changes: dict[str, object], message: str) -> None:
    with pytest.raises(DeliveryConfigError, match=message):
        DeliveryConfig(**changes)  # type: ignore[arg-type]

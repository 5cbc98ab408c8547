"""Handoff emails: composed headers and parts, sent to a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import json

import pytest

from bot.delivery import DeliveryConfig, DeliveryError
from bot.mail import compose_email, send_email
from tests.receivers import SmtpInbox, free_port, make_packet


def mail_config(port: int, **changes: object) -> DeliveryConfig:
    settings: dict[str, object] = {
        "support_email": "support@lumio.example", "smtp_host": "127.0.0.1", "smtp_port": port,
        "smtp_from": "help-center@lumio.example", "smtp_timeout": 5.0,
    }
    return DeliveryConfig(**{**settings, **changes})  # type: ignore[arg-type]


def test_created_email_headers() -> None:
    message = compose_email(make_packet(), mail_config(25), event="ticket.created", outbox_id=7)
    headers = {k: str(message[k]) for k in ("Subject", "From", "To", "Reply-To", "Message-ID", "X-KB-Ticket")}
    assert headers == {
        "Subject": "[T-8F3K2Q] My certificate <b>never</b> arrived",
        "From": "help-center@lumio.example",
        "To": "support@lumio.example",
        "Reply-To": "Ada Lovelace <ada@example.com>",
        "Message-ID": "<kb-ticket.T-8F3K2Q@lumio.example>",
        "X-KB-Ticket": "T-8F3K2Q",
    }
    assert message["In-Reply-To"] is None


def test_an_update_threads_under_the_first_email() -> None:
    message = compose_email(make_packet(event="ticket.updated"), mail_config(25), event="ticket.updated", outbox_id=9)
    assert (message["Message-ID"], message["In-Reply-To"], message["References"]) == (
        "<kb-ticket.T-8F3K2Q.9@lumio.example>",
        "<kb-ticket.T-8F3K2Q@lumio.example>",
        "<kb-ticket.T-8F3K2Q@lumio.example>",
    )


def test_customer_text_cannot_add_headers() -> None:
    packet = make_packet(
        subject="hello\r\nBcc: victim@example.com",
        customer={"email": "ada@example.com", "name": "Ada\nBcc: x@example.com", "user_id": None, "verified": False},
    )
    message = compose_email(packet, mail_config(25), event="ticket.created", outbox_id=1)
    assert message["Bcc"] is None
    assert str(message["Subject"]) == "[T-8F3K2Q] hello Bcc: victim@example.com"
    assert message["Reply-To"].addresses[0].addr_spec == "ada@example.com"


@pytest.mark.parametrize("email", ["", "not an address", None])
def test_no_reply_to_without_a_usable_customer_email(email: str | None) -> None:
    packet = make_packet(customer={"email": email, "name": "Ada", "user_id": None, "verified": False})
    assert compose_email(packet, mail_config(25), event="ticket.created", outbox_id=1)["Reply-To"] is None


def test_the_smtp_server_receives_the_whole_ticket() -> None:
    packet = make_packet()
    with SmtpInbox() as inbox:
        config = mail_config(inbox.port)
        send_email(compose_email(packet, config, event="ticket.created", outbox_id=1), config)
    assert inbox.envelopes == [("help-center@lumio.example", ["support@lumio.example"])]
    [message] = inbox.messages
    assert (message["To"], message["From"], message["Reply-To"], message["Subject"]) == (
        "support@lumio.example", "help-center@lumio.example", "Ada Lovelace <ada@example.com>",
        "[T-8F3K2Q] My certificate <b>never</b> arrived",
    )
    text = message.get_body(("plain",)).get_content()
    assert "Customer:    Ada Lovelace <ada@example.com>, visitor (email not verified)" in text
    assert "[2026-11-24 05:39:12 UTC] Customer: My certificate <b>never</b> arrived" in text
    assert "Download your certificate (download-your-certificate), score 0.41, customer: not helpful" in text
    html = message.get_body(("html",)).get_content()
    assert "My certificate &lt;b&gt;never&lt;/b&gt; arrived" in html
    [attachment] = list(message.iter_attachments())
    assert (attachment.get_content_type(), attachment.get_filename()) == ("application/json", "T-8F3K2Q.json")
    assert json.loads(attachment.get_content()) == packet


def test_login_with_the_configured_account() -> None:
    with SmtpInbox(login=("helpdesk", "s3cret")) as inbox:
        config = mail_config(inbox.port, smtp_username="helpdesk", smtp_password="s3cret")
        send_email(compose_email(make_packet(), config, event="ticket.created", outbox_id=1), config)
        bad = mail_config(inbox.port, smtp_username="helpdesk", smtp_password="wrong")
        with pytest.raises(DeliveryError, match="login refused.*KB_SMTP_PASSWORD") as caught:
            send_email(compose_email(make_packet(), bad, event="ticket.created", outbox_id=1), bad)
    assert len(inbox.messages) == 1
    assert caught.value.retry is False


@pytest.mark.parametrize(("reply", "retry"), [("451 4.3.0 try again later", True), ("554 5.6.0 rejected", False)])
def test_server_refusals_are_classified(reply: str, retry: bool) -> None:
    with SmtpInbox() as inbox:
        inbox.reply = reply
        config = mail_config(inbox.port)
        with pytest.raises(DeliveryError, match=reply.split()[0]) as caught:
            send_email(compose_email(make_packet(), config, event="ticket.created", outbox_id=1), config)
    assert caught.value.retry is retry


def test_a_server_that_is_down_is_a_retry() -> None:
    config = mail_config(free_port(), smtp_timeout=2.0)
    with pytest.raises(DeliveryError, match="ConnectionRefusedError") as caught:
        send_email(compose_email(make_packet(), config, event="ticket.created", outbox_id=1), config)
    assert caught.value.retry is True

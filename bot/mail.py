"""Handoff tickets by email: one message to the support address, Reply-To the customer, sent with smtplib."""

from __future__ import annotations

import json
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from bot.delivery import DeliveryConfig, DeliveryError
from bot.ticket_text import ticket_html, ticket_text

SUBJECT_MAX_CHARS = 150


def one_line(text: object) -> str:
    """Collapse whitespace, so customer text can never add a header line."""
    return " ".join(str(text or "").split())


def thread_id(reference: str, domain: str) -> str:
    """The Message-ID of a ticket's first email; later emails point at it so mail clients thread them."""
    return f"<kb-ticket.{reference}@{domain}>"


def customer_address(packet: dict[str, Any]) -> Address | None:
    """``Name <email>`` of the customer, or ``None`` when the packet has no usable email."""
    customer = packet.get("customer") or {}
    email = one_line(customer.get("email"))
    if "@" not in email:
        return None
    try:
        return Address(display_name=one_line(customer.get("name")), addr_spec=email)
    except (ValueError, IndexError):  # email's parser raises these for malformed addresses
        return None


def compose_email(packet: dict[str, Any], config: DeliveryConfig, *, event: str, outbox_id: int) -> EmailMessage:
    """The email for one ticket event: plain text and HTML bodies, and the packet as a JSON attachment.

    Usage::

        message = compose_email(packet, config, event="ticket.created", outbox_id=17)
        send_email(message, config)
    """
    reference = one_line(packet.get("reference")) or "ticket"
    domain = config.sender.domain or "localhost"
    message = EmailMessage()
    message["Subject"] = f"[{reference}] {one_line(packet.get('subject'))[:SUBJECT_MAX_CHARS]}".strip()
    message["From"] = config.smtp_from
    message["To"] = config.support_email
    reply_to = customer_address(packet)
    if reply_to is not None:
        message["Reply-To"] = reply_to
    message["Date"] = formatdate(usegmt=True)
    first = thread_id(reference, domain)
    if event == "ticket.created":
        # Stable across retries, so a resend after a lost acknowledgement is recognisably the same message.
        message["Message-ID"] = first
    else:
        message["Message-ID"] = f"<kb-ticket.{reference}.{outbox_id}@{domain}>"
        message["In-Reply-To"] = first
        message["References"] = first
    message["X-KB-Ticket"] = reference
    message["X-KB-Event"] = event
    message.set_content(ticket_text(packet, event))
    message.add_alternative(ticket_html(packet, event), subtype="html")
    message.add_attachment(
        json.dumps(packet, ensure_ascii=False, indent=2).encode(),
        maintype="application",
        subtype="json",
        filename=f"{reference}.json",
    )
    return message


def send_email(message: EmailMessage, config: DeliveryConfig) -> None:
    """Send through the configured SMTP server (STARTTLS and login when configured).

    :raise DeliveryError: ``retry=True`` when the server is unreachable, times out or answers 4xx;
        ``retry=False`` when it refuses for good (5xx, bad login), with the setting to check.
    """
    where = f"SMTP {config.smtp_host}:{config.smtp_port}"
    try:
        with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=config.smtp_timeout) as smtp:
            if config.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if config.smtp_username:
                smtp.login(config.smtp_username, config.smtp_password)
            smtp.send_message(message, from_addr=config.smtp_from, to_addrs=[config.support_email])
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"{where}: login refused ({exc.smtp_code}); check KB_SMTP_USERNAME and KB_SMTP_PASSWORD", retry=False
        ) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise DeliveryError(
            f"{where}: {exc}; check KB_SMTP_STARTTLS and KB_SMTP_USERNAME against what the server offers", retry=False
        ) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise DeliveryError(
            f"{where}: recipient refused {exc.recipients!r}; check KB_SUPPORT_EMAIL",
            retry=all(400 <= code < 500 for code in codes),
        ) from exc
    except smtplib.SMTPResponseException as exc:
        # 4xx is the server's "try again later" (greylisting, full queue); 5xx is final.
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise DeliveryError(f"{where}: {exc.smtp_code} {text}", retry=exc.smtp_code < 500) from exc
    except (smtplib.SMTPException, OSError) as exc:
        # Connection refused, DNS failure, timeout, dropped connection: the server may be back later.
        raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}", retry=True) from exc

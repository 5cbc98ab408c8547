"""A ticket packet as a readable summary and transcript, in plain text and in escaped HTML (for the email)."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

REASON_LABELS = {
    "low_confidence": "the bot was not confident it could answer",
    "ambiguous": "the question matched several articles",
    "user_requested": "the customer asked for a person",
    "negative_feedback": "the customer said the answers did not help",
}
ROLE_LABELS = {"user": "Customer", "bot": "Bot", "system": "System"}
VOTE_LABELS = {"up": "helpful", "down": "not helpful"}


def format_time(value: object) -> str:
    """``2026-11-24T05:40:00.123+00:00`` as ``2026-11-24 05:40:00 UTC``; anything unparsable as it is."""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "")
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _score(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) else "-"


def _headline(packet: dict[str, Any], event: str) -> str:
    reference = packet.get("reference") or "ticket"
    if event == "ticket.updated":
        return f"Ticket {reference} was updated: the conversation went on."
    return f"New handoff ticket {reference}: a customer needs a person."


def summary_rows(packet: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs of the packet's facts, in the order an agent reads them."""
    customer = packet.get("customer") or {}
    name, email = customer.get("name") or "", customer.get("email") or ""
    who = f"{name} <{email}>" if name else email
    identity = "verified (signed in)" if customer.get("verified") else "visitor (email not verified)"
    reason = packet.get("reason") or ""
    return [
        ("Reason", f"{REASON_LABELS.get(reason, reason)} ({reason})" if reason else "-"),
        ("Customer", f"{who or '-'}, {identity}"),
        ("Page", packet.get("page_url") or "-"),
        ("Confidence", _score(packet.get("confidence"))),
        ("Created", format_time(packet.get("created_at"))),
        ("Status", packet.get("status") or "-"),
    ]


def _article_line(article: dict[str, Any]) -> str:
    vote = VOTE_LABELS.get(article.get("feedback") or "", "no vote")
    return f"{article.get('title') or article.get('slug')} ({article.get('slug')}), score {_score(article.get('score'))}, customer: {vote}"


def _sources(message: dict[str, Any]) -> str:
    return ", ".join(f"{a.get('slug')} ({_score(a.get('score'))})" for a in message.get("articles") or [])


def _speaker(message: dict[str, Any]) -> str:
    role = ROLE_LABELS.get(message.get("role") or "", str(message.get("role") or "?"))
    kind = message.get("type")
    return f"{role} ({kind})" if kind and message.get("role") == "bot" else role


def ticket_text(packet: dict[str, Any], event: str) -> str:
    """The plain-text email body: headline, facts, note, suggested articles, then the whole transcript."""
    lines = [_headline(packet, event)]
    if packet.get("admin_url"):
        lines.append(f"Open it: {packet['admin_url']}")
    lines.append("")
    lines += [f"{label + ':':<12} {value}" for label, value in summary_rows(packet)]
    if packet.get("note"):
        lines += ["", "Note from the customer:", *("  " + line for line in str(packet["note"]).splitlines())]
    articles = packet.get("articles_suggested") or []
    lines += ["", f"Articles the bot suggested ({len(articles)}):"]
    for article in articles:
        lines.append(f"  - {_article_line(article)}")
        if article.get("url"):
            lines.append(f"    {article['url']}")
    transcript = packet.get("transcript") or []
    lines += ["", f"Transcript ({len(transcript)} messages):"]
    for message in transcript:
        text_lines = str(message.get("text") or "").splitlines() or [""]
        lines.append(f"  [{format_time(message.get('ts'))}] {_speaker(message)}: {text_lines[0]}")
        lines += [f"      {line}" for line in text_lines[1:]]
        if message.get("page_url") and message.get("role") == "user":
            lines.append(f"      on {message['page_url']}")
        if message.get("articles"):
            lines.append(f"      articles: {_sources(message)}")
    lines += ["", "Reply to this email to answer the customer. The packet is attached as JSON."]
    return "\n".join(lines) + "\n"


def ticket_html(packet: dict[str, Any], event: str) -> str:
    """The HTML email body, with the same content as ``ticket_text``; every value is escaped."""
    e = escape
    parts = [f"<p><strong>{e(_headline(packet, event))}</strong></p>"]
    if packet.get("admin_url"):
        parts.append(f'<p><a href="{e(str(packet["admin_url"]))}">Open the ticket</a></p>')
    rows = "".join(f"<tr><th align=\"left\">{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in summary_rows(packet))
    parts.append(f"<table>{rows}</table>")
    if packet.get("note"):
        parts.append(f"<h3>Note from the customer</h3><p style=\"white-space:pre-wrap\">{e(str(packet['note']))}</p>")
    items = "".join(
        f"<li>{e(_article_line(a))}" + (f' <a href="{e(str(a["url"]))}">{e(str(a["url"]))}</a>' if a.get("url") else "")
        + "</li>"
        for a in packet.get("articles_suggested") or []
    )
    parts.append(f"<h3>Articles the bot suggested</h3><ul>{items}</ul>")
    turns = []
    for message in packet.get("transcript") or []:
        extra = f"<br><small>articles: {e(_sources(message))}</small>" if message.get("articles") else ""
        turns.append(
            f"<tr><td valign=\"top\"><small>{e(format_time(message.get('ts')))}</small></td>"
            f"<td valign=\"top\"><strong>{e(_speaker(message))}</strong></td>"
            f"<td style=\"white-space:pre-wrap\">{e(str(message.get('text') or ''))}{extra}</td></tr>"
        )
    parts.append(f"<h3>Transcript</h3><table>{''.join(turns)}</table>")
    return "<!doctype html><html><body>" + "".join(parts) + "</body></html>\n"

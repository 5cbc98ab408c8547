"""The ticket as an agent reads it: the whole plain-text body, and HTML that escapes what customers typed."""

from __future__ import annotations

import pytest

from bot.ticket_text import format_time, ticket_html, ticket_text
from tests.receivers import make_packet

EXPECTED_TEXT = """\
New handoff ticket T-8F3K2Q: a customer needs a person.
Open it: http://host/admin/tickets/T-8F3K2Q

Reason:      the bot was not confident it could answer (low_confidence)
Customer:    Ada Lovelace <ada@example.com>, visitor (email not verified)
Page:        https://help.example.com/articles/download-your-certificate
Confidence:  0.31
Created:     2026-11-24 05:40:00 UTC
Status:      open

Note from the customer:
  I finished the course yesterday.
  Please hurry, it's for a job application.

Articles the bot suggested (2):
  - Download your certificate (download-your-certificate), score 0.41, customer: not helpful
    http://host/articles/download-your-certificate
  - When a course counts as complete (course-completion), score 0.33, customer: no vote
    http://host/articles/course-completion

Transcript (3 messages):
  [2026-11-24 05:39:12 UTC] Customer: My certificate <b>never</b> arrived
      on https://help.example.com/articles/download-your-certificate
  [2026-11-24 05:39:13 UTC] Bot (handoff): I'm not sure. These might help:
      articles: download-your-certificate (0.41), course-completion (0.33)
  [2026-11-24 05:40:00 UTC] System: Ticket T-8F3K2Q created

Reply to this email to answer the customer. The packet is attached as JSON.
"""


def test_plain_text_has_the_summary_and_the_whole_transcript() -> None:
    assert ticket_text(make_packet(), "ticket.created") == EXPECTED_TEXT


def test_an_update_says_so_and_a_verified_customer_is_marked() -> None:
    packet = make_packet(customer={"email": "ada@example.com", "name": "", "user_id": "42", "verified": True})
    text = ticket_text(packet, "ticket.updated")
    assert text.splitlines()[0] == "Ticket T-8F3K2Q was updated: the conversation went on."
    assert "Customer:    ada@example.com, verified (signed in)\n" in text


def test_a_sparse_packet_still_renders() -> None:
    text = ticket_text({"reference": "T-1", "transcript": [{"role": "user", "text": ""}]}, "ticket.created")
    assert "Confidence:  -" in text and "Transcript (1 messages):" in text


@pytest.mark.parametrize(
    "typed",
    ['<script>alert("x")</script>', "<img src=x onerror=alert(1)>", "Tom & Jerry's \"quote\""],
)
def test_html_escapes_everything_the_customer_typed(typed: str) -> None:
    packet = make_packet(
        subject=typed, note=typed, page_url=typed,
        customer={"email": "ada@example.com", "name": typed, "user_id": None, "verified": False},
        transcript=[{"role": "user", "text": typed, "ts": "2026-11-24T05:39:12+00:00", "page_url": typed}],
    )
    html = ticket_html(packet, "ticket.created")
    assert typed not in html
    assert "<script" not in html and "<img" not in html
    assert html.count("&lt;") >= (4 if "<" in typed else 0)


@pytest.mark.parametrize(
    ("value", "shown"),
    [("2026-11-24T05:40:00.123+00:00", "2026-11-24 05:40:00 UTC"), ("2026-11-24T06:40:00+01:00", "2026-11-24 05:40:00 UTC"),
     ("yesterday", "yesterday"), (None, "")],
)
def test_format_time(value: object, shown: str) -> None:
    assert format_time(value) == shown

"""The chat over HTTP: the JSON API, the /chat page without JavaScript, and delivery of handed-off tickets."""

import json
import time

import pytest
from fastapi.testclient import TestClient

from tests.conftest import FakeEmbedder, web_settings
from tests.receivers import SmtpInbox, WebhookReceiver


def ask(client, message, session_id=None, page_url=None):
    response = client.post("/api/chat", json={"message": message, "session_id": session_id, "page_url": page_url})
    assert response.status_code == 200, response.text
    return response.json()


def test_an_answer_has_the_documented_shape(client):
    reply = ask(client, "I forgot my password")
    assert set(reply) == {"session_id", "type", "text", "articles", "confidence", "handoff", "suggestions"}
    assert reply["type"] == "answer" and reply["handoff"] is None
    top = reply["articles"][0]
    assert set(top) == {"slug", "title", "url", "section", "anchor", "snippet", "score"}
    assert (top["slug"], top["url"]) == ("reset-password", "/articles/reset-password")
    assert 0 <= reply["confidence"] <= 1


def test_transcript_feedback_and_handoff(client):
    first = ask(client, "I forgot my password", page_url="https://app.example/login")
    sid = first["session_id"]
    assert client.post(f"/api/chat/{sid}/feedback", json={"helpful": False}).json()["reply"]["type"] == "clarify"
    ask(client, "my password does not work", sid)
    second = client.post(f"/api/chat/{sid}/feedback", json={"helpful": False}).json()
    assert second["reply"]["type"] == "handoff" and second["reply"]["handoff"]["reason"] == "negative_feedback"
    ticket = client.post(f"/api/chat/{sid}/handoff", json={"email": "ada@example.com", "name": "Ada"}).json()
    assert ticket["reference"].startswith("T-") and ticket["status"] == "open"
    assert "won't need to repeat yourself" in ticket["text"]
    transcript = client.get(f"/api/chat/{sid}").json()
    assert transcript["ticket"] == {"reference": ticket["reference"], "status": "open"}
    assert [m["role"] for m in transcript["messages"]] == ["user", "bot", "bot", "user", "bot", "bot", "system"]
    assert transcript["messages"][0]["page_url"] == "https://app.example/login"
    assert transcript["messages"][1]["feedback"] == "down"


@pytest.mark.parametrize(("body", "status", "detail"), [
    ({"message": ""}, 422, "empty"),
    ({"message": "x" * 1001}, 422, "1001 characters"),
    ({"message": "hello", "session_id": "no-such-session"}, 404, "no conversation"),
    ({}, 422, "message"),
])
def test_bad_chat_requests_are_clear_4xx(client, body, status, detail):
    response = client.post("/api/chat", json=body)
    assert response.status_code == status
    assert detail in response.json()["detail"]


def test_bad_handoffs(client):
    sid = ask(client, "talk to a human")["session_id"]
    bad = client.post(f"/api/chat/{sid}/handoff", json={"email": "not-an-email"})
    assert bad.status_code == 422 and "email" in bad.json()["detail"]
    assert client.post("/api/chat/nope/handoff", json={"email": "a@example.com"}).status_code == 404
    assert client.post("/api/chat/nope/feedback", json={"helpful": True}).status_code == 404
    assert client.get("/api/chat/nope").status_code == 404
    no_answer = client.post(f"/api/chat/{sid}/feedback", json={"helpful": True})
    assert no_answer.status_code == 422 and "no answer to rate" in no_answer.json()["detail"]


def test_the_chat_page_works_without_javascript(client):
    page = client.get("/chat")
    assert page.status_code == 200 and 'role="log"' in page.text and 'action="/chat"' in page.text
    sent = client.post("/chat", data={"message": "I forgot my password"})
    assert sent.status_code == 200  # followed the 303 back to /chat
    assert "Reset your password" in sent.text and 'href="/articles/reset-password' in sent.text
    assert "Did this help?" in sent.text
    handed = client.post("/chat/handoff", data={"email": "bo@example.com", "name": "Bo"})
    assert "is with our support team" in handed.text and "T-" in handed.text


def test_what_a_customer_typed_is_escaped_on_the_page(client):
    page = client.post("/chat", data={"message": "<script>alert('x')</script> refund"})
    assert "<script>alert" not in page.text and "&lt;script&gt;alert" in page.text


def test_a_bad_email_on_the_page_is_a_clear_message(client):
    client.post("/chat", data={"message": "talk to a person"})
    page = client.post("/chat/handoff", data={"email": "nope"})
    assert "Please enter a valid email address." in page.text


def test_the_api_is_documented(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/chat", "/api/chat/{session_id}", "/api/chat/{session_id}/feedback",
            "/api/chat/{session_id}/handoff"} <= set(paths)


def wait_for(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_handoff_reaches_the_team_by_email_and_webhook_even_when_the_receiver_was_down(articles_dir, data_dir):
    secret = "whsec_" + __import__("base64").b64encode(b"0123456789abcdef0123456789abcdef").decode()
    with SmtpInbox() as inbox, WebhookReceiver(responses=[503]) as hook:
        settings = web_settings(articles_dir, data_dir, smtp_host="127.0.0.1", smtp_port=inbox.port,
                                webhook_url=hook.url, webhook_secret=secret, outbox_backoff_seconds=0.2,
                                outbox_backoff_max_seconds=0.5, outbox_poll_seconds=0.1)
        with TestClient(create_app_for(settings)) as client:
            started = time.monotonic()
            reply = ask(client, "what's the weather in Paris", page_url="https://app.example/billing")
            ticket = client.post(f"/api/chat/{reply['session_id']}/handoff",
                                 json={"email": "cy@example.com", "name": "Cy"}).json()
            assert time.monotonic() - started < 2  # the chat never waits on delivery
            assert wait_for(lambda: inbox.messages and len(hook.requests) >= 2)
        email = inbox.messages[0]
        assert ticket["reference"] in email["Subject"] and "cy@example.com" in email["Reply-To"]
        assert "what's the weather in Paris" in email.get_body(("plain",)).get_content()
        assert [h.get("webhook-signature", "")[:3] for h, _ in hook.requests[:2]] == ["v1,", "v1,"]
        delivered = json.loads(hook.requests[-1][1])
        assert delivered["reference"] == ticket["reference"] and delivered["transcript"][0]["text"].startswith("what")


def create_app_for(settings):
    from web.app import create_app

    return create_app(settings, embedder=FakeEmbedder())


def test_a_handoff_only_suggests_articles_that_are_similar_enough(client):
    reply = ask(client, "what's the weather in Paris")
    assert reply["type"] == "handoff"
    assert all(a["score"] >= 0.45 for a in reply["articles"])  # web_settings' search_min_score
    assert ("closest ones" in reply["text"]) == bool(reply["articles"])

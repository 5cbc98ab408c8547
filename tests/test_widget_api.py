"""The widget over HTTP: the loader, the panel's CSP, origin checks, CORS, sessions, identity and rate limits."""

import time
from contextlib import contextmanager

import jwt
import pytest
from fastapi.testclient import TestClient

from bot.handoff import get_ticket, packet
from kb.settings import SettingsError, load_settings
from kb.storage import open_db
from tests.conftest import FakeEmbedder, web_settings
from tests.webpage import parse
from web.app import create_app

SHOP = "https://shop.example"
SECRET = "a-widget-identity-secret-of-32-chars-or-more"
SELF = "http://testserver"  # the TestClient's own origin: the panel calling its API
ALLOWED = f"{SHOP}, *.acme.test"


@contextmanager
def widget_app(articles_dir, data_dir, **overrides):
    options = {"widget_allowed_origins": ALLOWED, "widget_identity_secret": SECRET, **overrides}
    with TestClient(create_app(web_settings(articles_dir, data_dir, **options), embedder=FakeEmbedder())) as client:
        yield client


@pytest.fixture
def app(articles_dir, data_dir):
    with widget_app(articles_dir, data_dir) as client:
        yield client


def start(client, origin=SHOP, **body):
    response = client.post("/api/widget/session", json=body, headers={"Origin": origin})
    assert response.status_code == 200, response.text
    return response.json()


def auth(token, origin=SELF):
    return {"Authorization": f"Bearer {token}", "Origin": origin}


def ask(client, token, message, page_url=f"{SHOP}/billing"):
    response = client.post("/api/widget/messages", json={"message": message, "page_url": page_url},
                           headers=auth(token))
    assert response.status_code == 200, response.text
    return response.json()


# -- the loader and the panel ------------------------------------------------------------------------


def test_the_loader_is_small_gzipped_cacheable_and_sets_no_cookie(app):
    response = app.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) <= 5 * 1024
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "set-cookie" not in response.headers
    assert b"KBWidget" in response.content
    again = app.get("/widget.js", headers={"If-None-Match": response.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")
    plain = app.get("/widget.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == response.content  # httpx unzipped it


def test_the_panel_may_be_framed_by_the_allowed_origins_only(app):
    response = app.get("/widget/frame", params={"host": SHOP, "theme": "dark", "lang": "fr-CA"})
    assert response.status_code == 200
    csp = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    assert csp["frame-ancestors"] == "'self' https://shop.example https://*.acme.test"
    assert (csp["script-src"], csp["connect-src"], csp["default-src"]) == ("'self'", "'self'", "'self'")
    assert "set-cookie" not in response.headers
    page = parse(response.text)
    html = page.find("html")
    assert (html.attrs["lang"], html.attrs["data-theme"]) == ("fr-CA", "dark")
    panel = page.find(role="dialog")
    assert (panel.attrs["aria-labelledby"], panel.attrs["data-host"]) == ("kbw-title", SHOP)
    assert page.find(id="kbw-title").text == "Lumio Help Center"
    assert page.find(role="log").attrs["aria-live"] == "polite"
    assert page.find("label", for_="kbw-input").text == "Ask a question"
    assert page.find("button", cls="person").text == "Talk to a person"


@pytest.mark.parametrize("host", ["https://eu.acme.test", "https://shop.example:443", SELF])
def test_the_panel_serves_every_allowed_page_and_the_help_center_itself(app, host):
    assert app.get("/widget/frame", params={"host": host}).status_code == 200


@pytest.mark.parametrize("params", [{"host": "https://evil.example"}, {"host": "https://acme.test"}, {"host": "null"}, {}])
def test_the_panel_refuses_pages_that_are_not_allowed(app, params):
    response = app.get("/widget/frame", params=params)
    assert response.status_code == 403
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]


def test_in_development_every_origin_may_embed_the_widget(articles_dir, data_dir):
    with widget_app(articles_dir, data_dir, env="dev", widget_allowed_origins="") as client:
        response = client.get("/widget/frame", params={"host": "http://localhost:3000"})
        assert response.status_code == 200
        assert response.headers["content-security-policy"].endswith("frame-ancestors *")
        session = client.post("/api/widget/session", json={}, headers={"Origin": "http://localhost:3000"})
        assert session.headers["access-control-allow-origin"] == "http://localhost:3000"


# -- origins and CORS ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("headers", "status"), [
    ({"Origin": SHOP}, 200),
    ({"Origin": "https://eu.acme.test"}, 200),
    ({"Referer": f"{SHOP}/billing?tab=2"}, 200),  # no Origin: its Referer is checked instead
    ({"Origin": SELF}, 200),
    ({"Origin": "https://evil.example"}, 403),
    ({"Origin": "https://evil.example", "Referer": f"{SHOP}/"}, 403),  # Origin wins
    ({"Origin": "null"}, 403),
    ({}, 403),
])
def test_the_widget_api_checks_the_calling_page(app, headers, status):
    response = app.post("/api/widget/session", json={}, headers=headers)
    assert response.status_code == status
    if status == 403:
        assert "add it to KB_WIDGET_ALLOWED_ORIGINS" in response.json()["detail"]


def test_cors_is_granted_to_allowed_origins_on_the_widget_api_only(app):
    preflight = app.options("/api/widget/session", headers={
        "Origin": SHOP, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 204
    assert {k: v for k, v in preflight.headers.items() if k.startswith("access-control")} == {
        "access-control-allow-origin": SHOP, "access-control-allow-methods": "GET, POST",
        "access-control-allow-headers": "Authorization, Content-Type", "access-control-max-age": "600"}
    assert "access-control-allow-credentials" not in preflight.headers

    refused = app.options("/api/widget/session", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers

    session = app.post("/api/widget/session", json={}, headers={"Origin": SHOP})
    assert session.headers["access-control-allow-origin"] == SHOP
    assert session.headers["access-control-expose-headers"] == "Retry-After"
    assert "Origin" in session.headers["vary"]
    # The rest of the site shares nothing cross-origin, even with allowed origins.
    assert "access-control-allow-origin" not in app.get("/api/search?q=refund", headers={"Origin": SHOP}).headers


# -- a conversation ----------------------------------------------------------------------------------


def test_a_visitor_asks_votes_downloads_and_hands_off(app, data_dir):
    session = start(app, page_url=f"{SHOP}/settings")
    assert (session["created"], session["user"]) == (True, None)
    token = session["token"]

    answer = ask(app, token, "I forgot my password", page_url=f"{SHOP}/settings/password")
    assert answer["type"] == "answer" and answer["articles"][0]["slug"] == "reset-password"
    assert set(answer) == {"message_id", "type", "text", "articles", "confidence", "handoff", "suggestions"}

    vote = app.post("/api/widget/feedback", json={"helpful": True, "message_id": answer["message_id"]},
                    headers=auth(token))
    assert vote.json() == {"recorded": True, "reply": None}
    ask(app, token, "how do refunds work", page_url=f"{SHOP}/billing")
    # A vote on the earlier answer rates that answer, not the latest one.
    transcript = app.get("/api/widget/transcript", headers=auth(token)).json()
    assert [(m["role"], m["page_url"], m["feedback"]) for m in transcript["messages"]] == [
        ("user", f"{SHOP}/settings/password", None), ("bot", f"{SHOP}/settings/password", "up"),
        ("user", f"{SHOP}/billing", None), ("bot", f"{SHOP}/billing", None)]

    download = app.get("/api/widget/transcript.txt", headers=auth(token))
    assert download.headers["content-disposition"] == 'attachment; filename="conversation.txt"'
    assert download.text.startswith("Your conversation with Lumio Help Center\n")
    assert "  I forgot my password\n" in download.text
    assert "  - Reset your password: https://help.example/articles/reset-password" in download.text

    handed = app.post("/api/widget/handoff", json={"email": "visitor@example.com", "note": "Still stuck"},
                      headers=auth(token))
    assert handed.status_code == 200
    ticket = handed.json()
    assert (ticket["status"], ticket["verified"]) == ("open", False)
    db = open_db(data_dir / "kb.db")
    sent = packet(db, get_ticket(db, ticket["reference"]))
    assert sent["customer"] == {"email": "visitor@example.com", "name": "", "user_id": None, "verified": False}
    assert [m["page_url"] for m in sent["transcript"] if m["role"] == "user"] == [
        f"{SHOP}/settings/password", f"{SHOP}/billing"]
    assert app.get("/api/widget/transcript", headers=auth(token)).json()["ticket"] == {
        "reference": ticket["reference"], "status": "open"}


def test_a_vote_names_an_answer_of_its_own_conversation(app):
    mine, other = start(app)["token"], start(app)["token"]
    answer = ask(app, other, "I forgot my password")
    response = app.post("/api/widget/feedback", json={"helpful": False, "message_id": answer["message_id"]},
                        headers=auth(mine))
    assert (response.status_code, response.json()["detail"]) == (
        422, f"message {answer['message_id']} is not an answer in this conversation")


def test_a_token_resumes_the_conversation_after_a_page_load(app):
    token = start(app)["token"]
    ask(app, token, "I forgot my password")
    again = start(app, token=token, page_url=f"{SHOP}/other-page")
    assert (again["token"], again["created"]) == (token, False)
    assert len(app.get("/api/widget/transcript", headers=auth(token)).json()["messages"]) == 2


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}])
def test_without_a_valid_token_the_api_answers_401(app, headers):
    response = app.get("/api/widget/transcript", headers={"Origin": SELF, **headers})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "start a new session" in response.json()["detail"]


def test_suggested_articles_by_slug_or_the_most_read(app):
    response = app.get("/api/widget/articles", params=[("slug", "refunds"), ("slug", "nope"), ("slug", "plans")],
                       headers={"Referer": f"{SELF}/widget/frame"})
    assert response.json() == [
        {"slug": "refunds", "title": "Request a refund", "url": "/articles/refunds",
         "description": "Refunds are possible within 14 days of a charge."},
        {"slug": "plans", "title": "Plans and pricing", "url": "/articles/plans",
         "description": "Free, Plus monthly and Plus annual compared."}]
    app.get("/articles/change-email")  # one view makes it the most read
    popular = app.get("/api/widget/articles", headers={"Referer": f"{SELF}/widget/frame"}).json()
    assert [a["slug"] for a in popular][0] == "change-email" and len(popular) == 3


# -- identity ------------------------------------------------------------------------------------------


def signed(sub="u_42", hours=1.0, secret=SECRET, **claims):
    return jwt.encode({"sub": sub, "exp": int(time.time() + hours * 3600), **claims}, secret, algorithm="HS256")


def test_a_signed_user_is_verified_on_the_ticket(app, data_dir):
    user = {"id": "u_42", "email": "ann@example.com", "name": "Ann", "jwt": signed(email="ann@example.com")}
    session = start(app, user=user)
    assert session["user"] == {"id": "u_42", "email": "ann@example.com", "name": "Ann", "verified": True}
    token = session["token"]
    ask(app, token, "I forgot my password")
    assert app.get("/api/widget/transcript", headers=auth(token)).json()["user"]["verified"] is True
    ticket = app.post("/api/widget/handoff", json={"email": "ann@example.com"}, headers=auth(token)).json()
    assert ticket["verified"] is True
    db = open_db(data_dir / "kb.db")
    assert packet(db, get_ticket(db, ticket["reference"]))["customer"] == {
        "email": "ann@example.com", "name": "", "user_id": "u_42", "verified": True}


def test_an_hmac_signed_user_is_verified_and_an_unsigned_one_is_a_visitor(app):
    import hashlib
    import hmac

    digest = hmac.new(SECRET.encode(), b"u_7", hashlib.sha256).hexdigest()
    assert start(app, user={"id": "u_7", "hash": digest})["user"]["verified"] is True
    assert start(app, user={"id": "u_7", "email": "x@example.com"})["user"] == {
        "id": "u_7", "email": "x@example.com", "name": "", "verified": False}


@pytest.mark.parametrize(("user", "detail"), [
    ({"id": "u_42", "jwt": signed(secret="not-the-help-centers-secret-but-long")}, "not signed with"),
    ({"jwt": signed(hours=-1)}, "has expired"),
    ({"jwt": signed(hours=24)}, "more than 12 hours"),
    ({"id": "u_42", "hash": "00" * 32}, "is not the HMAC-SHA256"),
])
def test_a_bad_signature_is_refused(app, user, detail):
    response = app.post("/api/widget/session", json={"user": user}, headers={"Origin": SHOP})
    assert response.status_code == 403 and detail in response.json()["detail"]


def test_signing_in_on_a_shared_browser_starts_the_new_users_own_conversation(app):
    ann = start(app, user={"id": "u_1", "jwt": signed(sub="u_1")})
    ask(app, ann["token"], "I forgot my password")
    bob = start(app, token=ann["token"], user={"id": "u_2", "jwt": signed(sub="u_2")})
    assert bob["created"] and bob["token"] != ann["token"]
    assert app.get("/api/widget/transcript", headers=auth(bob["token"])).json()["messages"] == []


def test_only_verified_users_when_required(articles_dir, data_dir):
    with widget_app(articles_dir, data_dir, widget_require_verified=True) as client:
        refused = client.post("/api/widget/session", json={"user": {"id": "u_1"}}, headers={"Origin": SHOP})
        assert refused.status_code == 403 and "only chats with verified users" in refused.json()["detail"]
        assert start(client, user={"jwt": signed()})["user"]["verified"] is True


def test_a_short_identity_secret_fails_at_startup():
    with pytest.raises(SettingsError, match="KB_WIDGET_IDENTITY_SECRET: Value error, use at least 32 characters"):
        load_settings(_env_file=None, widget_identity_secret="short")
    with pytest.raises(SettingsError, match="KB_WIDGET_ALLOWED_ORIGINS: Value error, 'shop.example/app'"):
        load_settings(_env_file=None, widget_allowed_origins="https://ok.example, shop.example/app")


# -- rate limits -----------------------------------------------------------------------------------------


def assert_429(response, at_most):
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= at_most
    assert response.json()["detail"].startswith("too many requests")


def test_new_sessions_are_limited_per_ip_and_resumes_per_conversation(articles_dir, data_dir):
    with widget_app(articles_dir, data_dir, widget_sessions_per_ip="2/hour",
                    widget_sessions_per_conversation="2/minute") as client:
        token = start(client)["token"]
        start(client)
        refused = client.post("/api/widget/session", json={}, headers={"Origin": SHOP})
        assert_429(refused, 3600)
        # The browser can read the 429 and its Retry-After: CORS covers error answers too.
        assert refused.headers["access-control-allow-origin"] == SHOP
        start(client, token=token)  # resuming is counted per conversation, not as a new session
        start(client, token=token)
        assert_429(client.post("/api/widget/session", json={"token": token}, headers={"Origin": SHOP}), 60)


def test_messages_and_votes_are_limited_per_conversation_and_per_ip(articles_dir, data_dir):
    with widget_app(articles_dir, data_dir, widget_messages_per_conversation="2/minute",
                    widget_messages_per_ip="3/minute") as client:
        first, second = start(client)["token"], start(client)["token"]
        answer = ask(client, first, "I forgot my password")
        client.post("/api/widget/feedback", json={"helpful": True, "message_id": answer["message_id"]},
                    headers=auth(first))
        assert_429(client.post("/api/widget/messages", json={"message": "hello"}, headers=auth(first)), 60)
        ask(client, second, "hello")  # another conversation, the IP's third message
        assert_429(client.post("/api/widget/messages", json={"message": "hi"}, headers=auth(second)), 60)


def test_handoffs_are_limited_per_conversation(articles_dir, data_dir):
    with widget_app(articles_dir, data_dir, widget_handoffs_per_conversation="1/hour") as client:
        token = start(client)["token"]
        body = {"email": "a@example.com"}
        assert client.post("/api/widget/handoff", json=body, headers=auth(token)).status_code == 200
        assert_429(client.post("/api/widget/handoff", json=body, headers=auth(token)), 3600)

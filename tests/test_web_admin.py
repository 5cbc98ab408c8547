"""The admin side over HTTP: staff sign-in, CSRF, rate limits, roles, the agent inbox and analytics.

Gap pages are in test_web_admin_gaps.py. Every client here talks https (the fixture settings' base URL
is https, so the session cookie is Secure and a plain-http client would never send it back).
"""

from __future__ import annotations

import json
import re
import stat

import pytest
from fastapi.testclient import TestClient

from bot.outbox import enqueue
from kb.accounts import create_staff
from tests.conftest import FakeEmbedder, web_settings
from web.app import create_app

PASSWORD = "correct horse battery"
STAFF = {"wendy": "writer", "arthur": "agent", "ada": "admin"}
SECRET_EMAIL = "cy.secret@example.com"
SECRET_QUESTION = "what's the weather in Paris"


def make_client(articles_dir, data_dir, **overrides) -> TestClient:
    settings = web_settings(articles_dir, data_dir, gap_cluster_interval=0, **overrides)
    return TestClient(create_app(settings, embedder=FakeEmbedder()), base_url="https://testserver")


@pytest.fixture
def admin(articles_dir, data_dir):
    """The site with a writer, an agent and an admin account."""
    with make_client(articles_dir, data_dir) as client:
        db = client.app.state.services.db()
        for name, role in STAFF.items():
            create_staff(db, name, PASSWORD, role)
        yield client


def token(page_text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_text)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD, next_url: str = "/admin"):
    form = client.get("/admin/login")
    return client.post("/admin/login", data={"username": username, "password": password, "csrf_token": token(form.text),
                                             "next": next_url}, follow_redirects=False)


def signed_in(client: TestClient, username: str) -> TestClient:
    assert sign_in(client, username).status_code == 303
    return client


def handoff(client: TestClient, message: str = SECRET_QUESTION, email: str = SECRET_EMAIL, name: str = "Cy") -> str:
    reply = client.post("/api/chat", json={"message": message, "page_url": "https://app.example/billing"}).json()
    ticket = client.post(f"/api/chat/{reply['session_id']}/handoff", json={"email": email, "name": name}).json()
    return ticket["reference"]


# -- staff access ----------------------------------------------------------------------------------


def admin_paths(reference: str) -> list[str]:
    return ["/admin", "/admin/tickets", f"/admin/tickets/{reference}", f"/admin/tickets/{reference}.json",
            "/admin/gaps", "/admin/gaps/1", "/admin/gaps.csv", "/admin/gaps.json", "/admin/analytics",
            "/admin/tickets?status=open&q=cy"]


def test_every_admin_page_sends_anonymous_visitors_to_sign_in(admin):
    reference = handoff(admin)
    for path in admin_paths(reference):
        response = admin.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/admin/login?next=%2Fadmin"), path
        assert SECRET_EMAIL not in response.text and "weather" not in response.text
        page = admin.get(path)
        assert page.url.path == "/admin/login" and "Staff sign-in" in page.text
        assert SECRET_EMAIL not in page.text and "weather" not in page.text


def test_anonymous_posts_change_nothing(admin):
    reference = handoff(admin)
    for path, data in [(f"/admin/tickets/{reference}/status", {"status": "closed"}), ("/admin/gaps/cluster", {}),
                       ("/admin/gaps/1/dismiss", {"reason": "spam"}), ("/admin/logout", {})]:
        response = admin.post(path, data=data, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/admin/login"), path
    status = admin.app.state.services.db().execute("select status from tickets").fetchone()[0]
    assert status == "open"


def test_sign_in_sets_a_secure_session_cookie_and_sign_out_ends_it(admin):
    response = sign_in(admin, "ada", next_url="/admin/analytics?period=7")
    assert response.status_code == 303 and response.headers["location"] == "/admin/analytics?period=7"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("kb_admin=")
    for attribute in ("HttpOnly", "SameSite=lax", "Secure", "Path=/admin", "Max-Age=43200"):
        assert attribute.lower() in cookie.lower(), attribute
    overview = admin.get("/admin")
    assert overview.status_code == 200 and "Signed in as ada (admin)" in overview.text
    assert overview.headers["cache-control"] == "no-store" and "noindex" in overview.headers["x-robots-tag"]
    assert '<meta name="robots" content="noindex, nofollow">' in overview.text
    out = admin.post("/admin/logout", data={"csrf_token": token(overview.text)}, follow_redirects=False)
    assert out.status_code == 303 and 'kb_admin=""' in out.headers["set-cookie"]
    assert "You are signed out." in admin.get(out.headers["location"]).text
    assert admin.get("/admin", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example", "/articles/x", "/admin\\@evil"])
def test_sign_in_never_redirects_off_the_admin(admin, next_url):
    assert sign_in(admin, "ada", next_url=next_url).headers["location"] == "/admin"


@pytest.mark.parametrize(("username", "password"), [("ada", "wrong password!!"), ("nobody", PASSWORD), ("ada", "")])
def test_sign_in_with_a_wrong_password_fails(admin, username, password):
    response = sign_in(admin, username, password)
    assert response.status_code == 401
    assert "don&#39;t match a staff account" in response.text
    assert "kb_admin" not in response.headers.get("set-cookie", "")
    assert admin.get("/admin", follow_redirects=False).status_code == 303


def test_a_tampered_or_expired_cookie_is_no_session(admin):
    signed_in(admin, "ada")
    value = admin.cookies.get("kb_admin")
    admin.cookies.clear()
    assert admin.get("/admin", headers={"cookie": f"kb_admin={value}"}).status_code == 200
    payload, _, signature = value.rpartition(".")
    for forged in (value[:-3] + "abc", "kb_admin=" + value, payload + ".x", "garbage"):
        response = admin.get("/admin", headers={"cookie": f"kb_admin={forged}"}, follow_redirects=False)
        assert response.status_code == 303, forged
    admin.app.state.auth.max_age = -1  # older than the session lifetime
    assert admin.get("/admin", headers={"cookie": f"kb_admin={value}"}, follow_redirects=False).status_code == 303


def test_the_cookie_is_not_secure_on_a_plain_http_site(articles_dir, data_dir):
    with TestClient(create_app(web_settings(articles_dir, data_dir, base_url="", gap_cluster_interval=0),
                               embedder=FakeEmbedder())) as client:
        create_staff(client.app.state.services.db(), "ada", PASSWORD, "admin")
        cookie = sign_in(client, "ada").headers["set-cookie"]
        assert "httponly" in cookie.lower() and "secure" not in cookie.lower()


def test_sign_in_is_rate_limited_with_retry_after(admin):
    for _ in range(5):
        assert sign_in(admin, "ada", "wrong password!!").status_code == 401
    limited = sign_in(admin, "ada")  # even the right password waits now
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert "Too many sign-in attempts" in limited.text and "kb_admin" not in limited.headers.get("set-cookie", "")


def from_address(client: TestClient, ip: str) -> TestClient:
    """Another browser on the same running app (no second lifespan), at another client address."""
    return TestClient(client.app, base_url="https://testserver", client=(ip, 50000))


def test_the_username_limit_holds_across_addresses(articles_dir, data_dir):
    with make_client(articles_dir, data_dir, signin_rate_limit="3/minute;50/hour") as client:
        for n in range(3):
            assert sign_in(from_address(client, f"10.0.0.{n}"), "ada", "wrong password!!").status_code == 401
        fresh = from_address(client, "10.0.0.9")
        assert sign_in(fresh, "ADA ", "wrong password!!").status_code == 429  # same username, any address or case
        assert sign_in(fresh, "bob", "wrong password!!").status_code == 401  # the address itself is not limited


def test_the_address_limit_holds_across_usernames(articles_dir, data_dir):
    with make_client(articles_dir, data_dir, signin_rate_limit="3/minute;50/hour") as client:
        for n in range(3):
            assert sign_in(client, f"user{n}", "wrong password!!").status_code == 401
        assert sign_in(client, "someone-else", "wrong password!!").status_code == 429
        assert sign_in(from_address(client, "10.0.0.9"), "someone-else", "wrong password!!").status_code == 401


@pytest.mark.parametrize("csrf", [None, "", "not-the-token"])
def test_a_form_without_the_right_csrf_token_is_refused_and_changes_nothing(admin, csrf):
    reference = handoff(admin)
    signed_in(admin, "arthur")
    data = {"status": "closed"} | ({} if csrf is None else {"csrf_token": csrf})
    response = admin.post(f"/admin/tickets/{reference}/status", data=data)
    assert response.status_code == 403 and "This form has expired" in response.text and "Nothing was changed" in response.text
    assert admin.app.state.services.db().execute("select status from tickets").fetchone()[0] == "open"


def test_the_sign_in_form_checks_its_csrf_token_too(admin):
    admin.get("/admin/login")
    response = admin.post("/admin/login", data={"username": "ada", "password": PASSWORD, "csrf_token": "forged"},
                          follow_redirects=False)
    assert response.status_code == 403 and "kb_admin" not in response.headers.get("set-cookie", "")


def test_a_csrf_token_from_another_session_is_refused(admin):
    signed_in(admin, "ada")
    old = token(admin.get("/admin").text)
    admin.cookies.clear()
    signed_in(admin, "ada")  # a new sign-in gets a new token
    assert admin.post("/admin/gaps/cluster", data={"csrf_token": old}).status_code == 403


@pytest.mark.parametrize(("username", "allowed", "refused"), [
    ("wendy", ["/admin/gaps", "/admin/analytics", "/admin/gaps.csv", "/admin/gaps.json"],
     ["/admin/tickets", "/admin/tickets/{ref}", "/admin/tickets/{ref}.json"]),
    ("arthur", ["/admin/tickets", "/admin/tickets/{ref}", "/admin/tickets/{ref}.json"],
     ["/admin/gaps", "/admin/analytics", "/admin/gaps.csv", "/admin/gaps.json"]),
    ("ada", ["/admin/tickets", "/admin/tickets/{ref}", "/admin/gaps", "/admin/analytics", "/admin/gaps.csv"], []),
])
def test_roles_see_only_their_areas(admin, username, allowed, refused):
    reference = handoff(admin)
    signed_in(admin, username)
    for path in allowed:
        assert admin.get(path.format(ref=reference)).status_code == 200, path
    for path in refused:
        response = admin.get(path.format(ref=reference))
        assert response.status_code == 403, path
        assert "Your account can&#39;t open this page" in response.text
        assert SECRET_EMAIL not in response.text and "weather" not in response.text
    overview = admin.get("/admin").text
    assert ('href="/admin/tickets' in overview) == (username != "wendy")
    assert ('href="/admin/gaps"' in overview) == (username != "arthur")
    assert ('href="/admin/analytics"' in overview) == (username != "arthur")


def test_a_removed_account_is_signed_out_at_once(admin):
    signed_in(admin, "ada")
    admin.app.state.services.db().execute("delete from staff where username = 'ada'")
    assert admin.get("/admin", follow_redirects=False).status_code == 303


def test_the_signing_key_is_generated_once_and_kept_private(articles_dir, data_dir):
    with make_client(articles_dir, data_dir) as client:
        create_staff(client.app.state.services.db(), "ada", PASSWORD, "admin")
        signed_in(client, "ada")
        cookie = client.cookies.get("kb_admin")
    key = data_dir / "secret_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_text().strip()) >= 32
    with make_client(articles_dir, data_dir) as restarted:  # a restart keeps everyone signed in
        assert restarted.get("/admin", headers={"cookie": f"kb_admin={cookie}"}).status_code == 200


def test_a_configured_secret_key_is_used_and_nothing_is_written(articles_dir, data_dir):
    with make_client(articles_dir, data_dir, secret_key="s" * 40) as client:
        create_staff(client.app.state.services.db(), "ada", PASSWORD, "admin")
        signed_in(client, "ada")
    assert not (data_dir / "secret_key").exists()


# -- the agent inbox -------------------------------------------------------------------------------


def test_the_inbox_lists_a_handed_off_ticket_and_its_page_shows_the_transcript(admin):
    reference = handoff(admin)
    signed_in(admin, "arthur")
    inbox = admin.get("/admin/tickets")
    assert inbox.status_code == 200
    assert f'href="/admin/tickets/{reference}"' in inbox.text and SECRET_QUESTION.replace("'", "&#39;") in inbox.text
    assert SECRET_EMAIL in inbox.text and "Low confidence" in inbox.text
    assert re.search(r'Open <span class="count">1</span>', inbox.text)
    assert re.search(r'Closed <span class="count">0</span>', inbox.text)
    page = admin.get(f"/admin/tickets/{reference}")
    assert page.status_code == 200
    for text in ("Customer", "Bot", "System", "https://app.example/billing", SECRET_EMAIL, "Handed off to the support team",
                 "The bot was not confident it could answer", "Update status", "Download the packet (JSON)",
                 "No email or webhook is configured"):
        assert text in page.text, text
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT', page.text)


def test_the_packet_downloads_as_json(admin):
    reference = handoff(admin)
    signed_in(admin, "arthur")
    response = admin.get(f"/admin/tickets/{reference}.json")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"] == f'attachment; filename="{reference}.json"'
    packet = response.json()
    assert (packet["reference"], packet["customer"]["email"], packet["subject"]) == (reference, SECRET_EMAIL, SECRET_QUESTION)
    assert [m["role"] for m in packet["transcript"]] == ["user", "bot", "system"]
    assert packet["admin_url"] == f"https://help.example/admin/tickets/{reference}"


def test_filters_and_search(admin):
    first = handoff(admin, "what's the weather in Paris", "ann@example.com", "Ann")
    second = handoff(admin, "can I pay with bitcoin", "bob@example.com", "Bob")
    signed_in(admin, "arthur")
    newest_first = admin.get("/admin/tickets").text
    assert newest_first.index(second) < newest_first.index(first)
    found = admin.get("/admin/tickets", params={"q": "bob@"}).text
    assert second in found and first not in found and "1 ticket matching" in found
    assert "No tickets match" in admin.get("/admin/tickets", params={"q": "nobody-here"}).text
    assert admin.get("/admin/tickets", params={"status": "nonsense"}).status_code == 422


def test_an_agent_changes_the_status(admin):
    reference = handoff(admin)
    signed_in(admin, "arthur")
    page = admin.get(f"/admin/tickets/{reference}")
    changed = admin.post(f"/admin/tickets/{reference}/status", data={"status": "pending", "csrf_token": token(page.text)})
    assert changed.status_code == 200 and "Status set to pending." in changed.text
    assert re.search(r'value="pending" checked', changed.text)
    assert reference in admin.get("/admin/tickets", params={"status": "pending"}).text
    assert reference not in admin.get("/admin/tickets", params={"status": "open"}).text
    bad = admin.post(f"/admin/tickets/{reference}/status", data={"status": "deleted", "csrf_token": token(page.text)})
    assert bad.status_code == 422


def test_failed_deliveries_show_and_can_be_retried(admin):
    reference = handoff(admin)
    db = admin.app.state.services.db()
    ticket_id = db.execute("select id from tickets").fetchone()[0]
    row = enqueue(db, "webhook", "ticket.created", ticket_id, {"reference": reference})
    db.execute("update outbox set status = 'failed', attempts = 16, last_error = 'HTTP 503 from the receiver' "
               "where id = ?", [row])
    signed_in(admin, "arthur")
    page = admin.get(f"/admin/tickets/{reference}")
    assert "HTTP 503 from the receiver" in page.text and "Retry 1 failed delivery" in page.text
    retried = admin.post(f"/admin/tickets/{reference}/retry", data={"csrf_token": token(page.text)})
    assert retried.status_code == 200 and "Failed deliveries are queued again." in retried.text
    assert db.execute("select status, attempts from outbox where id = ?", [row]).fetchone() == ("pending", 0)


def test_an_unknown_ticket_is_a_404(admin):
    signed_in(admin, "arthur")
    assert admin.get("/admin/tickets/T-NOPE22").status_code == 404
    assert admin.get("/admin/tickets/T-NOPE22.json").status_code == 404


def test_what_customers_typed_is_escaped(admin):
    reference = handoff(admin, "<script>alert('x')</script> weather", "eve@example.com", "<img src=x onerror=alert(1)>")
    signed_in(admin, "ada")
    for path in ("/admin/tickets", f"/admin/tickets/{reference}"):
        text = admin.get(path).text
        assert "<script>alert" not in text and "<img src=x" not in text, path
        assert "&lt;script&gt;alert" in text, path


# -- analytics -------------------------------------------------------------------------------------


def test_analytics_shows_dashes_on_an_empty_database(admin):
    signed_in(admin, "wendy")
    page = admin.get("/admin/analytics")
    assert page.status_code == 200
    tiles = re.findall(r'<span class="tile__value">(.*?)</span><span class="tile__help">', page.text)
    assert len(tiles) == 6 and tiles[0] == "0"
    assert all("no data" in tile for tile in tiles[1:]) and ">0%<" not in page.text


def test_analytics_counts_real_activity(admin):
    search = admin.get("/api/search", params={"q": "reset password"}).json()
    admin.get(search["results"][0]["click_url"])
    admin.get("/api/search", params={"q": "zebra migration patterns"})  # nothing confident
    admin.post("/api/chat", json={"message": "I forgot my password"})
    handoff(admin)
    admin.post("/api/feedback", json={"article_slug": "reset-password", "vote": "down", "reason": "inaccurate"})
    signed_in(admin, "wendy")
    page = admin.get("/admin/analytics", params={"period": "7"}).text
    tiles = re.findall(r'<span class="tile__value">(.*?)</span><span class="tile__help">', page)
    # 2 searches, 1 with nothing confident, 1 clicked; 2 chat questions, 1 answered; 2 conversations, 1 ticket.
    assert tiles == ["2", "50%", "50%", "50%", "50%", "50%"]
    assert "zebra migration patterns" in page and "It&#39;s inaccurate or out of date" in page
    assert admin.get("/admin/analytics", params={"period": "365"}).status_code == 422


def test_the_overview_shows_each_area_the_role_may_open(admin):
    handoff(admin)
    signed_in(admin, "ada")
    page = admin.get("/admin").text
    assert re.search(r"<strong>1</strong> open", page) and "Answer rate" in page and "open gap" in page


def test_the_packet_json_is_what_the_webhook_gets(admin):
    reference = handoff(admin)
    signed_in(admin, "ada")
    from bot.handoff import get_ticket, packet

    db = admin.app.state.services.db()
    expected = packet(db, get_ticket(db, reference), "https://help.example")
    assert admin.get(f"/admin/tickets/{reference}.json").json() == json.loads(json.dumps(expected))

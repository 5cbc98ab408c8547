"""The admin pages in real headless Chromium: axe-core scans in both themes, phone and desktop widths, and
signing in with the keyboard. Set KB_SCREENSHOT_DIR to keep screenshots (light and dark, each width)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[test]')")
axe_api = pytest.importorskip("axe_playwright_python.sync_playwright", reason="needs axe-playwright-python")

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A running site with staff accounts, a handed-off ticket, a gap and some analytics."""
    import uvicorn

    from kb.accounts import create_staff
    from tests.conftest import FIXTURES, FakeEmbedder, web_settings
    from web.app import create_app

    root = tmp_path_factory.mktemp("browser-admin")
    shutil.copytree(FIXTURES, root / "articles")
    app = create_app(web_settings(root / "articles", root / "data", base_url="", gap_cluster_interval=0),
                     embedder=FakeEmbedder())
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the test server did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    services = app.state.services
    db = services.db()
    create_staff(db, "ada", PASSWORD, "admin")
    create_staff(db, "wendy", PASSWORD, "writer")
    with httpx.Client(base_url=base) as client:
        for question in ["what's the weather in Paris", "weather in Paris tomorrow", "is the weather in Paris nice"]:
            reply = client.post("/api/chat", json={"message": question, "page_url": "https://app.example/home"}).json()
        client.post(f"/api/chat/{reply['session_id']}/handoff", json={"email": "cy@example.com", "name": "Cy Example"})
        client.post("/api/chat", json={"message": "I forgot my password"})
        client.get("/search", params={"q": "weather forecast"})
        client.get("/search", params={"q": "reset password"})
        client.post("/api/feedback", json={"article_slug": "refunds", "vote": "down", "reason": "need_more_info"})
    services.gap_worker.run(db)
    reference = db.execute("select reference from tickets").fetchone()[0]
    gap_id = db.execute("select id from gaps").fetchone()[0]
    yield {"base": base, "reference": reference, "gap": str(gap_id)}
    uv.should_exit = True
    thread.join(10)


def admin_pages(server: dict[str, str]) -> dict[str, str]:
    return {"overview": "/admin", "tickets": "/admin/tickets", "ticket": f"/admin/tickets/{server['reference']}",
            "gaps": "/admin/gaps", "gap": f"/admin/gaps/{server['gap']}", "analytics": "/admin/analytics"}


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def sign_in(page, username: str = "ada") -> None:
    page.goto("/admin/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin")


@pytest.fixture(scope="module")
def signed_in_state(browser, admin_server) -> dict:
    context = browser.new_context(base_url=admin_server["base"])
    page = context.new_page()
    sign_in(page)
    state = context.storage_state()
    context.close()
    return state


def test_sign_in_with_the_keyboard_and_sign_out(browser, admin_server):
    context = browser.new_context(base_url=admin_server["base"])
    page = context.new_page()
    page.goto("/admin/tickets")
    assert "/admin/login" in page.url
    page.get_by_label("Username").focus()
    page.keyboard.type("ada")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/tickets")
    focused_outline = page.evaluate(
        "() => { document.querySelector('.admin-tabs__link').focus(); "
        "return getComputedStyle(document.activeElement, ':focus-visible').outlineStyle; }")
    assert focused_outline != "none"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/admin/login?signed_out=1")
    assert "You are signed out." in page.content()
    context.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("name", ["login", "overview", "tickets", "ticket", "gaps", "gap", "analytics", "denied"])
def test_no_accessibility_violations(browser, admin_server, signed_in_state, name, theme):
    options = {"viewport": {"width": 1280, "height": 900}, "color_scheme": theme, "base_url": admin_server["base"]}
    context = browser.new_context(**options, **({} if name in ("login", "denied") else {"storage_state": signed_in_state}))
    page = context.new_page()
    if name == "login":
        page.goto("/admin/login")
    elif name == "denied":
        sign_in(page, "wendy")
        page.goto("/admin/tickets")
    else:
        page.goto(admin_pages(admin_server)[name])
    results = axe_api.Axe().run(page)
    context.close()
    violations = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in results.response["violations"]]
    assert violations == []


@pytest.mark.parametrize("width", [320, 390, 1280])
def test_admin_pages_fit_phone_and_desktop_widths(browser, admin_server, signed_in_state, width):
    """Wide tables scroll inside their own frame; the page itself never scrolls sideways."""
    keep = os.environ.get("KB_SCREENSHOT_DIR")
    for theme in ("light", "dark") if keep else ("light",):
        context = browser.new_context(viewport={"width": width, "height": 844}, color_scheme=theme,
                                      base_url=admin_server["base"], storage_state=signed_in_state)
        page = context.new_page()
        for name, url in admin_pages(admin_server).items():
            page.goto(url)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} is {overflow}px too wide at {width}px"
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=f"{keep}/admin-{name}-{width}-{theme}.png", full_page=True)
        context.close()


@pytest.mark.parametrize("name", ["tickets", "gaps", "analytics"])
def test_phone_layouts_have_no_accessibility_violations(browser, admin_server, signed_in_state, name):
    """At phone width the ticket and gap lists turn into cards: they must stay accessible tables."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=admin_server["base"],
                                  storage_state=signed_in_state)
    page = context.new_page()
    page.goto(admin_pages(admin_server)[name])
    results = axe_api.Axe().run(page)
    context.close()
    violations = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in results.response["violations"]]
    assert violations == []

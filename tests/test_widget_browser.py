"""The widget in real headless Chromium, embedded in the demo product served from a second origin.

Two uvicorn servers run on loopback: the help center (fixture articles, fake embedder) and the demo
product (scripts/demo_site.py), whose pages carry the widget's one script tag. The demo is allowed as
http://127.0.0.1:PORT; the same server reached as http://localhost:PORT is another origin, not allowed.
Set KB_SCREENSHOT_DIR to keep screenshots of the open panel (desktop, phone, dark).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                     "(apt-get install chromium)"),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[test]')")
axe_api = pytest.importorskip("axe_playwright_python.sync_playwright", reason="needs axe-playwright-python")

# Never `playwright install`: the browser is the system's (as in tests/test_browser.py).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ROOT = Path(__file__).parent.parent
SECRET = "demo-identity-secret-at-least-32-characters"
AGENT_PASSWORD = "agent-password-for-tests"
SUGGESTIONS = {"/billing*": ["refunds", "plans"], "*": ["welcome"]}
FRAME = "iframe[title='Help']"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(app, port: int) -> tuple:  # noqa: ANN001
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "a test server did not start"
        time.sleep(0.05)
    return server, thread


def load_demo_module():
    spec = importlib.util.spec_from_file_location("demo_site", ROOT / "scripts" / "demo_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from tests.conftest import FIXTURES, FakeEmbedder, web_settings
    from web.app import create_app

    root = tmp_path_factory.mktemp("widget-site")
    shutil.copytree(FIXTURES, root / "articles")
    help_port, demo_port = free_port(), free_port()
    demo_origin = f"http://127.0.0.1:{demo_port}"
    help_url = f"http://127.0.0.1:{help_port}"
    settings = web_settings(root / "articles", root / "data", base_url="", widget_allowed_origins=demo_origin,
                            widget_identity_secret=SECRET)
    help_app = create_app(settings, embedder=FakeEmbedder())
    help_server = serve(help_app, help_port)
    from kb.accounts import create_staff

    create_staff(help_app.state.services.db(), "agent", AGENT_PASSWORD, "agent")
    demo_server = serve(load_demo_module().build_demo(help_url, SECRET, SUGGESTIONS), demo_port)
    yield {"help": help_url, "demo": demo_origin, "other": f"http://localhost:{demo_port}", "data": root / "data"}
    for server, thread in (demo_server, help_server):
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, sites):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=sites["demo"])
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield tab
    context.close()
    assert errors == [], f"JavaScript errors or CSP violations: {errors}"


def expect(target):  # noqa: ANN001, ANN201 - Playwright's own assertion helper
    return playwright_api.expect(target)


def launcher(page):  # noqa: ANN001, ANN201
    return page.locator("[data-kb-widget] button")


def open_panel(page):  # noqa: ANN001, ANN201
    expect(page.locator("html")).to_have_attribute("data-widget", "ready")
    launcher(page).click()
    expect(launcher(page)).to_have_attribute("aria-expanded", "true")
    panel = page.frame_locator(FRAME)
    expect(panel.locator("#kbw-input")).to_be_focused()
    return panel


def panel_frame(page):  # noqa: ANN001, ANN201
    return next(f for f in page.frames if "/widget/frame" in f.url)


def screenshot(page, name: str) -> None:  # noqa: ANN001
    keep = os.environ.get("KB_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{keep}/widget-{name}.png")


def tickets(data_dir: Path) -> list[dict]:
    from bot.handoff import list_tickets, packet
    from kb.storage import open_db

    db = open_db(data_dir / "kb.db")
    try:
        return [packet(db, t) for t in list_tickets(db)]
    finally:
        db.close()


def agent_sees(browser, sites, reference: str, texts: list[str]) -> None:  # noqa: ANN001
    """An agent signs in to the help center and finds the ticket, with its transcript, in the inbox."""
    context = browser.new_context(base_url=sites["help"])
    agent = context.new_page()
    agent.goto("/admin/login")
    agent.get_by_label("Username").fill("agent")
    agent.get_by_label("Password").fill(AGENT_PASSWORD)
    agent.get_by_role("button", name="Sign in").click()
    agent.wait_for_url("**/admin")
    agent.goto("/admin/tickets")
    agent.get_by_role("link", name=reference).click()
    agent.wait_for_url(f"**/admin/tickets/{reference}")
    page_text = agent.locator("main").inner_text()
    context.close()
    assert [t for t in texts if t not in page_text] == []


def test_ask_vote_read_hand_off_and_find_it_all_after_a_reload(page, sites):
    page.goto("/billing")
    expect(launcher(page)).to_have_text("Help")
    expect(launcher(page)).to_have_attribute("aria-expanded", "false")
    assert page.locator(FRAME).count() == 0, "the panel is made on first open only"
    panel = open_panel(page)
    expect(panel.locator("[data-greeting]")).to_have_text(
        "Hi! I'm Lumio's assistant. Ask me anything, or search our help articles.")
    expect(panel.locator("[data-suggested-list] a")).to_have_text(["Request a refund", "Plans and pricing"])

    panel.locator("#kbw-input").fill("I forgot my password")
    panel.locator("#kbw-input").press("Enter")
    answer = panel.locator(".msg--bot").last
    expect(answer.locator(".card__title").first).to_have_text("Reset your password")
    expect(answer.locator(".card__snippet mark").first).to_be_visible()
    screenshot(page, "answer-1280")

    answer.get_by_role("button", name="Yes").click()
    expect(answer.locator(".vote__done")).to_have_text("Thanks for the feedback.")

    answer.locator(".card__title").first.click()
    expect(panel.get_by_role("heading", level=2, name="Reset your password")).to_be_focused()
    expect(panel.locator("[data-article-body] p").first).to_be_visible()
    expect(panel.locator("[data-newtab]")).to_have_attribute("href", re.compile(r"/articles/reset-password"))
    screenshot(page, "article-1280")
    panel.get_by_role("button", name="Back").first.click()
    expect(panel.locator("[data-log]")).to_be_visible()

    panel.get_by_role("button", name="Talk to a person").click()
    expect(panel.locator("#kbw-email")).to_be_focused()
    panel.locator("#kbw-email").fill("visitor@example.com")
    panel.locator("#kbw-note").fill("The reset email never comes.")
    panel.get_by_role("button", name="Send to the team").click()
    notice = panel.locator(".msg--system").last
    expect(notice).to_contain_text("is with our support team")
    reference = re.search(r"T-[A-Z0-9]{6}", notice.inner_text()).group(0)
    expect(page.locator("html")).to_have_attribute("data-ticket", reference)  # the page's "handoff" event

    [ticket] = [t for t in tickets(sites["data"]) if t["reference"] == reference]
    assert (ticket["customer"]["email"], ticket["customer"]["verified"], ticket["note"]) == (
        "visitor@example.com", False, "The reset email never comes.")
    assert [(m["role"], m["text"], m["page_url"]) for m in ticket["transcript"]][:2] == [
        ("user", "I forgot my password", f"{sites['demo']}/billing"),
        ("bot", ticket["transcript"][1]["text"], f"{sites['demo']}/billing")]
    assert ticket["transcript"][1]["feedback"] == "up"
    agent_sees(page.context.browser, sites, reference, ["I forgot my password", "visitor@example.com", "not verified",
                                                        f"{sites['demo']}/billing", "Customer: helpful"])

    with page.expect_download() as download:
        panel.get_by_role("button", name="Download the conversation").click()
    text = Path(download.value.path()).read_text()
    assert download.value.suggested_filename.startswith("conversation-")
    assert "  I forgot my password" in text and f"Support request: {reference} (open)" in text

    # Escape closes the panel and gives focus back to the launcher.
    panel.locator("#kbw-input").press("Escape")
    expect(launcher(page)).to_have_attribute("aria-expanded", "false")
    expect(launcher(page)).to_be_focused()
    expect(page.locator(FRAME)).to_be_hidden()

    # Another page of the product: the conversation is still there.
    page.goto("/settings/account")
    panel = open_panel(page)
    expect(panel.locator(".msg--user").first).to_have_text("I forgot my password")
    expect(panel.locator(".msg--bot .vote__done").first).to_have_text("Thanks for the feedback.")
    expect(panel.locator(".msg--system").last).to_contain_text(reference)
    expect(panel.locator("[data-suggested-list] a")).to_have_text(["Welcome to the platform"])


def test_the_page_api_works_before_the_loader_and_records_single_page_navigation(page, sites):
    page.goto("/")
    page.get_by_role("button", name="Ask about refunds").click()  # KBWidget("ask", ...)
    panel = page.frame_locator(FRAME)
    expect(panel.locator(".msg--user").last).to_have_text("How do I get a refund?")
    expect(panel.locator(".msg--bot").last).to_be_visible()
    # history.pushState to /billing: no page load, but the next message records the new page.
    page.get_by_role("link", name="Billing (without a page load)").click()
    expect(panel.locator("[data-suggested-list] a")).to_have_text(["Request a refund", "Plans and pricing"])
    panel.locator("#kbw-input").fill("thanks")
    panel.locator("#kbw-input").press("Enter")
    expect(panel.locator(".msg--bot")).to_have_count(2)
    token = page.evaluate("localStorage.getItem('kbw_conv')")
    transcript = page.request.get(f"{sites['help']}/api/widget/transcript", headers={
        "Authorization": f"Bearer {token}", "Origin": sites["help"]}).json()
    assert [m["page_url"] for m in transcript["messages"] if m["role"] == "user"] == [
        f"{sites['demo']}/", f"{sites['demo']}/billing"]


def test_a_signed_in_user_is_verified_and_sign_out_resets_the_conversation(page, sites):
    page.goto("/")
    page.get_by_role("button", name="Sign in as Ann").click()
    page.wait_for_selector("#logout")
    panel = open_panel(page)
    panel.get_by_role("button", name="Talk to a person").click()
    expect(panel.locator("#kbw-email")).to_have_value("ann@lumio-customer.example")
    expect(panel.locator("#kbw-name")).to_have_value("Ann Lee")
    panel.get_by_role("button", name="Send to the team").click()
    expect(panel.locator(".msg--system").last).to_contain_text("is with our support team")
    expect(page.locator("html")).to_have_attribute("data-ticket", re.compile("T-"))
    reference = page.locator("html").get_attribute("data-ticket")
    [ticket] = [t for t in tickets(sites["data"]) if t["reference"] == reference]
    assert ticket["customer"] == {"email": "ann@lumio-customer.example", "name": "Ann Lee", "user_id": "u_1042",
                                  "verified": True}
    agent_sees(page.context.browser, sites, reference, ["ann@lumio-customer.example", "verified u_1042"])
    assert page.evaluate("localStorage.getItem('kbw_conv')")
    page.locator("#logout").click()
    expect(page.locator("h1")).to_have_text("Signed out")
    page.wait_for_function("localStorage.getItem('kbw_conv') === null")


def test_a_site_that_is_not_allowed_cannot_show_the_panel(browser, sites):
    context = browser.new_context(base_url=sites["other"])
    page = context.new_page()
    page.goto("/")  # the same demo, reached as http://localhost:PORT: an origin that is not allowed
    # Framing the panel directly: the browser refuses it (CSP frame-ancestors).
    page.evaluate("""url => new Promise(resolve => {
        const frame = document.createElement('iframe');
        frame.id = 'direct'; frame.src = url; frame.onload = resolve; document.body.appendChild(frame);
        setTimeout(resolve, 5000);
    })""", f"{sites['help']}/widget/frame?host={sites['demo']}")
    direct = next(f for f in page.frames if f.parent_frame and "kbw" not in f.name and f != page.main_frame)
    assert direct.evaluate("document.querySelector('[data-panel]')") is None
    # The loader on that page: its session request is refused, so no conversation starts.
    launcher(page).click()
    expect(launcher(page)).to_have_attribute("aria-expanded", "false")
    assert page.evaluate("localStorage.getItem('kbw_conv')") is None
    assert all("[data-panel]" not in (f.evaluate("document.documentElement.outerHTML") if f != page.main_frame
                                      else "") for f in page.frames if "/widget/frame" in f.url)
    context.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_open_panel_has_no_accessibility_violations(browser, sites, theme):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=theme, base_url=sites["demo"])
    page = context.new_page()
    page.goto("/billing")
    panel = open_panel(page)
    panel.locator("#kbw-input").fill("I forgot my password")
    panel.locator("#kbw-input").press("Enter")
    expect(panel.locator(".msg--bot .vote")).to_have_count(1)
    panel.locator("#kbw-search").fill("refund")
    panel.locator("#kbw-search").press("Enter")
    expect(panel.locator("[data-results] a").first).to_be_visible()
    screenshot(page, f"panel-{theme}")
    found = []
    for target, options in ((panel_frame(page), None), (page, {"iframes": False})):
        results = axe_api.Axe().run(target, options={"resultTypes": ["violations"], **(options or {})})
        found += [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in results.response["violations"]]
    context.close()
    assert found == []


def test_on_a_phone_the_panel_fills_the_screen_and_closes_from_inside(browser, sites):
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=sites["demo"], has_touch=True)
    page = context.new_page()
    page.goto("/")
    panel = open_panel(page)
    # The panel may still be sliding in (unless reduced motion): wait for it to settle.
    deadline = time.monotonic() + 5
    while True:
        box = page.locator(FRAME).bounding_box()
        if (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844) or time.monotonic() > deadline:
            break
        page.wait_for_timeout(50)
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844)
    assert panel_frame(page).evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "phone-390")
    panel.get_by_role("button", name="Close help").click()
    expect(launcher(page)).to_have_attribute("aria-expanded", "false")
    context.close()


def test_the_panel_transfers_little(page, sites):
    """Bytes of the panel's document and assets as the browser fetched them (see BENCHMARKS.md)."""
    page.goto("/")
    open_panel(page)
    sizes = panel_frame(page).evaluate("""() => [
        ...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')
    ].filter(e => !e.name.includes('/api/')).map(e => [new URL(e.name).pathname, e.encodedBodySize])""")
    total = sum(size for _, size in sizes)
    print(json.dumps({"panel_bytes": dict(sizes), "total": total}))
    assert {path for path, _ in sizes} == {"/widget/frame", "/static/widget/frame.css", "/static/widget/frame.js"}
    assert total <= 50 * 1024

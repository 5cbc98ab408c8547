"""The website in real headless Chromium (Debian's package, driven by Playwright), with axe-core scans.

The app runs in uvicorn on a free loopback port, over the fixture articles with the fake embedder.
Set KB_SCREENSHOT_DIR to keep the screenshots taken at phone and desktop widths.
"""

from __future__ import annotations

import os
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

# Never `playwright install`: the browser is the system's.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
PAGES = {"home": "/", "category": "/categories/account", "article": "/articles/reset-password",
         "search": "/search?q=refund", "404": "/no-such-page"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    import uvicorn

    from tests.conftest import FIXTURES, FakeEmbedder, web_settings
    from web.app import create_app

    root = tmp_path_factory.mktemp("browser-site")
    shutil.copytree(FIXTURES, root / "articles")
    app = create_app(web_settings(root / "articles", root / "data", base_url=""), embedder=FakeEmbedder())
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the test server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", root / "data"
    uv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server[0])
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield tab
    context.close()
    assert errors == [], f"JavaScript errors or CSP violations: {errors}"


def expect(target):  # noqa: ANN001, ANN201 - Playwright's own assertion helper
    return playwright_api.expect(target)


def test_home_search_as_you_type_with_the_keyboard(page):
    page.goto("/")
    expect(page.locator("h1")).to_have_text("How can we help?")
    box = page.locator("#hero-search")
    box.press_sequentially("passw", delay=40)
    options = page.locator("#hero-search-list [role=option]")
    expect(options.first).to_contain_text("Reset your password")
    expect(box).to_have_attribute("aria-expanded", "true")
    box.press("ArrowDown")
    expect(box).to_have_attribute("aria-activedescendant", "hero-search-list-0")
    expect(options.first).to_have_attribute("aria-selected", "true")
    box.press("Escape")
    expect(page.locator("#hero-search-list")).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    box.press("ArrowDown")  # reopens the same suggestions
    box.press("ArrowDown")
    box.press("Enter")
    page.wait_for_url("**/articles/reset-password")
    expect(page.locator("h1")).to_have_text("Reset your password")


def test_slash_focuses_search_and_enter_shows_results(page):
    page.goto("/articles/change-email")
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("/")
    expect(page.locator("#header-search")).to_be_focused()
    page.keyboard.type("refund")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=refund")
    expect(page.locator(".result__title")).to_have_text(["Request a refund"])
    expect(page.locator(".result__snippet mark").first).to_have_text("refunded")


def test_follow_a_table_of_contents_link(page):
    page.goto("/articles/reset-password")
    page.locator(".toc--side a", has_text="The reset email never arrived").click()
    page.wait_for_url("**/articles/reset-password#the-reset-email-never-arrived")
    target = page.locator("#the-reset-email-never-arrived")
    expect(target).to_be_in_viewport()
    # Not hidden under the sticky header.
    header_bottom = page.locator(".site-header").bounding_box()["height"]
    assert page.evaluate("document.getElementById('the-reset-email-never-arrived').getBoundingClientRect().top") >= (
        header_bottom - 1)


def test_vote_no_with_a_reason_and_a_comment(page, server):
    page.goto("/articles/refunds")
    page.get_by_role("button", name="No").click()
    reason_form = page.locator("form.feedback__reason")
    expect(reason_form).to_be_visible()
    expect(page.get_by_role("button", name="No")).to_have_attribute("aria-pressed", "true")
    page.get_by_label("It's inaccurate or out of date").check()
    page.locator("#feedback-comment").fill("The window is 30 days now.")
    expect(page.locator("[data-count]")).to_have_text("26 / 1000 characters")
    page.get_by_role("button", name="Send feedback").click()
    expect(page.locator("[data-feedback-status]")).to_have_text(
        "Thanks for telling us. We'll use it to improve this article.")
    expect(reason_form).to_be_hidden()
    assert page.url.endswith("/articles/refunds")  # no reload: the script posted to /api/feedback
    assert votes(server[1], "refunds") == [("down", "inaccurate", "The window is 30 days now.")]


def test_everything_works_with_javascript_off(browser, server):
    context = browser.new_context(java_script_enabled=False, base_url=server[0])
    page = context.new_page()
    page.goto("/")
    page.locator("#hero-search").fill("email")
    page.locator("#hero-search").press("Enter")
    page.wait_for_url("**/search?q=email")
    page.locator(".result__title a").first.click()
    page.wait_for_url("**/articles/change-email")
    page.get_by_role("button", name="No").click()
    page.wait_for_url("**/articles/change-email?feedback=down#feedback")
    page.get_by_label("A link is broken").check()
    page.get_by_role("button", name="Send feedback").click()
    page.wait_for_url("**/articles/change-email?feedback=sent#feedback")
    expect(page.locator("[data-feedback-status]")).to_contain_text("Thanks for telling us")
    assert votes(server[1], "change-email") == [("down", "broken_link", "")]
    context.close()


def votes(data_dir: Path, slug: str) -> list[tuple[str, str | None, str]]:
    from kb.storage import open_db

    db = open_db(data_dir / "kb.db")
    try:
        return [(r["vote"], r["reason"], r["comment"])
                for r in db.query("select * from article_feedback where article_slug = ?", [slug])]
    finally:
        db.close()


# Records the theme attribute at the moment <body> is created, i.e. before anything is painted.
THEME_AT_FIRST_PAINT = """
new MutationObserver((records, observer) => {
  if (document.body) {
    window.__themeAtBody = document.documentElement.getAttribute('data-theme');
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""


def test_dark_mode_toggle_persists_without_a_flash(page):
    page.add_init_script(THEME_AT_FIRST_PAINT)
    page.goto("/articles/plans")
    html = page.locator("html")
    expect(html).to_have_attribute("data-theme", "light")
    toggle = page.locator("[data-theme-toggle]")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(html).to_have_attribute("data-theme", "dark")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(13, 15, 20)"
    page.reload()
    assert page.evaluate("window.__themeAtBody") == "dark"
    expect(html).to_have_attribute("data-theme", "dark")
    page.goto("/")
    assert page.evaluate("window.__themeAtBody") == "dark"


def test_theme_follows_the_system_until_chosen(browser, server):
    context = browser.new_context(color_scheme="dark", base_url=server[0])
    page = context.new_page()
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    context.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("name", list(PAGES))
def test_no_accessibility_violations(browser, server, name, theme):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=theme, base_url=server[0])
    page = context.new_page()
    page.goto(PAGES[name])
    results = axe_api.Axe().run(page)
    context.close()
    violations = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in results.response["violations"]]
    assert violations == []


@pytest.mark.parametrize("width", [320, 390, 1280])
def test_pages_fit_phone_and_desktop_widths(browser, server, width):
    """No page scrolls sideways; the screenshots are kept when KB_SCREENSHOT_DIR is set."""
    keep = os.environ.get("KB_SCREENSHOT_DIR")
    context = browser.new_context(viewport={"width": width, "height": 844}, base_url=server[0])
    page = context.new_page()
    for name, url in PAGES.items():
        page.goto(url)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} is {overflow}px too wide at {width}px"
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=f"{keep}/{name}-{width}.png", full_page=True)
    context.close()


def test_print_shows_only_the_article(page):
    page.goto("/articles/reset-password")
    page.emulate_media(media="print")
    for hidden in [".site-header", ".feedback", ".related", ".contact", ".article-aside", ".site-footer"]:
        expect(page.locator(hidden).first).to_be_hidden()
    expect(page.locator(".prose")).to_be_visible()

"""The website's HTML pages through FastAPI's test client, on the fixture articles with the fake embedder."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from kb.storage import open_db
from tests.webpage import Element, json_ld, parse


def page(client: TestClient, url: str, status: int = 200) -> Element:
    response = client.get(url)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return parse(response.text)


def rows(client: TestClient, sql: str, params: list[object] | None = None) -> list[dict[str, object]]:
    db = open_db(client.app.state.settings.data_dir / "kb.db")
    try:
        return list(db.query(sql, params or []))
    finally:
        db.close()


def article_titles(doc: Element, within: Element | None = None) -> list[str]:
    return (within or doc).texts(cls="article-link__title")


# ---------- home, categories, sections ----------

def test_home_has_search_categories_with_counts_popular_articles_and_contact(client):
    doc = page(client, "/")
    assert doc.texts("h1") == ["How can we help?"]
    assert doc.find("input", id="hero-search").attrs["name"] == "q"
    cards = [(c.find(cls="card__title").text, c.find(cls="card__meta").text, c.attrs["href"])
             for c in doc.find_all("a", cls="card")]
    assert cards == [
        ("Account and sign-in", "2 articles", "/categories/account"),
        ("Billing", "2 articles", "/categories/billing"),
        ("Getting started", "1 article", "/categories/getting-started"),
    ]
    assert doc.find(cls="card__text").text == "Passwords, email and two-step sign-in."
    # Without views yet, popular articles take each category's first article in turn.
    assert article_titles(doc) == [
        "Reset your password", "Plans and pricing", "Welcome to the platform", "Change your email address",
        "Request a refund",
    ]
    contact = doc.find("section", cls="contact")
    assert [a.attrs["href"] for a in contact.find_all("a")] == ["/chat", "mailto:support@lumio.example"]


def test_category_page_lists_sections_and_articles_in_order(site):
    doc = page(site, "/categories/account")
    assert doc.texts("h1") == ["Account and sign-in"]
    assert doc.texts(cls="group__title") == ["Sign in"]
    assert article_titles(doc, doc.find("main")) == ["Reset your password", "Change your email address"]
    assert doc.find("nav", cls="breadcrumbs").texts("a") == ["Home", "Account and sign-in"]
    assert json_ld(doc)["BreadcrumbList"]["itemListElement"] == [
        {"@type": "ListItem", "position": 1, "name": "Lumio Help Center", "item": "https://help.example/"},
        {"@type": "ListItem", "position": 2, "name": "Account and sign-in",
         "item": "https://help.example/categories/account"},
    ]


def test_section_page_lists_its_articles(site):
    doc = page(site, "/categories/billing/payments")
    assert doc.texts("h1") == ["Payments"]
    # Neither has a position, so they sort by title.
    assert article_titles(doc, doc.find("main")) == ["Plans and pricing", "Request a refund"]
    assert doc.find("nav", cls="breadcrumbs").texts("a") == ["Home", "Billing", "Payments"]


@pytest.mark.parametrize("url", ["/categories/nope", "/categories/account/nope", "/nope", "/articles/nope",
                                 "/articles/nope.md", "/categories/account/sign-in/extra"])
def test_unknown_pages_get_the_404_page_with_search(site, url):
    doc = page(site, url, status=404)
    assert doc.texts("h1") == ["We can't find that page"]
    assert doc.find("form", role="search").attrs["action"] == "/search"
    assert article_titles(doc)  # popular articles to go on with
    assert doc.find("meta", name="robots").attrs["content"] == "noindex"


# ---------- the article page ----------

def test_article_page_has_everything_a_reader_needs(site):
    doc = page(site, "/articles/reset-password")
    assert doc.texts("h1") == ["Reset your password"]
    assert doc.find("nav", cls="breadcrumbs").texts("a") == ["Home", "Account and sign-in", "Sign in"]
    time_el = doc.find("time")
    assert (time_el.attrs["datetime"], time_el.text) == ("2026-10-01", "October 1, 2026")
    assert "1 min read" in doc.find(cls="article__meta").text
    toc = doc.find("nav", cls="toc")
    assert [(a.attrs["href"], a.text) for a in toc.find_all("a")] == [
        ("#reset-it-from-the-sign-in-page", "Reset it from the sign-in page"),
        ("#the-reset-email-never-arrived", "The reset email never arrived"),
    ]
    body = doc.find(cls="prose")
    assert [h.attrs["id"] for h in body.find_all("h2")] == ["reset-it-from-the-sign-in-page", "the-reset-email-never-arrived"]
    # Links between articles by slug point at the article URL.
    assert body.find("a").attrs["href"] == "/articles/change-email#steps"
    # Related: the other article of the same category first.
    related = doc.find("section", cls="related")
    assert article_titles(doc, related)[0] == "Change your email address"
    assert len(article_titles(doc, related)) == 4  # every other published article, never the draft
    feedback = doc.find("section", id="feedback")
    assert [(b.attrs["name"], b.attrs["value"]) for b in feedback.find("form", cls="feedback__vote").find_all("button")] == [
        ("vote", "up"), ("vote", "down")]
    reasons = [i.attrs["value"] for i in feedback.find_all("input", type="radio")]
    assert reasons == ["need_more_info", "inaccurate", "hard_to_understand", "broken_link", "other"]
    assert "hidden" in feedback.find("form", cls="feedback__reason").attrs
    contact = doc.find("section", cls="contact")
    assert [a.attrs["href"] for a in contact.find_all("a")] == ["/chat", "mailto:support@lumio.example"]


def test_article_head_has_canonical_description_open_graph_and_json_ld(site):
    doc = page(site, "/articles/reset-password?utm_source=mail")
    head = doc.find("head")
    assert head.find("link", rel="canonical").attrs["href"] == "https://help.example/articles/reset-password"
    assert head.find("title").text == "Reset your password · Lumio Help Center"
    description = "Get back into your account when you forgot your password."
    assert head.find("meta", name="description").attrs["content"] == description
    assert {m.attrs["property"]: m.attrs["content"] for m in head.find_all("meta") if "property" in m.attrs} == {
        "og:site_name": "Lumio Help Center", "og:type": "article", "og:title": "Reset your password · Lumio Help Center",
        "og:description": description, "og:url": "https://help.example/articles/reset-password",
        "article:modified_time": "2026-10-01",
    }
    org = {"@type": "Organization", "name": "Lumio Help Center", "url": "https://help.example/"}
    blocks = json_ld(doc)
    assert blocks["Article"] == {
        "@context": "https://schema.org", "@type": "Article", "headline": "Reset your password",
        "description": description, "datePublished": "2026-10-01", "dateModified": "2026-10-01", "author": org,
        "publisher": org, "mainEntityOfPage": "https://help.example/articles/reset-password", "wordCount": 40,
        "articleSection": "Account and sign-in",
    }
    assert [i["name"] for i in blocks["BreadcrumbList"]["itemListElement"]] == [
        "Lumio Help Center", "Account and sign-in", "Sign in", "Reset your password"]


def test_article_html_never_runs_script(site):
    response = site.get("/articles/welcome")
    body = parse(response.text).find(cls="prose")
    assert body.find_all("script") == []
    assert all("onclick" not in e.attrs for e in body.find_all())
    assert body.texts("p") == ["Courses are made of video lessons and quizzes.", "Learning paths group courses."]


def test_markdown_view_is_the_plain_article(site):
    response = site.get("/articles/plans.md")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.text == (
        "# Plans and pricing\n\n> Free, Plus monthly and Plus annual compared.\n\n"
        "Plus costs 15 dollars a month or 120 dollars a year. Teams pay per seat.\n"
    )


@pytest.mark.parametrize(("old", "new"), [
    ("/articles/forgot-password", "/articles/reset-password"),
    ("/articles/forgot-password.md", "/articles/reset-password.md"),
    ("/articles/forgot-password?x=1", "/articles/reset-password?x=1"),
    ("/api/articles/forgot-password", "/api/articles/reset-password"),
])
def test_old_slugs_redirect_permanently(site, old, new):
    response = site.get(old, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (301, new)


def test_drafts_are_nowhere(site):
    assert site.get("/articles/roadmap").status_code == 404
    assert site.get("/articles/roadmap.md").status_code == 404
    assert site.get("/api/articles/roadmap").status_code == 404
    for url in ["/", "/categories/getting-started", "/sitemap.xml", "/llms.txt", "/api/articles",
                "/search?q=secret+plans+upcoming+features", "/api/search?q=upcoming+features+secret"]:
        text = site.get(url).text
        assert "roadmap" not in text and "Upcoming features" not in text, url


# ---------- search ----------

def test_search_page_shows_count_sections_and_highlighted_snippets(site):
    doc = page(site, "/search?q=refund")
    assert doc.texts("h1") == ["Results for “refund”"]
    assert doc.find(cls="results-count").text == "1 article found"
    result = doc.find("li", cls="result")
    assert result.find(cls="result__path").texts("a") == ["Billing", "Who can get a refund"]
    title_link, section_link = result.find("h2").find("a"), result.find(cls="result__path").find_all("a")[1]
    assert title_link.text == "Request a refund"
    assert parse_qs(urlsplit(section_link.attrs["href"]).query)["anchor"] == ["who-can-get-a-refund"]
    assert result.find(cls="result__snippet").texts("mark") == ["refunded", "Refund"]
    assert doc.find("meta", name="robots").attrs["content"] == "noindex, follow"
    assert doc.find("input", id="page-search").attrs["value"] == "refund"


def test_search_with_no_results_helps_the_reader_on(site):
    doc = page(site, "/search?q=zzzqqq")
    assert doc.texts("h1") == ["No results for “zzzqqq”"]
    assert doc.find_all("li", cls="result") == []
    assert sorted(article_titles(doc)) == [  # popular articles
        "Change your email address", "Plans and pricing", "Request a refund", "Reset your password",
        "Welcome to the platform"]
    assert [a.attrs["href"] for a in doc.find("section", cls="contact").find_all("a")] == [
        "/chat", "mailto:support@lumio.example"]


def test_a_misspelt_search_offers_the_fix_and_similar_titles(site):
    doc = page(site, "/search?q=pasword")
    empty = doc.find(cls="empty")
    assert [(a.text, a.attrs["href"]) for a in empty.find_all("a")] == [
        ("password", "/search?q=password"), ("Reset your password", "/articles/reset-password")]


def test_empty_search_shows_the_form_and_records_nothing(site):
    before = rows(site, "select count(*) as n from query_events")[0]["n"]
    doc = page(site, "/search?q=+++")
    assert doc.texts("h1") == ["Search the help center"]
    assert rows(site, "select count(*) as n from query_events")[0]["n"] == before


@pytest.mark.parametrize("url", ["/search?q=<script>alert(1)</script>", "/nope?q=<script>alert(1)</script>",
                                 "/search?q=\"><img src=x onerror=alert(1)>"])
def test_queries_are_escaped_everywhere(site, url):
    text = site.get(url).text
    assert "<script>alert(1)" not in text and "<img src=x" not in text
    assert "&lt;" in text


def test_an_over_long_query_gets_a_clear_400_page(site):
    doc = page(site, "/search?q=" + "x" * 501, status=400)
    assert doc.texts("h1") == ["We couldn't search for that"]
    assert doc.find(cls="page-lead").text == "The query is 501 characters long; the limit is 500."


def test_committed_searches_and_clicks_are_recorded(client):
    page(client, "/search?q=refund")
    session = client.cookies["kb_session"]
    [event] = rows(client, "select * from query_events")
    assert {k: event[k] for k in ("channel", "session_id", "query_text", "query_norm", "result_count", "top_score",
                                  "second_score", "top_article_slug", "answered", "clicked_article_slug")} == {
        "channel": "search", "session_id": session, "query_text": "refund", "query_norm": "refund",
        "result_count": 1, "top_score": 0.77, "second_score": None, "top_article_slug": "refunds", "answered": 1,
        "clicked_article_slug": None,
    }
    link = parse(client.get("/search?q=Refund").text).find("li", cls="result").find("h2").find("a").attrs["href"]
    response = client.get(link, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/articles/refunds")
    clicked = rows(client, "select query_text, clicked_article_slug, clicked_rank from query_events order by id")
    assert clicked == [
        {"query_text": "refund", "clicked_article_slug": None, "clicked_rank": None},
        {"query_text": "Refund", "clicked_article_slug": "refunds", "clicked_rank": 1},
    ]
    # Suggestions while typing are not committed searches.
    client.get("/api/suggest?q=refu")
    assert len(rows(client, "select id from query_events")) == 2


def test_a_click_is_only_recorded_for_the_session_that_searched(client):
    page(client, "/search?q=refund")
    [event] = rows(client, "select id from query_events")
    client.cookies.clear()
    response = client.get(f"/search/click?event={event['id']}&rank=1&slug=refunds&anchor=who-can-get-a-refund",
                          follow_redirects=False)
    assert response.headers["location"] == "/articles/refunds#who-can-get-a-refund"
    assert rows(client, "select clicked_article_slug from query_events") == [{"clicked_article_slug": None}]


def test_click_redirects_only_to_article_paths(site):
    response = site.get("/search/click?event=1&rank=1&slug=//evil.example/x&anchor=a b", follow_redirects=False)
    assert response.headers["location"] == "/articles/%2F%2Fevil.example%2Fx#a%20b"


# ---------- votes ----------

def test_voting_no_without_javascript_asks_why_then_thanks(client):
    response = client.post("/articles/reset-password/feedback", data={"vote": "down"}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (
        303, "/articles/reset-password?feedback=down#feedback")
    doc = page(client, "/articles/reset-password?feedback=down")
    assert "hidden" not in doc.find("form", cls="feedback__reason").attrs
    assert doc.find("button", value="down").attrs["aria-pressed"] == "true"

    response = client.post("/articles/reset-password/feedback", follow_redirects=False, data={
        "vote": "down", "reason": "inaccurate", "comment": "  Step 2 <b>is</b> wrong  "})
    assert response.headers["location"] == "/articles/reset-password?feedback=sent#feedback"
    doc = page(client, "/articles/reset-password?feedback=sent")
    assert doc.find(cls="feedback__thanks").text == "Thanks for telling us. We'll use it to improve this article."
    session = client.cookies["kb_session"]
    assert rows(client, "select article_slug, session_id, vote, reason, comment from article_feedback") == [
        {"article_slug": "reset-password", "session_id": session, "vote": "down", "reason": "inaccurate",
         "comment": "Step 2 <b>is</b> wrong"},
    ]
    # The latest vote counts: still one row for this session and article.
    client.post("/articles/reset-password/feedback", data={"vote": "up", "reason": "other"})
    assert rows(client, "select vote, reason, comment from article_feedback") == [
        {"vote": "up", "reason": None, "comment": ""}]


@pytest.mark.parametrize(("data", "status", "message"), [
    ({"vote": "down", "comment": "x" * 1001}, 422, "The comment is 1001 characters long; the limit is 1000."),
    ({"vote": "down", "reason": "because"}, 422,
     "Reason must be one of need_more_info, inaccurate, hard_to_understand, broken_link, other, got 'because'."),
    ({"vote": "maybe"}, 422, "Vote: Input should be 'up' or 'down'."),
])
def test_bad_votes_get_a_clear_422_page(client, data, status, message):
    doc = page_post(client, "/articles/reset-password/feedback", data, status)
    assert doc.find(cls="page-lead").text == message
    assert rows(client, "select * from article_feedback") == []


def test_voting_on_an_unknown_article_is_404(client):
    page_post(client, "/articles/nope/feedback", {"vote": "up"}, 404)


def page_post(client: TestClient, url: str, data: dict[str, str], status: int) -> Element:
    response = client.post(url, data=data, follow_redirects=False)
    assert response.status_code == status
    return parse(response.text)


# ---------- views and popular articles ----------

def test_views_make_articles_popular(client):
    for _ in range(3):
        client.cookies.clear()
        client.get("/articles/refunds")
    client.cookies.clear()
    client.get("/articles/change-email")
    assert rows(client, "select article_slug, count(*) as n from article_views group by 1 order by 1") == [
        {"article_slug": "change-email", "n": 1}, {"article_slug": "refunds", "n": 3}]
    assert article_titles(page(client, "/"))[:3] == [
        "Request a refund", "Change your email address", "Reset your password"]


# ---------- plumbing: sessions, headers, assets, crawlers ----------

def test_session_cookie_is_anonymous_httponly_and_lax(client):
    first = client.get("/")
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("kb_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert len(client.cookies["kb_session"]) == 32
    assert "set-cookie" not in client.get("/").headers  # known session: no new cookie
    assert "set-cookie" not in client.get("/static/site.css").headers


def test_pages_carry_security_headers(site):
    headers = site.get("/").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert headers["content-security-policy"] == (
        "default-src 'self'; base-uri 'self'; object-src 'none'; frame-ancestors 'self'; form-action 'self'; "
        "img-src 'self' data:; style-src 'self'; style-src-attr 'unsafe-inline'; script-src 'self'")
    assert site.get("/api/articles").headers["x-content-type-options"] == "nosniff"


def test_static_files_are_versioned_and_cached(site):
    doc = page(site, "/")
    href = doc.find("link", rel="stylesheet").attrs["href"]
    assert href.startswith("/static/site.css?v=")
    response = site.get(href)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert [s.attrs["src"].split("?")[0] for s in doc.find("head").find_all("script") if "src" in s.attrs] == [
        "/static/theme.js", "/static/site.js"]


def test_docs_page_uses_local_swagger_assets(site):
    text = site.get("/docs").text
    assert "/static/swagger/swagger-ui-bundle.js" in text and "cdn" not in text
    assert site.get("/static/swagger/swagger-ui-bundle.js").status_code == 200


def test_sitemap_lists_every_page_with_lastmod(site):
    response = site.get("/sitemap.xml")
    assert response.headers["content-type"] == "application/xml"
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    urls = ET.fromstring(response.text).findall("s:url", ns)
    entries = {u.find("s:loc", ns).text: u.find("s:lastmod", ns) for u in urls}
    assert sorted(entries) == sorted("https://help.example" + p for p in [
        "/", "/categories/account", "/categories/account/sign-in", "/categories/billing",
        "/categories/billing/payments", "/categories/getting-started", "/articles/reset-password",
        "/articles/change-email", "/articles/plans", "/articles/refunds", "/articles/welcome"])
    assert entries["https://help.example/articles/reset-password"].text == "2026-10-01"
    assert all(lastmod is not None for lastmod in entries.values())


def test_robots_and_llms_txt(site):
    assert site.get("/robots.txt").text == (
        "User-agent: *\nDisallow: /search\nDisallow: /api/\n\nSitemap: https://help.example/sitemap.xml\n")
    llms = site.get("/llms.txt").text
    assert llms.startswith("# Lumio Help Center\n\n> Help articles for Lumio Help Center.")
    assert "## Account and sign-in\n\nPasswords, email and two-step sign-in.\n\n" \
           "- [Reset your password](https://help.example/articles/reset-password.md): " \
           "Get back into your account when you forgot your password.\n" in llms


# ---------- live reload ----------

def wait_for(check, seconds: float = 6.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_editing_articles_while_running_updates_pages_and_search(articles_dir: Path, data_dir: Path, fake_embedder):
    from tests.conftest import web_settings
    from web.app import create_app

    app = create_app(web_settings(articles_dir, data_dir, watch=True), embedder=fake_embedder)
    with TestClient(app) as client:
        assert app.state.watcher.ready.wait(5)
        hits = lambda q: [r["slug"] for r in client.get(f"/api/search?q={q}").json()["results"]]  # noqa: E731
        assert hits("kumquat") == []

        started = time.monotonic()
        plans = articles_dir / "billing" / "payments" / "plans.md"
        plans.write_text(plans.read_text() + "\n## Kumquat plan\n\nThe kumquat plan is free.\n")
        assert wait_for(lambda: hits("kumquat") == ["plans"]), "the edit never became searchable"
        assert time.monotonic() - started < 2.5  # "within about 2 seconds"
        assert "The kumquat plan is free." in client.get("/articles/plans").text

        # A broken file is skipped; a good new file next to it is published.
        (articles_dir / "billing" / "payments" / "broken.md").write_text("---\ntitle: [unclosed\n---\nbody\n")
        (articles_dir / "billing" / "payments" / "gift-cards.md").write_text(
            "---\ntitle: Gift cards\n---\nRedeem a gift card for a tangerine discount.\n")
        assert wait_for(lambda: hits("tangerine+gift+card")[:1] == ["gift-cards"])
        assert client.get("/articles/gift-cards").status_code == 200
        assert client.get("/articles/broken").status_code == 404

        # A deleted article disappears from pages and search.
        (articles_dir / "billing" / "payments" / "gift-cards.md").unlink()
        assert wait_for(lambda: client.get("/articles/gift-cards").status_code == 404)
        assert wait_for(lambda: "gift-cards" not in hits("tangerine+gift+card"))


def test_pages_answer_head_without_counting_a_view(client):
    for url in ["/", "/articles/plans", "/categories/billing", "/sitemap.xml", "/robots.txt", "/llms.txt"]:
        assert client.head(url).status_code == 200, url
    assert rows(client, "select * from article_views") == []
    assert client.head("/search?q=refund").status_code == 405  # searches are recorded: GET only

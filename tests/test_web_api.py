"""The JSON API through FastAPI's test client, on the fixture articles with the fake embedder."""

from __future__ import annotations

import pytest

from kb.storage import open_db


def rows(client, sql: str) -> list[dict[str, object]]:
    db = open_db(client.app.state.settings.data_dir / "kb.db")
    try:
        return list(db.query(sql))
    finally:
        db.close()


def test_search_returns_results_with_sections_snippets_and_click_links(site):
    response = site.get("/api/search?q=refund")
    assert response.status_code == 200
    body = response.json()
    event = body["event_id"]
    assert body == {
        "query": "refund", "count": 1, "corrected": None, "similar_titles": [], "event_id": event,
        "results": [{
            "slug": "refunds", "title": "Request a refund", "url": "/articles/refunds",
            "section_url": "/articles/refunds#who-can-get-a-refund", "category": "billing",
            "category_title": "Billing", "section": "Who can get a refund", "anchor": "who-can-get-a-refund",
            "snippet": "Subscriptions bought in the last 14 days can be <mark>refunded</mark> in full. Plan "
                       "<mark>Refund</mark> window Monthly 14 days Annual 14 days",
            "score": 0.77,  # similarity + 0.25 x keywords + 0.1 x its questions among the 10 nearest chunks
            "click_url": f"/search/click?event={event}&rank=1&slug=refunds&anchor=who-can-get-a-refund",
        }],
    }


def test_search_is_recorded_as_a_committed_search(client):
    body = client.get("/api/search?q=Forgot  my PASSWORD", headers={"referer": "https://help.example/x"}).json()
    [event] = rows(client, "select * from query_events")
    assert event["id"] == body["event_id"]
    assert {k: event[k] for k in ("channel", "query_text", "query_norm", "result_count", "top_article_slug",
                                  "answered", "page_url", "session_id")} == {
        "channel": "search", "query_text": "Forgot  my PASSWORD", "query_norm": "forgot my password",
        "result_count": 1, "top_article_slug": "reset-password", "answered": 1, "page_url": "https://help.example/x",
        "session_id": client.cookies["kb_session"],
    }


def test_search_without_a_match_suggests_a_spelling_and_titles(site):
    body = site.get("/api/search?q=Plans and prizing").json()
    assert (body["count"], body["corrected"], body["similar_titles"]) == (
        0, "plans and pricing", [{"slug": "plans", "title": "Plans and pricing", "url": "/articles/plans"}])


def test_search_in_one_category(site):
    assert [r["slug"] for r in site.get("/api/search?q=password email&category=billing").json()["results"]] == []
    assert [r["category"] for r in site.get("/api/search?q=email&category=account").json()["results"]] == ["account"]


@pytest.mark.parametrize(("url", "status", "detail"), [
    ("/api/search?q=" + "y" * 501, 400, "the query is 501 characters long; the limit is 500"),
    ("/api/search?q=%20%20", 400, "the query is empty: type a few words about what you need"),
    ("/api/search", 422, "q: Field required"),
    ("/api/search?q=x&limit=0", 422, "limit: Input should be greater than or equal to 1"),
    ("/api/suggest?q=" + "y" * 501, 400, "the query is 501 characters long; the limit is 500"),
    ("/api/articles/nope", 404, "there is no article 'nope'"),
    ("/api/nope", 404, "there is nothing at this address"),
])
def test_bad_requests_get_a_json_detail(site, url, status, detail):
    response = site.get(url)
    assert (response.status_code, response.json()) == (status, {"detail": detail})


def test_suggest_completes_half_typed_titles_and_is_not_recorded(client):
    assert client.get("/api/suggest?q=pa").json() == {"query": "pa", "suggestions": [
        {"slug": "reset-password", "title": "Reset your password", "url": "/articles/reset-password",
         "category_title": "Account and sign-in", "section": ""},
    ]}
    assert client.get("/api/suggest?q=p").json() == {"query": "p", "suggestions": []}
    assert [s["slug"] for s in client.get("/api/suggest?q=re").json()["suggestions"]] == ["refunds", "reset-password"]
    assert rows(client, "select * from query_events") == []


def test_articles_lists_published_articles_in_order(site):
    body = site.get("/api/articles").json()
    assert [(a["category"], a["section"], a["slug"]) for a in body] == [
        ("account", "sign-in", "reset-password"), ("account", "sign-in", "change-email"),
        ("billing", "payments", "plans"), ("billing", "payments", "refunds"), ("getting-started", None, "welcome"),
    ]
    assert body[0] == {
        "slug": "reset-password", "title": "Reset your password",
        "description": "Get back into your account when you forgot your password.", "url": "/articles/reset-password",
        "category": "account", "category_title": "Account and sign-in", "section": "sign-in", "section_title": "Sign in",
        "updated": "2026-10-01", "reading_minutes": 1,
    }


def test_article_has_body_toc_and_related(site):
    body = site.get("/api/articles/reset-password").json()
    assert body["toc"] == [
        {"anchor": "reset-it-from-the-sign-in-page", "heading": "Reset it from the sign-in page", "level": 2},
        {"anchor": "the-reset-email-never-arrived", "heading": "The reset email never arrived", "level": 2},
    ]
    assert body["tags"] == ["password", "sign-in"]
    assert body["html"].startswith("<p>If you forgot your password")
    assert '<a href="/articles/change-email#steps" rel="noopener noreferrer">' in body["html"]
    assert body["markdown"].startswith("If you forgot your password")
    assert [r["slug"] for r in body["related"]] == ["change-email", "refunds", "welcome", "plans"]
    assert body["related"][0] == {"slug": "change-email", "title": "Change your email address",
                                  "url": "/articles/change-email", "category_title": "Account and sign-in",
                                  "score": 0.4539}


def test_feedback_is_one_vote_per_session_and_article(client):
    vote = {"article_slug": "refunds", "vote": "down", "reason": "need_more_info", "comment": " <script>x</script> "}
    assert client.post("/api/feedback", json=vote).json() == {
        "article_slug": "refunds", "vote": "down", "reason": "need_more_info", "recorded": True}
    assert client.post("/api/feedback", json={"article_slug": "refunds", "vote": "up", "reason": "other"}).json() == {
        "article_slug": "refunds", "vote": "up", "reason": None, "recorded": True}
    client.post("/api/feedback", json={"article_slug": "plans", "vote": "up"})
    client.cookies.clear()  # another reader
    client.post("/api/feedback", json=vote)
    assert rows(client, "select article_slug, vote, reason, comment from article_feedback order by ts") == [
        {"article_slug": "refunds", "vote": "up", "reason": None, "comment": ""},
        {"article_slug": "plans", "vote": "up", "reason": None, "comment": ""},
        {"article_slug": "refunds", "vote": "down", "reason": "need_more_info", "comment": "<script>x</script>"},
    ]


@pytest.mark.parametrize(("payload", "status", "detail"), [
    ({"article_slug": "refunds", "vote": "down", "comment": "x" * 1001}, 422,
     "comment: String should have at most 1000 characters"),
    ({"article_slug": "refunds", "vote": "sideways"}, 422, "vote: Input should be 'up' or 'down'"),
    ({"article_slug": "refunds", "vote": "down", "reason": "meh"}, 422,
     "reason: Input should be 'need_more_info', 'inaccurate', 'hard_to_understand', 'broken_link' or 'other'"),
    ({"article_slug": "roadmap", "vote": "up"}, 404, "there is no article 'roadmap'"),
])
def test_bad_feedback_is_refused_with_a_reason(client, payload, status, detail):
    response = client.post("/api/feedback", json=payload)
    assert (response.status_code, response.json()) == (status, {"detail": detail})
    assert rows(client, "select * from article_feedback") == []


def test_openapi_documents_the_json_api_only(site):
    schema = site.get("/openapi.json").json()
    assert sorted(schema["paths"]) == [
        "/api/articles", "/api/articles/{slug}", "/api/chat", "/api/chat/{session_id}",
        "/api/chat/{session_id}/feedback", "/api/chat/{session_id}/handoff", "/api/feedback", "/api/search",
        "/api/suggest", "/api/widget/articles", "/api/widget/feedback", "/api/widget/handoff", "/api/widget/messages",
        "/api/widget/session", "/api/widget/transcript", "/api/widget/transcript.txt"]
    assert schema["paths"]["/api/feedback"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FeedbackRequest"}
    assert "400" in schema["paths"]["/api/search"]["get"]["responses"]

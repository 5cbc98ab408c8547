"""Gap reports over HTTP: signals from the chat API and from searches, clustering (on demand and in the
background), the list and detail pages, resolve / dismiss / reopen, and the exports."""

from __future__ import annotations

import csv
import io
import re
import time

import pytest

from tests.test_web_admin import admin, signed_in, token  # noqa: F401 - `admin` is a fixture

WEATHER = ["what's the weather in Paris", "weather in Paris tomorrow", "is the weather in Paris nice"]
WEATHER_ARTICLE = """---
title: Weather in Paris
description: What the weather in Paris is like, and where to check it.
questions:
  - what's the weather in Paris
  - weather in Paris tomorrow
---
## The weather in Paris

Paris weather is mild; check the forecast before you travel.
"""


def ask_off_topic(client, questions=WEATHER, page_url="https://app.example/home"):
    for question in questions:
        reply = client.post("/api/chat", json={"message": question, "page_url": page_url}).json()
        assert reply["type"] == "handoff", question  # the help center cannot answer these


def cluster(client):
    # The token comes from a page that doesn't wake the background worker, so this run is the one that groups.
    page = client.get("/admin/analytics")
    return client.post("/admin/gaps/cluster", data={"csrf_token": token(page.text)})


def gap_ids(client) -> list[int]:
    return [row[0] for row in client.app.state.services.db().execute("select id from gaps order by id").fetchall()]


def wait_for(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_search_with_no_confident_result_is_a_gap_signal(admin):
    admin.get("/search", params={"q": "weather forecast for Paris"}, headers={"referer": "https://help.example/"})
    admin.get("/api/search", params={"q": "paris weather"})
    admin.get("/search", params={"q": "reset my password"})  # found: not a gap
    admin.get("/search", params={"q": "???"})  # says nothing a writer could act on
    rows = admin.app.state.services.db().execute(
        "select source, reason, query_text, page_url from gap_signals order by id").fetchall()
    assert rows == [("search", "no_result", "weather forecast for Paris", "https://help.example/"),
                    ("search", "no_result", "paris weather", None)]


def test_re_cluster_now_groups_chat_and_search_signals_into_a_gap(admin):
    ask_off_topic(admin)
    admin.get("/search", params={"q": "weather in Paris"})
    signed_in(admin, "wendy")
    page = cluster(admin)
    assert page.status_code == 200 and page.url.path == "/admin/gaps"
    assert re.search(r"Grouped 4 new questions: 1 new gap, 0 joined existing gaps", page.text)
    [gap_id] = gap_ids(admin)
    row = re.search(rf'<tr>\s*<th scope="row" class="cell-gap">\s*<a href="/admin/gaps/{gap_id}\?period=30">(.*?)</tr>',
                    page.text, re.S)
    assert row, page.text
    cells = re.findall(r'<td class="num"[^>]*>(\d+)</td>', row.group(1))
    assert cells == ["4", "4"]  # asked 4 times by 4 customers (each chat and the search its own session)
    assert "trend--new" in row.group(1) and "search, no result" in row.group(1) and "low confidence" in row.group(1)
    assert re.search(r"rec rec--(write|edit)", row.group(1)) and "badge--open" in row.group(1)


def test_new_signals_are_grouped_in_the_background_when_the_report_is_opened(admin):
    ask_off_topic(admin)
    signed_in(admin, "wendy")
    first = admin.get("/admin/gaps")
    assert "being grouped in the background" in first.text
    assert wait_for(lambda: gap_ids(admin))
    assert wait_for(lambda: not admin.app.state.services.gap_worker.busy)
    again = admin.get("/admin/gaps")
    assert f'href="/admin/gaps/{gap_ids(admin)[0]}?period=30"' in again.text
    assert "being grouped" not in again.text


def test_the_gap_page_shows_questions_pages_and_the_nearest_articles(admin):
    ask_off_topic(admin)
    signed_in(admin, "ada")
    cluster(admin)
    [gap_id] = gap_ids(admin)
    page = admin.get(f"/admin/gaps/{gap_id}")
    assert page.status_code == 200
    for question in WEATHER:
        assert question.replace("'", "&#39;") in page.text
    assert page.text.count("https://app.example/home") >= 3 and "Asked most on" in page.text
    assert len(re.findall(r'<ol class="nearest">.*?</ol>', page.text, re.S)) == 1
    assert len(re.findall(r'<li><a href="/articles/[^"]+">[^<]+</a> <span class="score">',
                          re.search(r'<ol class="nearest">.*?</ol>', page.text, re.S).group(0))) == 3
    assert '<option value="reset-password"' in page.text and "Resolve with this article" in page.text
    assert re.search(r"Asked 3 times by 3 customers in the last 30 days", page.text)


def test_resolving_with_a_new_article_replays_the_questions(admin, articles_dir):
    ask_off_topic(admin)
    signed_in(admin, "wendy")
    cluster(admin)
    [gap_id] = gap_ids(admin)
    (articles_dir / "getting-started" / "weather.md").write_text(WEATHER_ARTICLE)
    admin.app.state.services.reindex()  # what the file watcher does when a writer saves the article
    page = admin.get(f"/admin/gaps/{gap_id}")
    resolved = admin.post(f"/admin/gaps/{gap_id}/resolve", data={
        "csrf_token": token(page.text), "article_slug": "weather", "note": "new article"})
    assert resolved.status_code == 200 and "Resolved." in resolved.text
    answered = re.search(r"Now answered (\d+) of (\d+)", resolved.text)
    assert answered and answered.group(2) == "3" and int(answered.group(1)) >= 2
    assert "badge--resolved" in resolved.text
    listed = admin.get("/admin/gaps", params={"status": "resolved"}).text
    assert f'href="/admin/gaps/{gap_id}?period=30"' in listed
    assert f'href="/admin/gaps/{gap_id}?period=30"' not in admin.get("/admin/gaps").text


def test_an_article_that_does_not_answer_counts_zero(admin):
    ask_off_topic(admin)
    signed_in(admin, "wendy")
    cluster(admin)
    [gap_id] = gap_ids(admin)
    page = admin.get(f"/admin/gaps/{gap_id}")
    resolved = admin.post(f"/admin/gaps/{gap_id}/resolve", data={"csrf_token": token(page.text),
                                                                 "article_slug": "refunds"})
    assert "Now answered 0 of 3" in resolved.text


@pytest.mark.parametrize(("form", "message"), [
    ({"article_slug": ""}, "name the article that answers this gap"),
    ({"article_slug": "no-such-article"}, "no published article has the slug"),
])
def test_a_bad_resolve_says_what_to_do(admin, form, message):
    ask_off_topic(admin)
    signed_in(admin, "wendy")
    cluster(admin)
    [gap_id] = gap_ids(admin)
    page = admin.get(f"/admin/gaps/{gap_id}")
    response = admin.post(f"/admin/gaps/{gap_id}/resolve", data={"csrf_token": token(page.text), **form})
    assert response.status_code == 422 and message in response.text and 'role="alert"' in response.text
    assert admin.app.state.services.db().execute("select status from gaps").fetchone()[0] == "open"


def test_dismiss_needs_a_reason_and_reopen_brings_it_back(admin):
    ask_off_topic(admin)
    signed_in(admin, "wendy")
    cluster(admin)
    [gap_id] = gap_ids(admin)
    csrf = token(admin.get(f"/admin/gaps/{gap_id}").text)
    empty = admin.post(f"/admin/gaps/{gap_id}/dismiss", data={"csrf_token": csrf, "reason": "   "})
    assert empty.status_code == 422 and "say why the gap is dismissed" in empty.text
    dismissed = admin.post(f"/admin/gaps/{gap_id}/dismiss", data={"csrf_token": csrf, "reason": "We are not a weather app"})
    assert dismissed.status_code == 200 and "Dismissed: We are not a weather app" in dismissed.text
    assert "Put it back on the open list" in dismissed.text
    assert f"/admin/gaps/{gap_id}?" in admin.get("/admin/gaps", params={"status": "dismissed"}).text
    reopened = admin.post(f"/admin/gaps/{gap_id}/reopen", data={"csrf_token": csrf})
    assert reopened.status_code == 200 and "Reopened: it is back on the open list." in reopened.text
    assert "was dismissed: We are not a weather app" in reopened.text
    again = admin.post(f"/admin/gaps/{gap_id}/reopen", data={"csrf_token": csrf})
    assert again.status_code == 422 and "already open" in again.text


def test_gap_actions_check_the_csrf_token(admin):
    ask_off_topic(admin)
    signed_in(admin, "wendy")
    cluster(admin)
    [gap_id] = gap_ids(admin)
    response = admin.post(f"/admin/gaps/{gap_id}/dismiss", data={"csrf_token": "nope", "reason": "spam"})
    assert response.status_code == 403
    assert admin.app.state.services.db().execute("select status from gaps").fetchone()[0] == "open"


def test_exports(admin):
    ask_off_topic(admin)
    signed_in(admin, "wendy")
    cluster(admin)
    as_csv = admin.get("/admin/gaps.csv", params={"period": "7"})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.headers["content-disposition"] == 'attachment; filename="gaps-open-7d.csv"'
    assert as_csv.headers["cache-control"] == "no-store"
    [row] = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert (row["status"], row["count"], row["distinct_customers"]) == ("open", "3", "3")
    assert set(row["sample_questions"].split("\n")) == set(WEATHER)
    as_json = admin.get("/admin/gaps.json", params={"status": "all", "sort": "count"}).json()
    assert (as_json["status"], as_json["sort"], len(as_json["gaps"])) == ("all", "count", 1)
    assert admin.get("/admin/gaps.json", params={"period": "3"}).status_code == 422


def test_unknown_gaps_and_bad_filters(admin):
    signed_in(admin, "wendy")
    assert admin.get("/admin/gaps/999").status_code == 404
    assert admin.get("/admin/gaps", params={"sort": "random"}).status_code == 422
    assert "No open gaps asked about in the last 30 days." in admin.get("/admin/gaps").text


def test_what_customers_asked_is_escaped_on_gap_pages(admin):
    ask_off_topic(admin, ["<script>alert(1)</script> weather in Paris", "<b>weather</b> in Paris", "weather in Paris"],
                  page_url="javascript:alert(1)")
    signed_in(admin, "wendy")
    cluster(admin)
    [gap_id] = gap_ids(admin)
    for path in ("/admin/gaps", f"/admin/gaps/{gap_id}"):
        text = admin.get(path).text
        assert "<script>alert(1)" not in text and "<b>weather" not in text, path
        assert 'href="javascript:' not in text, path
    assert "&lt;b&gt;weather&lt;/b&gt;" in admin.get(f"/admin/gaps/{gap_id}").text


def test_an_impossible_gap_id_is_a_clear_4xx(admin):
    signed_in(admin, "wendy")
    assert admin.get(f"/admin/gaps/{2**70}").status_code == 422
    assert admin.get("/admin/gaps/0").status_code == 422

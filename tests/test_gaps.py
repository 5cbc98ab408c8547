"""Gap reports: signals, clustering with stable ids, writers' numbers, actions, export, and the `kb gaps` command."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.gaps import (
    ClusterReport, GapNotFoundError, cluster_gaps, dismiss_gap, export_gaps, gap_detail,
    keywords_by_group, list_gaps, nearest_article, normalize_query, record_signal, reopen_gap, resolve_gap,
    title_from_question,
)
from kb import cli
from kb.storage import DB_FILE, open_db

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
QUESTIONS = json.loads((Path(__file__).parent / "fixtures" / "gap_questions.json").read_text(encoding="utf-8"))
# Phrased so the fake bag-of-words embedder sees the overlap a real model sees in meaning.
DARK = ["dark mode in the app", "Enable dark mode in the app?", "dark mode for the app please"]
GIFT = ["gift a subscription to a friend", "How to gift a subscription?", "gift a subscription for a friend"]
runner = CliRunner()


def ask(db, question: str, days_ago: float = 1.0, **fields) -> int:
    fields.setdefault("source", "chat")
    fields.setdefault("reason", "low_confidence")
    return record_signal(db, query=question, now=NOW - timedelta(days=days_ago), **fields)


def gap_of(db, signal_id: int) -> int | None:
    return db["gap_signals"].get(signal_id)["gap_id"]


@pytest.mark.parametrize("text, expected", [
    ("  How do I   GIFT a subscription?? ", "how do i gift a subscription"),
    ("Dark mode!", "dark mode"),
    ("dark\tmode\n in the app...", "dark mode in the app"),
    ("?!", ""),
])
def test_normalize_query(text, expected):
    assert normalize_query(text) == expected


def test_record_signal_is_one_row_with_its_context(db):
    signal_id = record_signal(
        db, source="search", reason="no_result", query="  Is there a dark mode? ", session_id="s1", top_score=0.21,
        top_article_slug="update-your-profile", page_url="https://x.example/app", message_id=None, now=NOW,
    )
    assert db["gap_signals"].get(signal_id) == {
        "id": signal_id, "ts": "2026-06-01T12:00:00+00:00", "source": "search", "reason": "no_result",
        "session_id": "s1", "query_text": "Is there a dark mode?", "query_norm": "is there a dark mode",
        "top_score": 0.21, "top_article_slug": "update-your-profile", "page_url": "https://x.example/app",
        "message_id": None, "gap_id": None,
    }


@pytest.mark.parametrize("fields, message", [
    ({"source": "email", "reason": "handoff", "query": "x"}, "unknown gap signal source 'email'"),
    ({"source": "chat", "reason": "angry", "query": "x"}, "unknown gap signal reason 'angry'"),
    ({"source": "chat", "reason": "handoff", "query": " ?? "}, "no question text"),
])
def test_record_signal_rejects_bad_input(db, fields, message):
    with pytest.raises(ValueError, match=message):
        record_signal(db, **fields)


@pytest.mark.parametrize("question, title", [
    ("How do I gift a subscription?", "Gift a subscription"),
    ("Is there a dark mode in the app?", "Dark mode in the app"),
    ("can I share my account with my family", "Share your account with your family"),
    ("do you have a family plan", "Family plan"),
    ("i want to teach a course", "Teach a course"),
    ("Are there courses in Spanish?", "Courses in Spanish"),
    ("roku app for lumio?", "Roku app for lumio"),
    ("how do i", "How do you"),
])
def test_title_from_question(question, title):
    assert title_from_question(question) == title


def test_keywords_set_each_group_apart():
    words = keywords_by_group({1: ["is there a dark mode", "dark mode in the app"],
                               2: ["gift a subscription", "gift a subscription to a friend", "app gift"]}, top=2)
    # "gift" is in every question of group 2, "gift subscription" in two of them: the word ranks first.
    assert words == {1: ["dark mode", "app"], 2: ["gift", "subscription"]}


def test_cluster_makes_gaps_and_keeps_ids_stable(db, fake_embedder):
    dark = [ask(db, q, days_ago=3) for q in DARK]
    gift = [ask(db, q, days_ago=2) for q in GIFT]
    lonely = ask(db, "weather forecast for paris")
    first = cluster_gaps(db, fake_embedder, now=NOW)
    assert (first.signals, first.queries, first.embedded, first.attached, first.pending) == (7, 7, 7, 0, 1)
    assert first.created == (1, 2) and first.grew == () and first.reopened == ()
    assert {gap_of(db, s) for s in dark} == {1} and {gap_of(db, s) for s in gift} == {2}
    assert gap_of(db, lonely) is None  # asked once: waits for a similar question
    titles = {r["id"]: (r["title"], r["suggested_title"], r["status"]) for r in db["gaps"].rows}
    assert titles == {1: ("Dark mode in the app", "Dark mode in the app", "open"),
                      2: ("Gift a subscription to a friend", "Gift a subscription", "open")}

    again = cluster_gaps(db, fake_embedder, now=NOW)
    assert (again.signals, again.created, again.embedded) == (1, (), 0)
    more = [ask(db, "turn on dark mode in the app", days_ago=0.5), ask(db, "gift a subscription to my friend", 0.5)]
    third = cluster_gaps(db, fake_embedder, now=NOW)
    assert third.created == () and third.grew == (1, 2) and third.attached == 2
    assert [gap_of(db, s) for s in more] == [1, 2]
    assert third.embedded == 2  # the other questions' vectors come from the cache
    assert [g.id for g in list_gaps(db, now=NOW, sort="count")] == [1, 2]


def test_small_batches_give_the_same_gaps(db, fake_embedder):
    dark = [ask(db, q, days_ago=3 - i * 0.1) for i, q in enumerate(DARK)]
    gift = [ask(db, q, days_ago=2 - i * 0.1) for i, q in enumerate(GIFT)]
    # Batches of 2: the third dark question joins the gap of the first two by centroid; a lone gift
    # question waits and is clustered again with the next batch.
    report = cluster_gaps(db, fake_embedder, now=NOW, batch_size=2)
    assert (report.created, report.grew, report.pending) == ((1, 2), (), 0)
    assert [gap_of(db, s) for s in dark + gift] == [1, 1, 1, 2, 2, 2]
    with pytest.raises(ValueError, match="unknown linkage 'ward'"):
        cluster_gaps(db, fake_embedder, linkage="ward")


def test_a_question_asked_twice_is_a_gap_on_its_own(db, fake_embedder):
    ids = [ask(db, "Do you support Chromebooks?", session_id="a"), ask(db, "do you support chromebooks", session_id="b")]
    report = cluster_gaps(db, fake_embedder, now=NOW)
    assert report.created == (1,) and [gap_of(db, s) for s in ids] == [1, 1]


def test_a_dismissed_gap_stays_dismissed_and_takes_its_new_questions(db, fake_embedder):
    for q in DARK:
        ask(db, q, days_ago=5)
    cluster_gaps(db, fake_embedder, now=NOW - timedelta(days=4))
    view = dismiss_gap(db, 1, "  we won't build a dark mode  ", now=NOW - timedelta(days=4))
    assert (view.status, view.dismissed_reason) == ("dismissed", "we won't build a dark mode")
    later = [ask(db, "turn on dark mode in the app", days_ago=1), ask(db, "dark mode in the app", days_ago=1)]
    report = cluster_gaps(db, fake_embedder, now=NOW)
    assert report.created == () and report.reopened == () and report.grew == (1,)
    assert [gap_of(db, s) for s in later] == [1, 1]
    assert db["gaps"].get(1)["status"] == "dismissed"
    assert list_gaps(db, now=NOW) == []
    assert [(g.id, g.count) for g in list_gaps(db, status="dismissed", now=NOW)] == [(1, 5)]


def test_a_resolved_gap_reopens_when_asked_again_after_it_was_resolved(db, fake_embedder):
    for q in GIFT:
        ask(db, q, days_ago=10)
    cluster_gaps(db, fake_embedder, now=NOW - timedelta(days=9))
    early = ask(db, "gift a subscription to my friend", days_ago=8.5)  # asked before the resolve: no reopen
    resolve_gap(db, 1, "gift-a-subscription", note="new article", now=NOW - timedelta(days=8))
    assert cluster_gaps(db, fake_embedder, now=NOW - timedelta(days=7)).reopened == ()
    assert gap_of(db, early) == 1 and db["gaps"].get(1)["status"] == "resolved"

    late = ask(db, "how to gift a subscription to a friend", days_ago=2)
    report = cluster_gaps(db, fake_embedder, now=NOW)
    assert report.reopened == (1,) and gap_of(db, late) == 1
    gap = db["gaps"].get(1)
    assert gap["status"] == "open" and gap["resolved_article_slug"] == "gift-a-subscription"
    assert gap["status_note"] == ("Reopened automatically on 2026-06-01: asked 1 more time after it was resolved "
                                  "with 'gift-a-subscription' on 2026-05-24.")


@pytest.mark.parametrize("current, previous, trend, pct", [
    (3, 1, "up", 200.0), (1, 4, "down", -75.0), (2, 2, "flat", 0.0), (2, 0, "new", None),
])
def test_trend_compares_with_the_previous_period(db, fake_embedder, current, previous, trend, pct):
    for i in range(current):
        ask(db, DARK[i % 3], days_ago=1 + i)  # inside the last 7 days
    for i in range(previous):
        ask(db, DARK[i % 3], days_ago=8 + i)  # the 7 days before
    ask(db, DARK[0], days_ago=15)  # older than both periods: not counted
    ask(db, DARK[0], days_ago=-1)  # after `now`: not counted
    cluster_gaps(db, fake_embedder, now=NOW + timedelta(days=2))
    [view] = list_gaps(db, period_days=7, now=NOW)
    assert (view.count, view.previous_count, view.trend, view.trend_pct) == (current, previous, trend, pct)
    assert view.last_seen == "2026-05-31T12:00:00+00:00" and view.first_seen == "2026-05-17T12:00:00+00:00"


def test_customers_are_sessions_and_one_chat_message_counts_once(db, fake_embedder):
    ask(db, DARK[0], session_id="a", message_id=10)
    ask(db, DARK[0], session_id="a", message_id=10, reason="handoff")  # the same message, handed off
    ask(db, DARK[1], session_id="a", message_id=12)
    ask(db, DARK[2], session_id="b", message_id=20)
    ask(db, DARK[2], source="search", reason="no_result")  # anonymous searches can't be told apart
    ask(db, DARK[1], source="search", reason="no_result")
    cluster_gaps(db, fake_embedder, now=NOW)
    [view] = list_gaps(db, now=NOW)
    assert (view.count, view.distinct_customers, view.handoffs) == (5, 4, 1)
    assert view.reasons == {"low_confidence": 3, "no_result": 2, "handoff": 1}
    assert view.impact == 5 + 4 + 1
    assert view.sample_questions == ("Enable dark mode in the app?", "dark mode for the app please",
                                     "dark mode in the app")  # distinct, newest first


def test_list_sorts_and_filters(db, fake_embedder):
    for q in DARK * 2:
        ask(db, q, days_ago=20)  # dark: 6 questions, all 20 days ago
    for q in GIFT:
        ask(db, q, days_ago=1, session_id=q)  # gift: 3 questions, yesterday
    cluster_gaps(db, fake_embedder, now=NOW)
    assert [g.id for g in list_gaps(db, now=NOW, sort="count")] == [1, 2]
    assert [g.id for g in list_gaps(db, now=NOW, sort="last_seen")] == [2, 1]
    assert [g.id for g in list_gaps(db, now=NOW, period_days=7, sort="impact")] == [2]  # dark was quiet
    assert [g.id for g in list_gaps(db, now=NOW, period_days=7, include_quiet=True, sort="trend")] == [2, 1]
    resolve_gap(db, 1, "dark-mode", now=NOW)
    assert [(g.id, g.count) for g in list_gaps(db, status="resolved", period_days=7, now=NOW)] == [(1, 0)]
    assert [g.id for g in list_gaps(db, status="all", period_days=7, now=NOW)] == [2, 1]  # quiet ones listed too
    with pytest.raises(ValueError, match="unknown sort 'size': use one of impact, count, last_seen, trend"):
        list_gaps(db, sort="size")
    with pytest.raises(ValueError, match="unknown gap status 'closed'"):
        list_gaps(db, status="closed")


def test_nearest_article_is_stored_and_sets_the_recommendation(db, fake_embedder):
    for q in DARK + GIFT:
        ask(db, q)
    cluster_gaps(db, fake_embedder, now=NOW)
    asked: list[str] = []

    def nearest(question: str) -> tuple[str, str, float] | None:
        asked.append(question)
        return ("redeem-a-gift-card", "Redeem a gift card", 0.81) if "gift" in question.lower() else None

    views = {v.title: v for v in list_gaps(db, now=NOW, nearest=nearest, edit_score=0.75)}
    assert sorted(asked) == ["Dark mode in the app", "Gift a subscription to a friend"]
    views = {2: views["Gift a subscription to a friend"], 1: views["Dark mode in the app"]}
    gift_id = views[2].id
    assert (views[2].nearest_article_slug, views[2].nearest_article_score, views[2].recommendation) == (
        "redeem-a-gift-card", 0.81, "edit")
    assert views[2].recommendation_text == ('Edit the existing article "Redeem a gift card" (0.81 similar) '
                                            "to answer these questions")
    assert (views[1].nearest_article_slug, views[1].recommendation) == (None, "write")
    assert views[1].recommendation_text == 'Write a new article: "Dark mode in the app"'
    stored = db["gaps"].get(gift_id)
    assert (stored["nearest_article_slug"], stored["nearest_article_title"]) == ("redeem-a-gift-card", "Redeem a gift card")
    assert {v.recommendation for v in list_gaps(db, now=NOW, edit_score=0.9)} == {"write"}  # stored, no lookup


def test_detail_lists_questions_with_times_and_pages(db, fake_embedder):
    for i, q in enumerate(DARK * 2):
        ask(db, q, days_ago=i, session_id=f"s{i}", page_url="https://app.example/settings" if i % 2 else None)
    cluster_gaps(db, fake_embedder, now=NOW)
    detail = gap_detail(db, 1, now=NOW, limit=4)
    assert [(q.text, q.ts[:10], q.page_url) for q in detail.questions] == [
        ("dark mode in the app", "2026-06-01", None),
        ("Enable dark mode in the app?", "2026-05-31", "https://app.example/settings"),
        ("dark mode for the app please", "2026-05-30", None),
        ("dark mode in the app", "2026-05-29", "https://app.example/settings"),
    ]
    assert detail.pages == (("https://app.example/settings", 3),)
    with pytest.raises(GapNotFoundError, match="no gap has id 99"):
        gap_detail(db, 99)


def test_resolve_with_replay_stores_answered_x_of_y(db, fake_embedder):
    for q in GIFT + GIFT[:1]:
        ask(db, q)
    cluster_gaps(db, fake_embedder, now=NOW)
    replayed: list[list[str]] = []

    def replay(questions: list[str]) -> list[bool]:
        replayed.append(questions)
        return ["how" in q.lower() for q in questions]

    view = resolve_gap(db, 1, "gift-a-subscription", note="wrote it", replay=replay, now=NOW)
    assert sorted(replayed[0]) == sorted(GIFT)  # distinct questions, once each
    assert (view.status, view.resolved_article_slug, view.resolution_note) == ("resolved", "gift-a-subscription",
                                                                              "wrote it")
    assert (view.replay_answered, view.replay_total) == (1, 3)
    with pytest.raises(ValueError, match="replay returned 1 answers for 3 questions"):
        resolve_gap(db, 1, "gift-a-subscription", replay=lambda qs: [True])


def test_actions_reject_bad_input(db, fake_embedder):
    for q in DARK:
        ask(db, q)
    cluster_gaps(db, fake_embedder, now=NOW)
    with pytest.raises(GapNotFoundError, match="no gap has id 7: list them with `kb gaps list --status all`"):
        resolve_gap(db, 7, "x")
    with pytest.raises(ValueError, match="name the article"):
        resolve_gap(db, 1, "  ")
    with pytest.raises(ValueError, match="say why the gap is dismissed"):
        dismiss_gap(db, 1, " ")
    with pytest.raises(ValueError, match="gap 1 is already open"):
        reopen_gap(db, 1)
    dismiss_gap(db, 1, "out of scope")
    view = reopen_gap(db, 1, now=NOW)
    assert (view.status, view.status_note) == ("open", "Reopened by hand on 2026-06-01 (was dismissed: out of scope).")


def test_resolve_checks_the_article_exists_when_there_is_a_catalog(indexed, data_dir, fake_embedder):
    db = open_db(data_dir / DB_FILE)
    ask(db, "refund please", session_id="a")
    ask(db, "refund please", session_id="b")
    cluster_gaps(db, fake_embedder, now=NOW)
    with pytest.raises(ValueError, match="no published article has the slug 'nope': publish it and run `kb index`"):
        resolve_gap(db, 1, "nope")
    assert resolve_gap(db, 1, "refunds").status == "resolved"


def test_replay_through_the_chatbot_decision(indexed, data_dir, fake_embedder):
    from bot.chat import Thresholds
    from bot.confidence import Calibration
    from bot.gap_review import article_replay
    from search.searcher import Searcher

    searcher = Searcher.load(data_dir, fake_embedder)
    replay = article_replay(searcher, Calibration(weights=(12.0, 0.0, 0.0), bias=-6.0, source="test"), Thresholds(),
                            "reset-password")
    assert replay(["I forgot my password", "zebra quantum banana", "can I get my money back"]) == [
        True, False, False]
    assert nearest_article(searcher)("reset my password")[0] == "reset-password"


def test_export_csv_and_json_round_trip(db, fake_embedder):
    for q in DARK:
        ask(db, q, session_id=q)
    for q in GIFT:
        ask(db, q, days_ago=10)
    ask(db, "=HYPERLINK(\"http://evil\") dark mode in the app")
    cluster_gaps(db, fake_embedder, now=NOW)
    views = list_gaps(db, now=NOW)
    document = json.loads(export_gaps(db, "json", now=NOW))
    assert document["generated_at"] == "2026-06-01T12:00:00+00:00" and document["period_days"] == 30
    assert document["gaps"] == [v.properties() for v in views]
    rows = list(csv.DictReader(io.StringIO(export_gaps(db, "csv", now=NOW))))
    assert [(int(r["id"]), int(r["count"]), r["suggested_title"], r["recommendation"]) for r in rows] == [
        (v.id, v.count, v.suggested_title, v.recommendation) for v in views]
    dark = next(r for r in rows if r["id"] == "1")
    assert dark["sample_questions"].splitlines()[0] == "'=HYPERLINK(\"http://evil\") dark mode in the app"
    assert dark["sample_questions"].splitlines()[1:] == ["dark mode for the app please", "Enable dark mode in the app?",
                                                         "dark mode in the app"]
    assert dark["reasons"] == "low_confidence: 4"
    with pytest.raises(ValueError, match="unknown export format 'xml': use csv or json"):
        export_gaps(db, "xml")


def test_a_new_model_rebuilds_the_centroids(db, fake_embedder):
    for q in DARK:
        ask(db, q)
    cluster_gaps(db, fake_embedder, now=NOW)

    class OtherModel(type(fake_embedder)):  # type: ignore[misc]
        model_name = "another-model"

    ask(db, "turn on dark mode in the app")
    report = cluster_gaps(db, OtherModel(), now=NOW)
    assert report.grew == (1,) and db["gaps"].get(1)["centroid_model"] == "another-model"


# -- the `kb gaps` command ----------------------------------------------------------------------------------


@pytest.fixture
def gap_data(data_dir, fake_embedder, monkeypatch):
    monkeypatch.setattr(cli, "build_embedder", lambda settings: fake_embedder)
    db = open_db(data_dir / DB_FILE)
    now = datetime.now(UTC)
    for i, q in enumerate(DARK + GIFT + ["[bold]gift a subscription to a friend[/bold]"]):
        record_signal(db, source="chat", reason="handoff", query=q, session_id=f"s{i}", now=now - timedelta(hours=i))
    return data_dir


def test_cli_cluster_list_show_export(gap_data, tmp_path):
    data = ["--data", str(gap_data)]
    result = runner.invoke(cli.app, ["gaps", "cluster", *data])
    assert result.exit_code == 0, result.output
    assert "Grouped 7 new questions (7 distinct, 7 embedded)" in result.output
    assert "2 new gaps, 0 joined 0 existing gaps, 0 reopened; 0 wait for a similar question." in result.output
    assert "nearest articles are not looked up" in result.output  # no index in this data folder

    result = runner.invoke(cli.app, ["gaps", "list", *data], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Gift a subscription to a friend" in result.output and 'write "Dark mode in the app"' in result.output

    result = runner.invoke(cli.app, ["gaps", "show", "1", *data], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "[bold]gift a subscription to a friend[/bold]" in result.output  # shown as typed, not as markup

    out = tmp_path / "gaps.json"
    result = runner.invoke(cli.app, ["gaps", "export", "--format", "json", "--output", str(out), *data])
    assert result.exit_code == 0, result.output
    assert [g["id"] for g in json.loads(out.read_text())["gaps"]] == [1, 2]  # gift was asked more
    result = runner.invoke(cli.app, ["gaps", "export", "--format", "csv", *data])
    assert result.exit_code == 0 and result.output.startswith("id,status,title,suggested_title,count")
    result = runner.invoke(cli.app, ["gaps", "export", "--format", "xml", *data])
    assert result.exit_code == 1 and "use csv or json" in result.output


def test_cli_resolve_dismiss_reopen(gap_data):
    data = ["--data", str(gap_data)]
    assert runner.invoke(cli.app, ["gaps", "cluster", *data]).exit_code == 0
    result = runner.invoke(cli.app, ["gaps", "resolve", "1", "--article", "gift-a-subscription", "--no-replay", *data])
    assert result.exit_code == 0 and "Resolved gap 1 with gift-a-subscription" in result.output
    result = runner.invoke(cli.app, ["gaps", "dismiss", "2", "--reason", "not our product", *data])
    assert result.exit_code == 0 and "Dismissed gap 2" in result.output
    result = runner.invoke(cli.app, ["gaps", "list", "--status", "all", *data], env={"COLUMNS": "200"})
    assert "resolved with gift-a-subscription" in result.output and "dismissed: not our product" in result.output
    assert runner.invoke(cli.app, ["gaps", "reopen", "2", *data]).exit_code == 0
    result = runner.invoke(cli.app, ["gaps", "reopen", "2", *data])
    assert result.exit_code == 1 and "gap 2 is already open" in result.output
    result = runner.invoke(cli.app, ["gaps", "dismiss", "42", "--reason", "x", *data])
    assert result.exit_code == 1 and "no gap has id 42" in result.output
    result = runner.invoke(cli.app, ["gaps", "list", "--sort", "size", *data])
    assert result.exit_code == 1 and "unknown sort 'size'" in result.output


def test_cli_resolve_replays_against_the_index(indexed, data_dir, fake_embedder, monkeypatch):
    monkeypatch.setattr(cli, "build_embedder", lambda settings: fake_embedder)
    db = open_db(data_dir / DB_FILE)
    for sid in ("a", "b"):
        record_signal(db, source="chat", reason="not_helpful", query="how do I get a refund", session_id=sid)
    assert runner.invoke(cli.app, ["gaps", "cluster", "--data", str(data_dir)]).exit_code == 0
    assert db["gaps"].get(1)["nearest_article_slug"] == "refunds"
    result = runner.invoke(cli.app, ["gaps", "resolve", "1", "--article", "refunds", "--data", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "Resolved gap 1 with refunds: now answered" in result.output and "of 1 questions" in result.output


# -- the real model on realistic questions --------------------------------------------------------------------


@pytest.mark.slow
def test_real_model_groups_paraphrases_and_keeps_topics_apart(real_embedder):
    db = open_db(None)
    topic_of: dict[int, str] = {}
    for topic, questions in QUESTIONS["topics"].items():
        for q in questions:
            topic_of[ask(db, q, days_ago=2)] = topic
    noise = [ask(db, q, days_ago=2) for q in QUESTIONS["noise"]]
    report: ClusterReport = cluster_gaps(db, real_embedder, now=NOW - timedelta(days=1))

    members: dict[int, list[str]] = {}
    for signal_id, gap_id in db.execute("select id, gap_id from gap_signals where gap_id is not null").fetchall():
        members.setdefault(gap_id, []).append(topic_of.get(signal_id, "noise"))
    clustered = sum(len(m) for m in members.values())
    purity = sum(Counter(m).most_common(1)[0][1] for m in members.values()) / clustered
    assert purity >= 0.85, members
    assert clustered >= 0.8 * len(topic_of)  # most questions are in a gap ...
    assert all(gap_of(db, s) is None for s in noise)  # ... and no one-off question is
    assert len(report.created) <= 2 * len(QUESTIONS["topics"])  # topics may split in two, not scatter

    def together(a: str, b: str) -> bool:
        found = {r[0]: r[1] for r in db.execute("select query_text, gap_id from gap_signals").fetchall()}
        return found[a] is not None and found[a] == found[b]

    assert together("Is there a dark mode in the app?", "how do i turn on dark mode")
    assert together("Are there courses in Spanish?", "do you have classes taught in spanish")
    assert together("How do I gift a subscription?", "how to send someone a gift subscription")
    assert together("is there an app for samsung smart tv", "roku app for lumio?")
    assert not together("Is there a dark mode in the app?", "Are there courses in Spanish?")
    assert not together("How do I gift a subscription?", "is there an app for samsung smart tv")

    # A week later, new wordings of the same topics join the gaps that exist instead of making new ones.
    majority = {gap_id: Counter(m).most_common(1)[0][0] for gap_id, m in members.items()}
    later = {"dark": ["how to activate dark mode on android", "dark mode"], "family": ["family plan price"],
             "tv": ["can i watch lumio on my television", "is there a lumio app for smart tvs"],
             "spanish": ["do you offer courses in spanish", "french courses?"],
             "teach": ["how to become a lumio instructor", "I'd like to teach on lumio"],
             "gift": ["gift a subscription"]}
    new = {ask(db, q, days_ago=0): topic for topic, qs in later.items() for q in qs}
    second = cluster_gaps(db, real_embedder, now=NOW)
    assert second.created == ()
    right = sum(1 for s, topic in new.items() if majority.get(gap_of(db, s)) == topic)
    assert right >= 9, {db["gap_signals"].get(s)["query_text"]: gap_of(db, s) for s in new}


def test_two_processes_clustering_at_once_file_each_question_once(tmp_path, fake_embedder):
    # Server workers share one database; each runs the clustering. A slow model widens the window
    # between reading the unassigned questions and filing them, where both used to read the same ones.
    import threading
    import time

    class SlowEmbedder(type(fake_embedder)):  # type: ignore[misc]
        def encode(self, texts):
            time.sleep(0.2)
            return super().encode(texts)

    path = tmp_path / DB_FILE
    setup = open_db(path)
    signals = [ask(setup, q) for q in DARK + GIFT]
    reports: list[ClusterReport] = []

    def worker() -> None:
        db = open_db(path)
        reports.append(cluster_gaps(db, SlowEmbedder(), now=NOW))
        db.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(r.created) for r in reports) == [0, 2]  # one run filed both gaps; the other found nothing new
    assert setup.execute("select count(*) from gaps").fetchone()[0] == 2
    assert {gap_of(setup, s) for s in signals} == {1, 2}
    setup.close()

"""The library pieces behind the admin pages: the inbox, background gap clustering, gap review, search gap
signals and the analytics' daily breakdown (the pages themselves are in test_web_admin*.py)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from bot import analytics
from bot.chat import Thresholds
from bot.confidence import Calibration
from bot.conversations import add_message, create_conversation
from bot.gap_review import ArticleMatch, article_replay, nearest_articles
from bot.gap_worker import GapClusterWorker, newest_signal_id
from bot.gaps import record_signal
from bot.handoff import open_ticket, set_status
from bot.inbox import list_inbox, ticket_counts
from bot.search_log import record_search
from kb.events import record_query
from kb.storage import open_db
from search.results import SearchResults
from search.searcher import Searcher


def new_ticket(db, question, email, verified=False):
    conversation = create_conversation(db)
    add_message(db, conversation, "user", question)
    return open_ticket(db, conversation, reason="user_requested", email=email, verified=verified)[0]


def test_the_inbox_lists_newest_first_with_counts_and_verified_flags(db):
    first = new_ticket(db, "where is my invoice", "ann@example.com", verified=True)
    second = new_ticket(db, "cancel my plan", "bob@example.com")
    set_status(db, first.reference, "closed")
    inbox = list_inbox(db)
    assert [(r.ticket.reference, r.verified) for r in inbox.rows] == [(second.reference, False), (first.reference, True)]
    assert inbox.counts == {"open": 1, "pending": 0, "closed": 1} == ticket_counts(db)
    assert (inbox.total, inbox.matching) == (2, 2)
    assert [r.ticket.reference for r in list_inbox(db, status="closed").rows] == [first.reference]
    found = list_inbox(db, query="bob@")
    assert ([r.ticket.reference for r in found.rows], found.matching) == ([second.reference], 1)
    assert list_inbox(db, query="invoice", limit=0).matching == 1  # counted beyond the rows shown
    with pytest.raises(ValueError, match="status must be one of open, pending, closed"):
        list_inbox(db, status="archived")


def test_an_empty_inbox_counts_every_status(db):
    assert list_inbox(db).counts == {"open": 0, "pending": 0, "closed": 0}


def dark_mode_signals(db, n=3):
    for i, question in enumerate(["is there a dark mode", "dark mode please", "how do I turn on dark mode"][:n]):
        record_signal(db, source="chat", reason="low_confidence", query=question, session_id=f"s{i}")


def test_the_worker_clusters_only_when_there_is_something_new(tmp_path, fake_embedder):
    db = open_db(tmp_path / "kb.db")
    worker = GapClusterWorker(tmp_path / "kb.db", fake_embedder, interval=0)
    assert not worker.has_new_signals(db) and newest_signal_id(db) == 0
    dark_mode_signals(db)
    assert worker.has_new_signals(db)
    report = worker.run(db)
    assert (report.signals, len(report.created)) == (3, 1) and worker.last_report == report
    assert worker.last_run is not None and worker.last_error is None
    assert not worker.has_new_signals(db)
    record_signal(db, source="search", reason="no_result", query="dark mode on android")
    assert worker.has_new_signals(db)


def test_the_worker_thread_groups_new_signals_when_woken(tmp_path, fake_embedder):
    db = open_db(tmp_path / "kb.db")
    worker = GapClusterWorker(tmp_path / "kb.db", fake_embedder, interval=0).start()
    try:
        dark_mode_signals(db)
        worker.wake()
        deadline = time.monotonic() + 10
        while not db.execute("select count(*) from gaps").fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert db.execute("select count(*) from gaps").fetchone()[0] == 1
    finally:
        worker.stop()
    assert not worker.running


def test_the_worker_runs_on_its_interval(tmp_path, fake_embedder):
    db = open_db(tmp_path / "kb.db")
    dark_mode_signals(db)
    worker = GapClusterWorker(tmp_path / "kb.db", fake_embedder, interval=0.05).start()
    try:
        deadline = time.monotonic() + 10
        while worker.last_report is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert worker.last_report is not None and worker.last_report.signals == 3
    finally:
        worker.stop()


def test_a_failed_run_is_reported(tmp_path):
    class Broken:
        model_name, dims = "broken", 4

        def encode(self, texts):
            raise RuntimeError("model not loaded")

    db = open_db(tmp_path / "kb.db")
    dark_mode_signals(db)
    worker = GapClusterWorker(tmp_path / "kb.db", Broken())
    with pytest.raises(RuntimeError):
        worker.run(db)
    assert worker.last_error == "RuntimeError: model not loaded" and worker.has_new_signals(db)


@pytest.fixture
def searcher(indexed, data_dir, fake_embedder):
    loaded = Searcher.load(data_dir, fake_embedder)
    yield loaded
    loaded.close()


def test_nearest_articles(searcher):
    found = nearest_articles(searcher, "I forgot my password", k=3)
    assert len(found) == 3 and found[0] == ArticleMatch("reset-password", "Reset your password",
                                                        "/articles/reset-password", found[0].score)
    assert found[0].score >= found[1].score >= found[2].score
    assert nearest_articles(searcher, "   ") == []


def test_the_replay_counts_questions_the_linked_article_now_answers(searcher):
    # With the fake embedder: two outright answers with reset-password, a "Did you mean" led by
    # reset-password, an outright answer with change-email, one handoff.
    questions = ["I forgot my password", "reset password", "reset my email", "how do I change my email",
                 "what's the weather in Paris"]
    replay = article_replay(searcher, Calibration(), Thresholds(), "reset-password")
    # A "Did you mean" choice led by the linked article counts; an answer with another article doesn't.
    assert replay(questions) == [True, True, True, False, False]
    assert article_replay(searcher, Calibration(), Thresholds(), "change-email")(questions) == [False, False, False, True, False]


def test_a_search_with_no_result_is_a_gap_signal(db):
    record_search(db, SearchResults("weather in Paris", []), "s1", "https://help.example/")
    record_search(db, SearchResults("?!", []), "s1")
    assert db.execute("select count(*) from query_events").fetchone()[0] == 2
    rows = db.execute("select source, reason, query_text, session_id, page_url from gap_signals").fetchall()
    assert rows == [("search", "no_result", "weather in Paris", "s1", "https://help.example/")]


def test_the_daily_breakdown_lists_every_day(db):
    now = dt.datetime(2026, 3, 10, 12, tzinfo=dt.timezone.utc)
    from kb.events import QueryEvent

    for day, answered in ((9, True), (9, False), (7, True)):
        record_query(db, QueryEvent(channel="search", query_text="x", answered=answered,
                                    ts=f"2026-03-{day:02d}T08:00:00.000+00:00"))
    report = analytics.report(db, period_days=7, now=now)
    assert [d.day for d in report.daily] == [f"2026-03-{d:02d}" for d in range(4, 11)]
    by_day = {d.day: d for d in report.daily}
    assert (by_day["2026-03-09"].searches, by_day["2026-03-09"].no_confident) == (2, 1)
    assert by_day["2026-03-09"].no_confident_rate == 0.5 and by_day["2026-03-10"].no_confident_rate is None
    assert by_day["2026-03-07"].searches == 1 and by_day["2026-03-10"].answer_rate is None

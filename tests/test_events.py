"""Reader events: committed searches, clicks, votes and views."""

import pytest

from kb import events
from kb.events import Feedback, FeedbackError, QueryEvent
from kb.helpcenter import NotFoundError


@pytest.fixture
def with_article(db):
    db["articles"].insert({"slug": "refunds", "title": "Request a refund"})
    return db


def test_query_event_is_stored_with_its_normalized_query(db):
    event = QueryEvent("search", "  Reset  PASSWORD ", session_id="s1", result_count=2, top_score=0.9,
                       second_score=0.5, top_article_slug="reset-password", answered=True, ts="2026-11-01T00:00:00Z")
    event_id = events.record_query(db, event)
    assert db["query_events"].get(event_id) == {
        "id": event_id, "ts": "2026-11-01T00:00:00Z", "channel": "search", "session_id": "s1", "page_url": None,
        "query_text": "  Reset  PASSWORD ", "query_norm": "reset password", "result_count": 2, "top_score": 0.9,
        "second_score": 0.5, "top_article_slug": "reset-password", "answered": 1, "clicked_article_slug": None,
        "clicked_rank": None, "handed_off": 0, "gap_id": None, "decision": None,
    }


def test_unknown_channel_is_refused():
    with pytest.raises(ValueError, match="channel must be one of search, widget, chat"):
        QueryEvent("email", "hi")


def test_clicks_belong_to_the_searching_session(db):
    event_id = events.record_query(db, QueryEvent("search", "refund", session_id="s1"))
    assert events.record_click(db, event_id, "someone-else", "refunds", 1) is False
    assert events.record_click(db, event_id, "s1", "refunds", 2) is True
    row = db["query_events"].get(event_id)
    assert (row["clicked_article_slug"], row["clicked_rank"]) == ("refunds", 2)


def test_latest_vote_wins(with_article):
    events.record_feedback(with_article, Feedback("refunds", "s1", "down", "inaccurate", "wrong"))
    events.record_feedback(with_article, Feedback("refunds", "s1", "up"))
    events.record_feedback(with_article, Feedback("refunds", "s2", "down", "other"))
    assert [(r["session_id"], r["vote"], r["reason"], r["comment"])
            for r in with_article["article_feedback"].rows_where(order_by="session_id")] == [
        ("s1", "up", None, ""), ("s2", "down", "other", "")]
    assert events.session_vote(with_article, "refunds", "s1").vote == "up"
    assert events.session_vote(with_article, "refunds", "s3") is None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"vote": "sideways"}, "vote must be 'up' or 'down', got 'sideways'"),
    ({"vote": "down", "reason": "meh"}, "reason must be one of need_more_info, inaccurate, hard_to_understand, "
                                        "broken_link, other, got 'meh'"),
    ({"vote": "down", "comment": "x" * 1001}, "the comment is 1001 characters long; the limit is 1000"),
    ({"vote": "up", "session_id": ""}, "a vote needs a session id"),
])
def test_bad_votes_say_what_to_change(kwargs, message):
    with pytest.raises(FeedbackError) as error:
        Feedback(**{"article_slug": "refunds", "session_id": "s1", **kwargs})
    assert str(error.value) == message


def test_votes_need_a_published_article(db):
    with pytest.raises(NotFoundError, match="there is no article 'refunds'"):
        events.record_feedback(db, Feedback("refunds", "s1", "up"))


def test_views(db):
    events.record_view(db, "refunds", "s1")
    assert [(r["article_slug"], r["session_id"]) for r in db["article_views"].rows] == [("refunds", "s1")]

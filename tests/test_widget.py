"""Widget sessions (bot.widget): opaque tokens, resuming, identity on the conversation, the transcript file."""

import hashlib
import json

import pytest

from bot import widget
from bot.conversations import add_message, get_conversation
from bot.identity import Identity

ANN = Identity("42", "ann@example.com", "Ann", True)


def test_a_new_session_has_a_random_token_of_which_only_the_hash_is_stored(db):
    session = widget.start_session(db, None, page_url="https://shop.example/billing", origin="https://shop.example")
    assert session.created and len(session.token) >= 43 and session.identity is None
    row = db["widget_tokens"].get(hashlib.sha256(session.token.encode()).hexdigest())
    assert (row["conversation_id"], row["origin"]) == (session.conversation_id, "https://shop.example")
    assert session.token not in str(list(db["widget_tokens"].rows))
    conversation = get_conversation(db, session.conversation_id)
    assert (conversation["channel"], conversation["page_url"]) == ("widget", "https://shop.example/billing")


def test_a_token_resumes_its_conversation(db):
    first = widget.start_session(db, None)
    again = widget.start_session(db, first.token)
    assert (again.token, again.conversation_id, again.created) == (first.token, first.conversation_id, False)
    assert widget.session_for(db, first.token) == widget.WidgetSession(first.token, first.conversation_id, None)


@pytest.mark.parametrize("token", [None, "", "never-issued"])
def test_an_unknown_token_opens_nothing(db, token):
    with pytest.raises(widget.WidgetTokenError, match="start a new session"):
        widget.session_for(db, token)


def test_an_unknown_token_starts_a_new_conversation(db):
    session = widget.start_session(db, "forgotten-token")
    assert session.created and session.token != "forgotten-token"


def test_identity_is_recorded_on_the_conversation(db):
    visitor = widget.start_session(db, None)
    signed_in = widget.start_session(db, visitor.token, identity=ANN)
    assert (signed_in.conversation_id, signed_in.identity, signed_in.verified) == (visitor.conversation_id, ANN, True)
    conversation = get_conversation(db, visitor.conversation_id)
    assert (conversation["user_id"], conversation["email"], conversation["verified"]) == ("42", "ann@example.com", 1)


def test_an_unsigned_page_of_the_same_user_keeps_the_verification(db):
    session = widget.start_session(db, None, identity=ANN)
    again = widget.start_session(db, session.token, identity=Identity("42", "ann@example.com", "Ann", False))
    assert again.verified


def test_another_person_on_the_same_browser_gets_a_new_conversation(db):
    ann = widget.start_session(db, None, identity=ANN)
    bob = widget.start_session(db, ann.token, identity=Identity("77", "bob@example.com", "Bob", True))
    assert bob.created and bob.conversation_id != ann.conversation_id and bob.token != ann.token
    assert widget.session_for(db, ann.token).identity == ANN


def test_admit_hears_of_a_resume_or_a_new_conversation_first_and_can_refuse(db):
    heard = []
    first = widget.start_session(db, None, admit=heard.append)
    widget.start_session(db, first.token, admit=heard.append)
    assert heard == [None, first.conversation_id]

    def refuse(conversation_id):
        raise RuntimeError("no")

    before = db["conversations"].count
    with pytest.raises(RuntimeError):
        widget.start_session(db, None, admit=refuse)
    assert db["conversations"].count == before


def test_the_transcript_file_reads_like_a_conversation(db):
    session = widget.start_session(db, None)
    add_message(db, session.conversation_id, "user", "How do I get a refund?")
    add_message(db, session.conversation_id, "bot", "This should help:\n\nWithin 14 days.", type="answer",
                articles=[{"slug": "refunds", "title": "Request a refund", "url": "/articles/refunds", "anchor": "how"}])
    transcript = {"ticket": {"reference": "T-ABC234", "status": "open"}, "messages": [
        {"ts": m["ts"], "role": m["role"], "text": m["text"], "articles": json.loads(m["articles"])}
        for m in db["messages"].rows]}
    text = widget.transcript_text("Lumio Help Center", transcript, "https://help.example")
    lines = text.splitlines()
    assert lines[:4] == ["Your conversation with Lumio Help Center", "", "Support request: T-ABC234 (open)", ""]
    assert lines[5:7] == ["  How do I get a refund?", ""]
    assert lines[8:] == ["  This should help:", "  ", "  Within 14 days.",
                         "  - Request a refund: https://help.example/articles/refunds#how"]
    assert lines[4].endswith("] You:") and lines[7].endswith("] Assistant:")

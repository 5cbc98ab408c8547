"""Chat decisions over the fixture articles with the deterministic fake embedder."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.chat import Bot, ChatInputError, Thresholds, decide
from bot.confidence import Calibration, signals
from bot.conversations import ConversationNotFoundError
from bot.handoff import list_tickets
from kb.storage import open_db
from search.searcher import Searcher

# With the bag-of-words embedder a question that repeats an article's words scores near 1 and an
# unrelated one near 0; a calibration that is just the top score keeps the decisions easy to read.
PLAIN = Calibration(weights=(12.0, 0.0, 0.0), bias=-6.0, source="test")


@pytest.fixture
def searcher(indexed, data_dir, fake_embedder):
    s = Searcher.load(data_dir, fake_embedder)
    yield s
    s.close()


@pytest.fixture
def sent():
    return []


@pytest.fixture
def bot(searcher, data_dir, sent):
    return Bot(lambda: searcher, data_dir / "kb.db", calibration=PLAIN,
               thresholds=Thresholds(answer=0.5, clarify=0.3, ambiguity_margin=0.02),
               notifier=lambda event, ticket_id, packet: sent.append((event, packet)), site_name="Lumio")


def signals_rows(data_dir):
    return list(open_db(data_dir / "kb.db").query("select reason, query_text, session_id from gap_signals"))


def test_a_confident_answer_points_to_the_article_and_quotes_it(bot):
    reply = bot.reply("I forgot my password")
    assert reply.type == "answer"
    assert reply.articles[0].slug == "reset-password"
    assert reply.articles[0].url == "/articles/reset-password"
    assert reply.confidence > 0.5
    assert "Reset your password" in reply.text
    assert len(reply.articles) <= 3
    transcript = bot.transcript(reply.session_id)
    assert [(m["role"], m["type"]) for m in transcript["messages"]] == [("user", None), ("bot", "answer")]


def test_small_talk_is_friendly_and_not_a_gap(bot, data_dir):
    for message, kind in [("Hello!", "Hi!"), ("thanks a lot", "welcome"), ("bye", "Bye")]:
        reply = bot.reply(message)
        assert reply.type == "smalltalk" and kind in reply.text
    assert signals_rows(data_dir) == []


@pytest.mark.parametrize("message", ["talk to a human", "agent please", "Can I speak with someone?",
                                     "I want a real person", "connect me to customer service"])
def test_asking_for_a_person_offers_a_handoff(bot, message):
    reply = bot.reply(message)
    assert reply.type == "handoff"
    assert reply.handoff == {"reason": "user_requested", "ticket": None, "email_required": True}


def test_an_unanswerable_question_is_handed_off_honestly_and_logged_as_a_gap(bot, data_dir):
    reply = bot.reply("what's the weather in Paris")
    assert reply.type == "handoff"
    assert reply.handoff["reason"] == "low_confidence"
    assert reply.text.startswith("I'm not sure I can answer that")
    assert signals_rows(data_dir) == [
        {"reason": "low_confidence", "query_text": "what's the weather in Paris", "session_id": reply.session_id}]


def test_close_articles_get_a_did_you_mean_and_picking_one_answers(searcher, data_dir):
    bot = Bot(lambda: searcher, data_dir / "kb.db", calibration=PLAIN,
              thresholds=Thresholds(answer=0.5, clarify=0.01, ambiguity_margin=1.0))
    reply = bot.reply("email password refund")
    assert reply.type == "clarify"
    assert reply.suggestions[-1] == "Something else" and len(reply.suggestions) == len(reply.articles) + 1
    second = reply.articles[1]
    picked = bot.reply("2", session_id=reply.session_id)
    assert (picked.type, picked.articles[0].slug) == ("answer", second.slug)


def test_something_else_asks_to_rephrase_then_hands_off(searcher, data_dir):
    bot = Bot(lambda: searcher, data_dir / "kb.db", calibration=PLAIN,
              thresholds=Thresholds(answer=0.99, clarify=0.01, ambiguity_margin=1.0))
    first = bot.reply("email password refund")
    rephrase = bot.reply("Something else", session_id=first.session_id)
    assert rephrase.type == "clarify" and rephrase.articles == [] and "another way" in rephrase.text
    last = bot.reply("email password refund plans", session_id=first.session_id)
    assert last.type == "handoff" and last.handoff["reason"] == "ambiguous"


def test_follow_ups_use_the_conversation(bot):
    first = bot.reply("how do I update my email")
    assert first.articles[0].slug == "change-email"
    follow = bot.reply("and if the new address is taken?", session_id=first.session_id)
    assert follow.type == "answer"
    assert (follow.articles[0].slug, follow.articles[0].anchor) == ("change-email", "if-the-new-address-is-taken")
    messages = bot.transcript(first.session_id)["messages"]
    assert messages[-1]["type"] == "answer"


def test_two_not_helpful_votes_offer_a_person(bot, data_dir):
    reply = bot.reply("I forgot my password")
    assert bot.feedback(reply.session_id, helpful=True) is None
    first = bot.feedback(reply.session_id, helpful=False)
    assert first.type == "clarify" and "Talk to a person" in first.suggestions
    bot.reply("my password does not work", session_id=reply.session_id)
    second = bot.feedback(reply.session_id, helpful=False)
    assert second.type == "handoff" and second.handoff["reason"] == "negative_feedback"
    assert [r["reason"] for r in signals_rows(data_dir)] == ["not_helpful", "not_helpful"]


def test_handoff_creates_one_ticket_with_the_whole_packet(bot, sent):
    reply = bot.reply("what's the weather in Paris", page_url="https://app.example/settings")
    ticket = bot.handoff(reply.session_id, "ada@example.com", name="Ada", note="urgent")
    assert ticket.reference.startswith("T-") and ticket.status == "open"
    event, packet = sent[-1]
    assert event == "ticket.created"
    assert packet["reason"] == "low_confidence"
    assert packet["customer"] == {"email": "ada@example.com", "name": "Ada", "user_id": None, "verified": False}
    assert packet["subject"] == "what's the weather in Paris"
    assert packet["page_url"] == "https://app.example/settings"
    assert [(m["role"], m["text"][:27]) for m in packet["transcript"]][:2] == [
        ("user", "what's the weather in Paris"), ("bot", "I'm not sure I can answer t")]
    assert packet["transcript"][-1]["role"] == "system" and ticket.reference in packet["transcript"][-1]["text"]

    later = bot.reply("it is for a trip in May", session_id=reply.session_id)
    assert later.type == "handoff" and later.handoff["ticket"]["reference"] == ticket.reference
    assert f"added this to your request {ticket.reference}" in later.text
    assert sent[-1][0] == "ticket.updated" and sent[-1][1]["transcript"][-2]["text"] == "it is for a trip in May"
    again = bot.handoff(reply.session_id, "ada@example.com")
    assert again.id == ticket.id


def test_packet_carries_articles_shown_and_votes(bot, sent):
    reply = bot.reply("I forgot my password")
    bot.feedback(reply.session_id, helpful=False)
    bot.handoff(reply.session_id, "bo@example.com")
    packet = sent[-1][1]
    top = packet["articles_suggested"][0]
    assert (top["slug"], top["feedback"]) == ("reset-password", "down")
    assert top["score"] == reply.articles[0].score


def test_a_hundred_concurrent_handoffs_give_a_hundred_complete_tickets(bot, data_dir):
    sessions = [bot.reply(f"help number {i} with my refund").session_id for i in range(100)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        tickets = list(pool.map(lambda s: bot.handoff(s, f"user{sessions.index(s)}@example.com"), sessions))
    assert len({t.reference for t in tickets}) == 100
    stored = list_tickets(open_db(data_dir / "kb.db"), limit=500)
    assert len(stored) == 100 and all(t.email and t.subject.startswith("help number") for t in stored)


@pytest.mark.parametrize(("message", "error"), [("", "empty"), ("   ", "empty"), ("x" * 1001, "1001 characters")])
def test_bad_messages(bot, message, error):
    with pytest.raises(ChatInputError, match=error):
        bot.reply(message)


def test_unknown_conversation(bot):
    with pytest.raises(ConversationNotFoundError, match="no conversation"):
        bot.reply("hello", session_id="nope")


def test_decide_thresholds(searcher):
    hits = searcher.search("I forgot my password", k=5)
    p = PLAIN.probability(signals(hits))
    assert decide(hits, PLAIN, Thresholds(answer=p - 0.01, clarify=0.0)).type == "answer"
    assert decide(hits, PLAIN, Thresholds(answer=p + 0.01, clarify=p - 0.01)).type == "clarify"
    assert decide(hits, PLAIN, Thresholds(answer=1.0, clarify=p + 0.01)).type == "handoff"
    assert decide([], PLAIN, Thresholds()).type == "handoff"

"""The chatbot's decisions: answer, ask which article was meant, hand off to a person, or small talk.

``decide`` is the pure decision over search results (``kb eval`` scores exactly this); ``Bot`` adds the
conversation around it: follow-ups, "Did you mean" choices, votes, tickets and gap signals.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz
from sqlite_utils import Database

from bot import conversations as conv
from bot.confidence import Calibration, signals
from bot.gaps import record_signal
from bot.handoff import Notifier, Ticket, no_notifier, open_ticket, packet, ticket_for_conversation
from bot.intents import asks_for_person, is_follow_up, smalltalk_kind
from kb.storage import open_db
from search.searcher import SearchHit, Searcher

SOMETHING_ELSE = "Something else"
_TAG = re.compile(r"<[^>]+>")


class ChatInputError(ValueError):
    """A message the bot cannot take (empty, too long); the text says what to change."""


@dataclass(frozen=True)
class Thresholds:
    """Where the calibrated probability of a right answer turns into a decision (see README, "Confidence")."""

    answer: float = 0.8
    clarify: float = 0.7
    ambiguity_margin: float = 0.02
    max_message_chars: int = 1000
    # Articles offered as "might help" beside a handoff must be at least this similar (as search results are).
    min_suggestion_score: float = 0.0


@dataclass(frozen=True)
class ArticleRef:
    slug: str
    title: str
    url: str
    section: str
    anchor: str
    snippet: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        # Flat fields: a copy of the instance dict is what ``asdict`` gives, without its deep copies.
        return dict(self.__dict__)

    @classmethod
    def from_hit(cls, hit: SearchHit) -> ArticleRef:
        return cls(hit.slug, hit.title, hit.url, hit.section, hit.anchor, hit.snippet, round(hit.vector_score, 4))


@dataclass(frozen=True)
class Decision:
    """What to do with one question, before any conversation context."""

    type: str  # "answer" | "clarify" | "handoff"
    confidence: float
    hits: list[SearchHit]
    reason: str | None = None  # for handoffs: "low_confidence"


def decide(hits: list[SearchHit], calibration: Calibration, thresholds: Thresholds) -> Decision:
    """Answer when confident, ask when the top articles are close, hand off below the clarify threshold."""
    s = signals(hits)
    p = calibration.probability(s)
    # A knowledge base's self-calibration chose its own thresholds on its own questions (bot.calibrate).
    clarify = thresholds.clarify if calibration.clarify is None else calibration.clarify
    answer = thresholds.answer if calibration.answer is None else calibration.answer
    if not hits or p < clarify:
        return Decision("handoff", p, hits[:3], "low_confidence")
    close = [h for h in hits[:3] if hits[0].vector_score - h.vector_score < thresholds.ambiguity_margin]
    if p >= answer and len(close) == 1:
        return Decision("answer", p, hits[:3])
    return Decision("clarify", p, close if len(close) > 1 else hits[:1])


@dataclass(frozen=True)
class Reply:
    """The bot's turn, exactly the JSON of ``POST /api/chat``."""

    session_id: str
    type: str  # "answer" | "clarify" | "handoff" | "smalltalk"
    text: str
    articles: list[ArticleRef]
    confidence: float
    handoff: dict[str, Any] | None = None
    suggestions: list[str] = field(default_factory=list)
    message_id: int | None = None  # the stored bot message, so a vote can name the answer it rates

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _plain(snippet: str) -> str:
    return html.unescape(_TAG.sub("", snippet))


class Bot:
    """The chatbot over one help center. Thread-safe; share one instance.

    ``searcher`` is a callable returning the current ``Searcher`` so a live re-index can swap it.
    """

    def __init__(
        self,
        searcher: Callable[[], Searcher],
        db_path: Path | None,
        *,
        calibration: Calibration | None = None,
        thresholds: Thresholds | None = None,
        notifier: Notifier = no_notifier,
        site_name: str = "our help center",
        base_url: str = "",
    ) -> None:
        self.searcher = searcher
        self.db_path = db_path
        self.calibration = calibration or Calibration()
        self.thresholds = thresholds or Thresholds()
        self.notifier = notifier
        self.site_name = site_name
        self.base_url = base_url
        self._local = threading.local()

    def db(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = open_db(self.db_path)  # WAL, synchronous=NORMAL: see kb.storage.open_db
        return db

    # -- the public API --------------------------------------------------------------------------

    def reply(self, message: str, session_id: str | None = None, page_url: str | None = None,
              channel: str = "chat") -> Reply:
        """Take one customer message and return the bot's reply, recording both."""
        message = self._check(message)
        db = self.db()
        if session_id is None:
            session_id = conv.create_conversation(db, channel, page_url)
        conversation = conv.get_conversation(db, session_id)
        state = conv.State.from_json(conversation["state"])
        ticket = ticket_for_conversation(db, session_id)
        message_id = conv.add_message(db, session_id, "user", message, page_url=page_url)

        reply, query = self._respond(message, session_id, state, ticket)
        if ticket and reply.type in ("handoff", "clarify"):
            reply = self._joined_ticket(reply, ticket)
        bot_id = conv.add_message(
            db, session_id, "bot", reply.text, type=reply.type, page_url=page_url,
            articles=[a.to_dict() for a in reply.articles], confidence=reply.confidence, query=query,
        )
        reply = replace(reply, message_id=bot_id)
        if reply.type == "answer":
            state.last_answer_id = bot_id
        if reply.type == "handoff" and reply.handoff and reply.handoff["reason"] in ("low_confidence", "ambiguous"):
            top = reply.articles[0] if reply.articles else None
            record_signal(db, source="chat", reason=reply.handoff["reason"], query=query or message,
                          session_id=session_id, top_score=top.score if top else None,
                          top_article_slug=top.slug if top else None, page_url=page_url, message_id=message_id)
        conv.save_state(db, session_id, state, page_url)
        if ticket:
            self.notifier("ticket.updated", ticket.id, packet(db, ticket, self.base_url))
        return reply

    def feedback(self, session_id: str, helpful: bool, message_id: int | None = None) -> Reply | None:
        """A vote on an answer (``message_id``, else the last one). The second "not helpful" offers a person."""
        db = self.db()
        state = conv.State.from_json(conv.get_conversation(db, session_id)["state"])
        rated = state.last_answer_id if message_id is None else self._answer_id(db, session_id, message_id)
        if rated is None:
            raise ChatInputError("there is no answer to rate in this conversation yet")
        conv.set_feedback(db, rated, "up" if helpful else "down")
        if helpful:
            conv.save_state(db, session_id, state)
            return None
        state.not_helpful += 1
        answered = db.table("messages").get(rated)
        articles = conv.messages(db, session_id)
        top = next((m.articles[0] for m in articles if m.id == rated and m.articles), None)
        record_signal(db, source="chat", reason="not_helpful", query=answered["query"] or answered["text"],
                      session_id=session_id, top_score=top["score"] if top else None,
                      top_article_slug=top["slug"] if top else None, page_url=answered["page_url"])
        if state.not_helpful >= 2:
            reply = self._handoff_offer(session_id, state, "negative_feedback", [], 0.0)
        else:
            reply = Reply(session_id, "clarify", "Sorry that didn't help. Could you tell me a bit more about what "
                          "you're trying to do? You can also talk to a person at any time.", [], 0.0,
                          suggestions=["Talk to a person"])
        reply = replace(reply, message_id=conv.add_message(db, session_id, "bot", reply.text, type=reply.type))
        conv.save_state(db, session_id, state)
        return reply

    @staticmethod
    def _answer_id(db: Database, session_id: str, message_id: int) -> int:
        rows = list(db.query("select id from messages where id = ? and conversation_id = ? and role = 'bot' "
                             "and type = 'answer'", [message_id, session_id]))
        if not rows:
            raise ChatInputError(f"message {message_id} is not an answer in this conversation")
        return int(rows[0]["id"])

    def handoff(self, session_id: str, email: str, name: str = "", note: str = "", verified: bool = False) -> Ticket:
        """Create (or update) the conversation's ticket and queue its delivery to the team."""
        db = self.db()
        state = conv.State.from_json(conv.get_conversation(db, session_id)["state"])
        last_conf = next((m.confidence for m in reversed(conv.messages(db, session_id))
                          if m.role == "bot" and m.confidence), None)
        ticket, created = open_ticket(db, session_id, reason=state.handoff_reason or "user_requested", email=email,
                                      name=name, note=note, verified=verified, confidence=last_conf)
        if created:
            conv.add_message(db, session_id, "system", f"Handed off to the support team as {ticket.reference}.")
        self.notifier("ticket.created" if created else "ticket.updated", ticket.id, packet(db, ticket, self.base_url))
        return ticket

    def transcript(self, session_id: str) -> dict[str, Any]:
        db = self.db()
        conv.get_conversation(db, session_id)
        ticket = ticket_for_conversation(db, session_id)
        return {
            "session_id": session_id,
            "ticket": {"reference": ticket.reference, "status": ticket.status} if ticket else None,
            "messages": [asdict(m) for m in conv.messages(db, session_id)],
        }

    # -- decisions in context ----------------------------------------------------------------------

    def _check(self, message: str) -> str:
        message = (message or "").strip()
        if not message:
            raise ChatInputError("the message is empty: type a question")
        if len(message) > self.thresholds.max_message_chars:
            raise ChatInputError(
                f"the message is {len(message)} characters long; the limit is {self.thresholds.max_message_chars}")
        return message

    def _respond(self, message: str, session_id: str, state: conv.State, ticket: Ticket | None) -> tuple[Reply, str | None]:
        if state.options:
            picked = self._pick_option(message, state)
            if picked == SOMETHING_ELSE:
                state.options, state.rephrase_asked = [], True
                return Reply(session_id, "clarify", "No problem. Could you say it another way, with a few more "
                             "details?", [], 0.0), None
            if picked:
                state.options = []
                return self._answer_with(session_id, state, picked), state.topic
            state.options = []
        if asks_for_person(message):
            return self._handoff_offer(session_id, state, "user_requested", [], 0.0), None
        kind = smalltalk_kind(message)
        if kind:
            return self._smalltalk(session_id, kind), None

        searcher = self.searcher()
        query = f"{state.topic} {message}" if state.topic and is_follow_up(message) else message
        decision = decide(searcher.search(query, k=5), self.calibration, self.thresholds)
        if decision.type == "handoff" and state.topic and query == message and len(message.split()) <= 4:
            # A short message may continue the last question ("on android?") even without "and".
            contextual = decide(searcher.search(f"{state.topic} {message}", k=5), self.calibration, self.thresholds)
            if contextual.type != "handoff":
                query, decision = f"{state.topic} {message}", contextual
        state.topic = query
        if decision.type == "answer":
            state.rephrase_asked = False
            return self._answer(session_id, decision.hits, decision.confidence), query
        if decision.type == "clarify" and not state.rephrase_asked:
            state.options = [{"slug": h.slug, "title": h.title} for h in decision.hits]
            return self._clarify(session_id, decision), query
        reason = "ambiguous" if decision.type == "clarify" or state.rephrase_asked else "low_confidence"
        state.rephrase_asked = False
        return self._handoff_offer(session_id, state, reason, decision.hits, decision.confidence), query

    def _pick_option(self, message: str, state: conv.State) -> str | None:
        text = message.strip().lower().rstrip(".!?")
        choices = [o["title"] for o in state.options] + [SOMETHING_ELSE]
        picked: str | None
        if text.isdigit() and 1 <= int(text) <= len(choices):
            picked = choices[int(text) - 1]
        elif text in {"no", "none", "neither", "none of these", "something else", "other", "nope"}:
            picked = SOMETHING_ELSE
        else:
            best = max(choices, key=lambda c: fuzz.ratio(text, c.lower()))
            picked = best if fuzz.ratio(text, best.lower()) >= 85 else None
        if picked and picked != SOMETHING_ELSE:
            return next(o["slug"] for o in state.options if o["title"] == picked)
        return picked

    def _answer(self, session_id: str, hits: list[SearchHit], confidence: float) -> Reply:
        top = hits[0]
        passage = _plain(top.snippet)
        where = top.title if top.section == top.title else f"{top.title} › {top.section}"
        text = f"This should help — from \u201c{where}\u201d:\n\n{passage}"
        return Reply(session_id, "answer", text, [ArticleRef.from_hit(h) for h in hits[:3]], round(confidence, 4))

    def _answer_with(self, session_id: str, state: conv.State, slug: str) -> Reply:
        searcher = self.searcher()
        hits = searcher.search(state.topic or searcher.articles[slug]["title"], k=20)
        chosen = [h for h in hits if h.slug == slug] or searcher.search(searcher.articles[slug]["title"], k=1)
        confidence = self.calibration.probability(signals(chosen))
        return self._answer(session_id, chosen + [h for h in hits if h.slug != slug][:2], confidence)

    def _clarify(self, session_id: str, decision: Decision) -> Reply:
        titles = [h.title for h in decision.hits]
        text = "Did you mean one of these?" if len(titles) > 1 else f"Did you mean \u201c{titles[0]}\u201d?"
        return Reply(session_id, "clarify", text, [ArticleRef.from_hit(h) for h in decision.hits],
                     round(decision.confidence, 4), suggestions=[*titles, SOMETHING_ELSE])

    def _smalltalk(self, session_id: str, kind: str) -> Reply:
        text = {
            "greeting": f"Hi! I'm the {self.site_name} assistant. Ask me anything — for example "
                        "\u201cHow do I reset my password?\u201d",
            "thanks": "You're welcome! Is there anything else I can help with?",
            "goodbye": "Bye for now — come back any time.",
        }[kind]
        return Reply(session_id, "smalltalk", text, [], 1.0)

    def _handoff_offer(self, session_id: str, state: conv.State, reason: str, hits: list[SearchHit],
                       confidence: float) -> Reply:
        state.handoff_reason = reason
        state.options = []
        hits = [h for h in hits if h.vector_score >= self.thresholds.min_suggestion_score]
        if reason == "user_requested":
            text = ("Of course. Leave your email and someone from our team will get back to you. They'll see this "
                    "whole conversation, so you won't need to repeat yourself.")
        elif reason == "negative_feedback":
            text = ("Sorry I couldn't help with that. Leave your email and a person from our team will pick it up — "
                    "they'll see this whole conversation.")
        else:
            text = ("I'm not sure I can answer that from our help articles."
                    + (" The closest ones are below in case they help." if hits else "")
                    + " If not, leave your email and a person from our team will get back to you. They'll see this "
                    "whole conversation, so you won't need to repeat yourself.")
        return Reply(session_id, "handoff", text, [ArticleRef.from_hit(h) for h in hits[:3]], round(confidence, 4),
                     handoff={"reason": reason, "ticket": None, "email_required": True})

    def _joined_ticket(self, reply: Reply, ticket: Ticket) -> Reply:
        """With a ticket open, never offer a new handoff: the message joins the ticket (no loops)."""
        text = (f"I've added this to your request {ticket.reference}. Our team sees the whole conversation and "
                "will reply by email.")
        if reply.articles:
            text += " Meanwhile, these might help."
        handoff = {"reason": reply.handoff["reason"] if reply.handoff else "user_requested",
                   "ticket": {"reference": ticket.reference, "status": ticket.status}, "email_required": False}
        return Reply(reply.session_id, "handoff", text, reply.articles, reply.confidence, handoff)

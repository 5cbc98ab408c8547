"""Recognise the messages that are not questions for the articles: small talk and asking for a person."""

from __future__ import annotations

import re

_WORDS = re.compile(r"[a-z']+")

GREETINGS = {
    "hi", "hello", "hey", "hiya", "howdy", "yo", "good morning", "good afternoon", "good evening", "hi there",
    "hello there", "hey there", "greetings", "morning", "sup",
}
THANKS = {
    "thanks", "thank you", "thx", "ty", "cheers", "thanks a lot", "thank you so much", "many thanks", "great thanks",
    "perfect thanks", "awesome thanks", "ok thanks", "okay thanks", "thanks so much", "that helped", "that helps",
    "great", "perfect", "awesome", "cool", "ok", "okay", "got it", "nice",
}
GOODBYES = {"bye", "goodbye", "bye bye", "see you", "see ya", "later", "have a nice day", "that's all", "thats all"}
_FILLER = {"so", "much", "very", "a", "lot", "again", "guys", "bot", "there", "you", "for", "the", "help", "your"}

# Asking for a person: a "people" word, either in a short message or with a verb that means "get me".
_PEOPLE = (
    r"(human|humans|person|people|agent|agents|representative|rep|operator|someone|somebody|staff|"
    r"real person|live person|live agent|live chat|customer service|customer support|support team|support staff)"
)
_ASK_PERSON = re.compile(
    rf"\b(talk|speak|chat|connect|transfer|put)\b.*\b(to|with|me)\b.*\b{_PEOPLE}\b|"
    rf"\b(want|need|get|give|let)\b.*\b(a|an|to|the|me)\b.*\b{_PEOPLE}\b|"
    rf"\b(contact|call|email|reach)\b.*\b(support|you|someone|somebody|team)\b",
)
_SHORT_PERSON = re.compile(rf"^\W*((a|an|the|real|live)\s+)?{_PEOPLE}(\s+please)?\W*$")


def _normalized(message: str) -> str:
    return " ".join(_WORDS.findall(message.lower()))


def smalltalk_kind(message: str) -> str | None:
    """"greeting", "thanks" or "goodbye" when the whole message is just that, else None."""
    text = _normalized(message)
    words = [w for w in text.split() if w not in _FILLER]
    core = " ".join(words)
    if not text or len(text.split()) > 6:
        return None
    for kind, phrases in (("greeting", GREETINGS), ("thanks", THANKS), ("goodbye", GOODBYES)):
        if text in phrases or core in phrases:
            return kind
    return None


def asks_for_person(message: str) -> bool:
    """True for "talk to a human", "agent please", "can I speak with someone?" and the like."""
    text = _normalized(message)
    if len(text.split()) > 16:
        return False
    return bool(_SHORT_PERSON.match(text) or _ASK_PERSON.search(text))


FOLLOW_UP = re.compile(r"^(and|also|but|or|what about|how about|same|then|plus|on|in|for|with|via|using)\b")


def is_follow_up(message: str) -> bool:
    """A message that only makes sense after the previous question ("and on mobile?", "what about iPad")."""
    return bool(FOLLOW_UP.match(_normalized(message)))

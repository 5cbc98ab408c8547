"""Pydantic models of the chat API (``/api/chat``), so ``/docs`` documents them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class ChatRequest(BaseModel):
    message: str = Field(description="What the customer typed.", examples=["I forgot my password"])
    session_id: str | None = Field(None, description="The conversation to continue; null starts a new one.")
    page_url: str | None = Field(None, max_length=2000, description="The page the customer is on.")


class ChatArticle(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    title: str
    url: str
    section: str = Field(description="Heading of the section that matched.")
    anchor: str = Field(description="The section's anchor in the article ('' for the top).")
    snippet: str = Field(description="HTML-escaped passage, matching words in <mark>.")
    score: float = Field(description="Cosine similarity of the best-matching text of the article.")


class TicketRef(BaseModel):
    reference: str
    status: str


class HandoffInfo(BaseModel):
    reason: Literal["low_confidence", "ambiguous", "user_requested", "negative_feedback"]
    ticket: TicketRef | None = Field(description="The conversation's ticket once there is one.")
    email_required: bool = Field(description="True until the customer has left an email (POST .../handoff).")


class ChatResponse(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    session_id: str
    type: Literal["answer", "clarify", "handoff", "smalltalk"]
    text: str = Field(description="The reply as plain text.")
    articles: list[ChatArticle]
    confidence: float = Field(description="Calibrated probability that the first article answers the question.")
    handoff: HandoffInfo | None
    suggestions: list[str] = Field(description="Quick replies: the choices of a \"Did you mean\".")


class TranscriptMessage(BaseModel):
    id: int
    ts: str
    role: Literal["user", "bot", "system"]
    text: str
    type: str | None
    page_url: str | None
    articles: list[dict[str, object]]
    confidence: float | None
    feedback: Literal["up", "down"] | None


class Transcript(BaseModel):
    session_id: str
    ticket: TicketRef | None
    messages: list[TranscriptMessage]


class ChatFeedbackRequest(BaseModel):
    helpful: bool = Field(description="Did the last answer help?")


class ChatFeedbackResponse(BaseModel):
    recorded: Literal[True] = True
    reply: ChatResponse | None = Field(description="The bot's follow-up after a \"not helpful\" vote.")


class HandoffRequest(BaseModel):
    email: EmailStr = Field(description="Where the support team replies.")
    name: str = Field("", max_length=200)
    note: str = Field("", max_length=2000, description="Anything to add for the team.")


class HandoffResponse(BaseModel):
    reference: str
    status: str
    text: str = Field(description="What happens next, to show the customer.")

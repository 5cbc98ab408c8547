"""Pydantic models of the widget API (``/api/widget``), so ``/docs`` documents them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from web.chat_schemas import ChatArticle, HandoffInfo, TicketRef, TranscriptMessage


class WidgetUser(BaseModel):
    """The page's user. Signed (``jwt`` or ``hash``) users are verified; unsigned ones are visitors."""

    id: str | None = Field(None, max_length=200, description="Your user id.")
    email: str = Field("", max_length=254)
    name: str = Field("", max_length=200)
    jwt: str | None = Field(None, max_length=4096, description="HS256 JWT with `sub` = user id and `exp` (≤ 12 h).")
    hash: str | None = Field(None, max_length=128, description="Hex HMAC-SHA256 of the user id.")


class SessionRequest(BaseModel):
    token: str | None = Field(None, max_length=200, description="The conversation token to resume; null starts one.")
    page_url: str | None = Field(None, max_length=2000, description="The page the widget is on.")
    user: WidgetUser | None = None


class SessionUser(BaseModel):
    id: str | None
    email: str
    name: str
    verified: bool


class SessionResponse(BaseModel):
    token: str = Field(description="Keep it in the page's own storage; send it as `Authorization: Bearer <token>`.")
    created: bool = Field(description="True when a new conversation was started.")
    user: SessionUser | None


class MessageRequest(BaseModel):
    message: str = Field(description="What the customer typed.", examples=["I forgot my password"])
    page_url: str | None = Field(None, max_length=2000, description="The page the customer sent it from.")


class WidgetReply(BaseModel):
    """The bot's reply, as ``POST /api/chat`` returns it, with the stored message's id instead of the session id."""

    model_config = ConfigDict(from_attributes=True)

    message_id: int = Field(description="Vote on this answer with POST /api/widget/feedback.")
    type: Literal["answer", "clarify", "handoff", "smalltalk"]
    text: str
    articles: list[ChatArticle]
    confidence: float
    handoff: HandoffInfo | None
    suggestions: list[str]


class WidgetTranscript(BaseModel):
    ticket: TicketRef | None
    user: SessionUser | None
    messages: list[TranscriptMessage]


class WidgetFeedbackRequest(BaseModel):
    helpful: bool
    message_id: int | None = Field(None, description="The answer rated; null rates the last answer.")


class WidgetFeedbackResponse(BaseModel):
    recorded: Literal[True] = True
    reply: WidgetReply | None = Field(description="The bot's follow-up after a \"not helpful\" vote.")


class WidgetHandoffResponse(BaseModel):
    reference: str
    status: str
    verified: bool = Field(description="The ticket's customer is a signed-in, verified user.")
    text: str = Field(description="What happens next, to show the customer.")


class SuggestedArticle(BaseModel):
    slug: str
    title: str
    url: str
    description: str

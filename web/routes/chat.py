"""The chat: ``/api/chat`` for scripts and the widget, and the ``/chat`` page (which also works without JavaScript)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from bot.chat import Bot, ChatInputError, Reply
from bot.conversations import ConversationNotFoundError
from web import chat_schemas as schemas
from web.deps import ServicesDep
from web.templating import render

api = APIRouter(prefix="/api/chat", tags=["chat"])
pages = APIRouter(tags=["pages"], include_in_schema=False)
CHAT_COOKIE = "kb_chat"
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No conversation with this session_id: start a new one without it."},
    422: {"description": "The message is empty or too long, or the email is not valid."},
}


async def get_bot(services: ServicesDep) -> Bot:
    assert services.bot is not None, "the chatbot starts with the app"
    return services.bot


BotDep = Annotated[Bot, Depends(get_bot)]


def _response(reply: Reply) -> schemas.ChatResponse:
    return schemas.ChatResponse.model_validate(reply.to_dict())


def handoff_text(reference: str) -> str:
    return (f"Thanks — your request {reference} is with our support team. They can see this whole conversation, so "
            "you won't need to repeat yourself, and they'll reply by email.")


@api.post("", response_model=schemas.ChatResponse, responses=ERRORS)
def chat(body: schemas.ChatRequest, bot: BotDep) -> schemas.ChatResponse:
    """Ask the bot. It answers from the articles, asks "Did you mean", or offers a person."""
    return _response(bot.reply(body.message, session_id=body.session_id, page_url=body.page_url))


@api.get("/{session_id}", response_model=schemas.Transcript, responses=ERRORS)
def transcript(session_id: str, bot: BotDep) -> schemas.Transcript:
    """The whole conversation, with times, the articles shown and the votes."""
    return schemas.Transcript.model_validate(bot.transcript(session_id))


@api.post("/{session_id}/feedback", response_model=schemas.ChatFeedbackResponse, responses=ERRORS)
def feedback(session_id: str, body: schemas.ChatFeedbackRequest, bot: BotDep) -> schemas.ChatFeedbackResponse:
    """Helpful or not on the last answer; a second "not helpful" offers a person."""
    reply = bot.feedback(session_id, body.helpful)
    return schemas.ChatFeedbackResponse(reply=_response(reply) if reply else None)


@api.post("/{session_id}/handoff", response_model=schemas.HandoffResponse, responses=ERRORS)
def handoff(session_id: str, body: schemas.HandoffRequest, bot: BotDep) -> schemas.HandoffResponse:
    """Hand the conversation to a person: a ticket with the whole transcript, delivered to the team."""
    ticket = bot.handoff(session_id, str(body.email), name=body.name.strip(), note=body.note.strip())
    return schemas.HandoffResponse(reference=ticket.reference, status=ticket.status, text=handoff_text(ticket.reference))


# -- the /chat page: server-rendered, so it works with JavaScript off; chat.js makes it live --------


def _page_session(request: Request, bot: Bot) -> str | None:
    session_id = request.cookies.get(CHAT_COOKIE)
    if not session_id:
        return None
    try:
        bot.transcript(session_id)
    except ConversationNotFoundError:
        return None
    return session_id


def _back(session_id: str | None, anchor: str = "chat-latest") -> Response:
    response = RedirectResponse(f"/chat#{anchor}", status_code=303)
    if session_id:
        response.set_cookie(CHAT_COOKIE, session_id, httponly=True, samesite="lax", max_age=30 * 24 * 3600)
    return response


@pages.get("/chat")
def chat_page(request: Request, bot: BotDep) -> Response:
    session_id = _page_session(request, bot)
    conversation = bot.transcript(session_id) if session_id else None
    messages = conversation["messages"] if conversation else []
    last_bot = next((m for m in reversed(messages) if m["role"] == "bot"), None)
    suggestions = []
    if last_bot and last_bot["type"] == "clarify" and last_bot["articles"]:
        suggestions = [a["title"] for a in last_bot["articles"]] + ["Something else"]
    error = request.query_params.get("error", "")[:300]
    return render(request, "chat.html", {
        "conversation": conversation, "messages": messages, "suggestions": suggestions, "error": error,
        "offer_handoff": bool(last_bot and last_bot["type"] == "handoff"),
        "ticket": conversation["ticket"] if conversation else None,
    })


@pages.post("/chat")
def chat_page_send(request: Request, bot: BotDep, message: Annotated[str, Form()] = "",
                   page_url: Annotated[str, Form()] = "") -> Response:
    session_id = _page_session(request, bot)
    try:
        reply = bot.reply(message, session_id=session_id, page_url=page_url or None, channel="chat_page")
    except ChatInputError as exc:
        return RedirectResponse(f"/chat?error={quote(str(exc))}#chat-form", status_code=303)
    return _back(reply.session_id)


@pages.post("/chat/feedback")
def chat_page_feedback(request: Request, bot: BotDep, helpful: Annotated[str, Form()] = "yes") -> Response:
    session_id = _page_session(request, bot)
    if session_id:
        try:
            bot.feedback(session_id, helpful == "yes")
        except ChatInputError:
            pass
    return _back(session_id)


@pages.post("/chat/handoff")
def chat_page_handoff(request: Request, bot: BotDep, email: Annotated[str, Form()] = "",
                      name: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "") -> Response:
    session_id = _page_session(request, bot)
    if session_id is None:
        reply = bot.reply("I'd like to talk to a person", channel="chat_page")
        session_id = reply.session_id
    try:
        body = schemas.HandoffRequest(email=email, name=name, note=note)
    except ValidationError:
        response = RedirectResponse("/chat?error=Please+enter+a+valid+email+address.#handoff", status_code=303)
        response.set_cookie(CHAT_COOKIE, session_id, httponly=True, samesite="lax", max_age=30 * 24 * 3600)
        return response
    bot.handoff(session_id, str(body.email), name=body.name.strip(), note=body.note.strip())
    return _back(session_id)


@pages.post("/chat/new")
def chat_page_new() -> Response:
    response = RedirectResponse("/chat", status_code=303)
    response.delete_cookie(CHAT_COOKIE)
    return response

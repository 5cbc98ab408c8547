"""The embeddable chat widget: the loader (``/widget.js``), the panel (``/widget/frame``) and ``/api/widget``.

The loader runs in the customer's page and starts sessions there (so ``Origin`` names that page); the
panel is an iframe of this app that talks to the API with the session's token. See README, "Embed the widget".
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import PlainTextResponse, Response

from bot import widget as sessions
from bot.chat import Bot
from bot.identity import ClaimedUser, verify_identity
from bot.ratelimit import RateLimiter
from kb import helpcenter
from kb.origins import Origin, OriginNotAllowedError, OriginPolicy, parse_origin
from kb.settings import Settings
from web import widget_schemas as schemas
from web.chat_schemas import HandoffRequest, TicketRef
from web.cors import WidgetCORSMiddleware
from web.deps import ServicesDep, SettingsDep
from web.routes.chat import handoff_text
from web.templating import STATIC, base_url, render

api = APIRouter(prefix="/api/widget", tags=["widget"])
pages = APIRouter(include_in_schema=False)
LOADER = STATIC / "widget" / "loader.js"
LOADER_MAX_AGE = 3600  # the loader's URL never changes, so browsers re-check it hourly
FRAME_MAX_AGE = 300
SUGGESTED = 3
_LANG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No conversation token, or an unknown one: start a session with POST /api/widget/session."},
    403: {"description": "The page's origin is not allowed, or the user's signature is not valid."},
    429: {"description": "Too many requests; `Retry-After` says how many seconds to wait."},
}


@dataclass(frozen=True)
class WidgetConfig:
    """What the widget's routes need, built once from the settings."""

    policy: OriginPolicy
    limiter: RateLimiter
    identity_secret: str
    require_verified: bool
    loader: bytes
    loader_gzip: bytes
    loader_etag: str

    @classmethod
    def from_settings(cls, s: Settings) -> WidgetConfig:
        loader = LOADER.read_bytes()
        return cls(
            policy=OriginPolicy.parse(s.widget_allowed_origins, allow_all=s.env == "dev"),
            limiter=RateLimiter({
                "sessions_per_ip": s.widget_sessions_per_ip,
                "sessions_per_conversation": s.widget_sessions_per_conversation,
                "messages_per_ip": s.widget_messages_per_ip,
                "messages_per_conversation": s.widget_messages_per_conversation,
                "handoffs_per_ip": s.widget_handoffs_per_ip,
                "handoffs_per_conversation": s.widget_handoffs_per_conversation,
            }),
            identity_secret=s.widget_identity_secret.get_secret_value(),
            require_verified=s.widget_require_verified,
            loader=loader, loader_gzip=gzip.compress(loader, 9, mtime=0),
            loader_etag='"' + hashlib.sha256(loader).hexdigest()[:16] + '"',
        )


def install(app: FastAPI, settings: Settings) -> None:
    """Add the widget to the app: its routes, and CORS on its API for the allowed origins."""
    config = WidgetConfig.from_settings(settings)
    app.state.widget = config
    app.add_middleware(WidgetCORSMiddleware, policy=config.policy)
    app.include_router(api)
    app.include_router(pages)


# -- dependencies ------------------------------------------------------------------------------


async def get_config(request: Request) -> WidgetConfig:
    return request.app.state.widget  # type: ignore[no-any-return]


ConfigDep = Annotated[WidgetConfig, Depends(get_config)]


def _is_own(origin: Origin, request: Request, settings: Settings) -> bool:
    # Compare the host only: behind a TLS proxy the app may see http while the page says https.
    own = {request.headers.get("host", "").lower()}
    if settings.base_url:
        configured = parse_origin(settings.base_url)
        if configured:
            own.add(str(configured).partition("://")[2])
    return str(origin).partition("://")[2] in own


def allowed_origin(value: str | None, request: Request, config: WidgetConfig, settings: Settings) -> str:
    """The origin, if the help center itself or an allowed site; else ``OriginNotAllowedError``."""
    origin = parse_origin(value)
    if origin is not None and (_is_own(origin, request, settings) or config.policy.allows(origin)):
        return str(origin)
    if origin is None and value is None and config.policy.allow_all:
        return ""  # development: scripts and tools without an Origin header
    raise OriginNotAllowedError(
        f"{value or 'a page without an Origin header'} may not use this help center's widget: "
        "add it to KB_WIDGET_ALLOWED_ORIGINS")


async def check_origin(request: Request, config: ConfigDep, settings: SettingsDep) -> str:
    """The calling page's origin: ``Origin``, else ``Referer`` (browsers omit Origin on same-origin GETs)."""
    return allowed_origin(request.headers.get("origin") or request.headers.get("referer"), request, config, settings)


OriginDep = Annotated[str, Depends(check_origin)]


def get_session(request: Request, services: ServicesDep, _origin: OriginDep) -> sessions.WidgetSession:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return sessions.session_for(services.db(), token.strip() if scheme.lower() == "bearer" else None)


SessionDep = Annotated[sessions.WidgetSession, Depends(get_session)]


async def get_bot(services: ServicesDep) -> Bot:
    assert services.bot is not None, "the chatbot starts with the app"
    return services.bot


BotDep = Annotated[Bot, Depends(get_bot)]


def client_ip(request: Request) -> str:
    # Behind a reverse proxy, run uvicorn with --proxy-headers so this is the visitor's address.
    return request.client.host if request.client else "unknown"


def _user(session: sessions.WidgetSession) -> schemas.SessionUser | None:
    i = session.identity
    return schemas.SessionUser(id=i.user_id, email=i.email, name=i.name, verified=i.verified) if i else None


def _reply(data: dict[str, Any]) -> schemas.WidgetReply:
    return schemas.WidgetReply.model_validate(data)


# -- the API -----------------------------------------------------------------------------------


@api.post("/session", response_model=schemas.SessionResponse, responses=ERRORS)
def start_session(body: schemas.SessionRequest, request: Request, services: ServicesDep, config: ConfigDep,
                  origin: OriginDep) -> schemas.SessionResponse:
    """Start a conversation, or resume the one of `token`, and record who the user is."""
    claimed = ClaimedUser(**body.user.model_dump()) if body.user else None
    identity = verify_identity(claimed, config.identity_secret, require_verified=config.require_verified)
    ip = client_ip(request)

    def admit(conversation_id: str | None) -> None:
        if conversation_id is None:
            config.limiter.hit(("sessions_per_ip", ip))
        else:
            config.limiter.hit(("sessions_per_conversation", conversation_id))

    session = sessions.start_session(services.db(), body.token, identity=identity, page_url=body.page_url,
                                     origin=origin or None, admit=admit)
    return schemas.SessionResponse(token=session.token, created=session.created, user=_user(session))


@api.post("/messages", response_model=schemas.WidgetReply, responses=ERRORS)
def send_message(body: schemas.MessageRequest, request: Request, session: SessionDep, bot: BotDep,
                 config: ConfigDep) -> schemas.WidgetReply:
    """Ask the bot; the reply is an answer with article cards, a "Did you mean", or an offer of a person."""
    config.limiter.hit(("messages_per_ip", client_ip(request)), ("messages_per_conversation", session.conversation_id))
    reply = bot.reply(body.message, session_id=session.conversation_id, page_url=body.page_url, channel="widget")
    return _reply(reply.to_dict())


@api.get("/transcript", response_model=schemas.WidgetTranscript, responses=ERRORS)
def transcript(session: SessionDep, bot: BotDep) -> schemas.WidgetTranscript:
    """The conversation so far (the panel draws it again after a page load)."""
    found = bot.transcript(session.conversation_id)
    return schemas.WidgetTranscript(ticket=TicketRef(**found["ticket"]) if found["ticket"] else None,
                                    user=_user(session), messages=found["messages"])


@api.get("/transcript.txt", response_class=PlainTextResponse, responses=ERRORS)
def transcript_download(request: Request, session: SessionDep, bot: BotDep, settings: SettingsDep) -> Response:
    """The conversation as a text file to keep."""
    text = sessions.transcript_text(settings.site_name, bot.transcript(session.conversation_id),
                                    base_url(request, settings))
    return PlainTextResponse(text, headers={"Content-Disposition": 'attachment; filename="conversation.txt"',
                                            "Cache-Control": "no-store"})


@api.post("/feedback", response_model=schemas.WidgetFeedbackResponse, responses=ERRORS)
def feedback(body: schemas.WidgetFeedbackRequest, request: Request, session: SessionDep, bot: BotDep,
             config: ConfigDep) -> schemas.WidgetFeedbackResponse:
    """Helpful or not on an answer; a second "not helpful" offers a person."""
    config.limiter.hit(("messages_per_ip", client_ip(request)), ("messages_per_conversation", session.conversation_id))
    reply = bot.feedback(session.conversation_id, body.helpful, message_id=body.message_id)
    return schemas.WidgetFeedbackResponse(reply=_reply(reply.to_dict()) if reply else None)


@api.post("/handoff", response_model=schemas.WidgetHandoffResponse, responses=ERRORS)
def handoff(body: HandoffRequest, request: Request, session: SessionDep, bot: BotDep,
            config: ConfigDep) -> schemas.WidgetHandoffResponse:
    """Hand the conversation to a person; a signed-in user's ticket is marked verified."""
    config.limiter.hit(("handoffs_per_ip", client_ip(request)), ("handoffs_per_conversation", session.conversation_id))
    ticket = bot.handoff(session.conversation_id, str(body.email), name=body.name.strip(), note=body.note.strip(),
                         verified=session.verified)
    return schemas.WidgetHandoffResponse(reference=ticket.reference, status=ticket.status, verified=session.verified,
                                         text=handoff_text(ticket.reference))


@api.get("/articles", response_model=list[schemas.SuggestedArticle])
def suggested_articles(services: ServicesDep, _origin: OriginDep,
                       slug: Annotated[list[str], Query(max_length=10)] = []) -> list[schemas.SuggestedArticle]:  # noqa: B006
    """The articles to suggest for a page: these slugs (unknown ones skipped), else the most read."""
    db = services.db()
    if slug:
        by_slug = {a.slug: a for a in helpcenter.list_articles(db)}
        found = [by_slug[s] for s in (helpcenter.resolve_slug(db, s) for s in slug) if s in by_slug]
    else:
        found = services.popular_articles(SUGGESTED)
    return [schemas.SuggestedArticle(slug=a.slug, title=a.title, url=a.url, description=a.description)
            for a in found[:SUGGESTED]]


# -- the loader and the panel ------------------------------------------------------------------


@pages.get("/widget.js")
def loader(request: Request, config: ConfigDep) -> Response:
    headers = {"Cache-Control": f"public, max-age={LOADER_MAX_AGE}", "ETag": config.loader_etag,
               "Vary": "Accept-Encoding", "Cross-Origin-Resource-Policy": "cross-origin"}
    if request.headers.get("if-none-match") == config.loader_etag:
        return Response(status_code=304, headers=headers)
    body = config.loader
    if "gzip" in request.headers.get("accept-encoding", ""):
        body, headers["Content-Encoding"] = config.loader_gzip, "gzip"
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


def frame_csp(policy: OriginPolicy) -> str:
    """The panel's own CSP: like the site's, but embeddable by the allowed origins only."""
    return ("default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'self'; img-src 'self' data:; "
            "style-src 'self'; style-src-attr 'unsafe-inline'; script-src 'self'; connect-src 'self'; "
            f"frame-ancestors {policy.frame_ancestors()}")


@pages.get("/widget/frame")
def frame(request: Request, config: ConfigDep, settings: SettingsDep, host: str = "", theme: str = "auto",
          lang: str = "en") -> Response:
    """The panel, for the page of ``host`` (its origin: the only one the panel talks to)."""
    if not host:
        raise OriginNotAllowedError("the help panel opens from a page with the widget's script tag (no host given)")
    origin = allowed_origin(host, request, config, settings)
    response = render(request, "widget_frame.html", {
        "host": origin, "theme": theme if theme in ("light", "dark") else "auto",
        "lang": lang if _LANG.match(lang) else "en",
    })
    response.headers["Content-Security-Policy"] = frame_csp(config.policy)
    response.headers["Cache-Control"] = f"public, max-age={FRAME_MAX_AGE}"
    return response

"""One place that turns core errors into responses: ``error.html`` for pages, ``{"detail": ...}`` for the API."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.chat import ChatInputError
from bot.conversations import ConversationNotFoundError
from bot.gap_store import GapNotFoundError
from bot.handoff import TicketNotFoundError
from bot.identity import IdentityError
from bot.ratelimit import RateLimitedError
from bot.widget import WidgetTokenError
from kb.events import FeedbackError
from kb.helpcenter import ArticleMovedError, NotFoundError
from kb.origins import OriginNotAllowedError
from search.searcher import QueryError
from web.auth import LOGIN_PATH, AccessDeniedError, CsrfError, SignInRequiredError
from web.templating import render

log = logging.getLogger("kb.web")

TITLES = {
    400: "We couldn't search for that",
    401: "Please start again",
    403: "That isn't allowed here",
    404: "We can't find that page",
    405: "That doesn't work here",
    422: "Something in that request isn't right",
    429: "Too many requests",
    500: "Something went wrong on our side",
}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_response(request: Request, status: int, message: str) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    popular = []
    if status == 404:
        try:
            popular = request.app.state.services.popular_articles(5)
        except Exception:  # noqa: BLE001 - an error page must render even if the database cannot
            log.exception("could not list popular articles for the error page")
    query = request.query_params.get("q", "")[:200]
    return render(request, "error.html", {
        "status": status, "title": TITLES.get(status, "Something went wrong"), "message": message,
        "query": query, "popular": popular,
    }, status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path"))
        problems.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "; ".join(problems) or "the request is not valid"


async def moved(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ArticleMovedError)
    path = request.url.path
    head, _, tail = path.rpartition(exc.old_slug)
    target = head + quote(exc.new_slug) + tail if head else f"/articles/{quote(exc.new_slug)}"
    if request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(target, status_code=301)


async def not_found(request: Request, exc: Exception) -> Response:
    return error_response(request, 404, str(exc))


async def bad_query(request: Request, exc: Exception) -> Response:
    return error_response(request, 400, str(exc))


async def bad_feedback(request: Request, exc: Exception) -> Response:
    return error_response(request, 422, str(exc))


async def invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(request, 422, _validation_message(exc))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = "there is nothing at this address" if exc.status_code == 404 else str(exc.detail)
    response = error_response(request, exc.status_code, message)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def sign_in_required(request: Request, exc: Exception) -> Response:
    # 303 so a POST from an expired session comes back as a GET of the sign-in page.
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303)


async def access_denied(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AccessDeniedError)
    return render(request, "admin/denied.html", {
        "title": "Your account can't open this page",
        "message": f"You are signed in as {exc.staff.username}, a {exc.staff.role}. {AREA_OWNERS[exc.area]} "
                   "Ask an admin to change your role if you need it.",
        "admin": getattr(request.state, "admin", None),
    }, status_code=403)


async def csrf_failed(request: Request, exc: Exception) -> Response:
    return render(request, "admin/denied.html", {
        "title": "This form has expired",
        "message": "Nothing was changed: the form was older than your sign-in, or it was sent from another site. "
                   "Go back, reload the page and try again.",
        "admin": getattr(request.state, "admin", None),
    }, status_code=403)


AREA_OWNERS = {
    "tickets": "The agent inbox is for agents and admins.",
    "gaps": "Gap reports are for writers and admins.",
    "analytics": "Analytics are for writers and admins.",
}


async def forbidden(request: Request, exc: Exception) -> Response:
    return error_response(request, 403, str(exc))


async def bad_widget_token(request: Request, exc: Exception) -> Response:
    response = error_response(request, 401, str(exc))
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


async def rate_limited(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimitedError)
    response = error_response(request, 429, str(exc))
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    return error_response(request, 500, "please try again in a moment")


def install_error_handlers(app: FastAPI) -> None:
    # Starlette picks the most specific class, so a moved article redirects rather than 404s.
    app.add_exception_handler(ArticleMovedError, moved)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(QueryError, bad_query)
    app.add_exception_handler(FeedbackError, bad_feedback)
    app.add_exception_handler(ChatInputError, bad_feedback)
    app.add_exception_handler(ConversationNotFoundError, not_found)
    app.add_exception_handler(TicketNotFoundError, not_found)
    app.add_exception_handler(GapNotFoundError, not_found)
    app.add_exception_handler(SignInRequiredError, sign_in_required)
    app.add_exception_handler(AccessDeniedError, access_denied)
    app.add_exception_handler(CsrfError, csrf_failed)
    app.add_exception_handler(OriginNotAllowedError, forbidden)
    app.add_exception_handler(IdentityError, forbidden)
    app.add_exception_handler(WidgetTokenError, bad_widget_token)
    app.add_exception_handler(RateLimitedError, rate_limited)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, server_error)

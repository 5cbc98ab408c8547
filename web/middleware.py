"""Per-request plumbing as plain ASGI: the anonymous session cookie, security headers, static caching."""

from __future__ import annotations

import re
import secrets
from http.cookies import CookieError, SimpleCookie

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "kb_session"
_SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
ONE_YEAR = 365 * 24 * 3600

# Only this site's own files run or style a page. Article tables keep `style="text-align"` (the
# sanitizer allows nothing else), hence style attributes but no inline <style> or <script>.
CSP = (
    "default-src 'self'; base-uri 'self'; object-src 'none'; frame-ancestors 'self'; form-action 'self'; "
    "img-src 'self' data:; style-src 'self'; style-src-attr 'unsafe-inline'; script-src 'self'"
)
# Swagger UI starts itself with an inline script.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'"
)


def session_from(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            try:
                cookie = SimpleCookie(value.decode("latin-1"))
            except CookieError:
                return None
            morsel = cookie.get(SESSION_COOKIE)
            if morsel and _SESSION_ID.match(morsel.value):
                return morsel.value
    return None


class SiteMiddleware:
    """Gives every request ``request.state.session_id`` (set as an HttpOnly cookie when new) and adds headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        is_static = path.startswith("/static/")
        session = session_from(scope)
        new_session = None
        # The widget runs inside customers' pages: no cookie of ours there (and /widget.js stays cacheable).
        is_widget = path == "/widget.js" or path.startswith(("/widget/", "/api/widget/"))
        if session is None and not is_static and not is_widget:
            session = new_session = secrets.token_hex(16)
        scope.setdefault("state", {})["session_id"] = session
        versioned = is_static and b"v=" in scope.get("query_string", b"")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
                headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", DOCS_CSP if path == "/docs" else CSP)
                if versioned and message["status"] == 200:
                    headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
                if new_session:
                    secure = "; Secure" if scope.get("scheme") == "https" else ""
                    headers.append(
                        "Set-Cookie",
                        f"{SESSION_COOKIE}={new_session}; Path=/; Max-Age={ONE_YEAR}; HttpOnly; SameSite=Lax{secure}",
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)

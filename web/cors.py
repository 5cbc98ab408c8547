"""CORS for the widget API only: pages on allowed origins may call ``/api/widget/*``; nothing else is shared.

No credentials: the widget's conversation token travels in ``Authorization: Bearer``, not in a cookie.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kb.origins import OriginPolicy

PREFIX = "/api/widget/"
ALLOW_METHODS = "GET, POST"
ALLOW_HEADERS = "Authorization, Content-Type"
PREFLIGHT_MAX_AGE = "600"


class WidgetCORSMiddleware:
    """Answers preflights and adds ``Access-Control-Allow-Origin`` for allowed origins on the widget API."""

    def __init__(self, app: ASGIApp, policy: OriginPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        allowed = origin is not None and self.policy.allows(origin)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            if not allowed:
                # No CORS headers: the browser blocks the request, and says so in the page's console.
                await PlainTextResponse("this origin may not use the widget API", status_code=403)(scope, receive, send)
                return
            await PlainTextResponse("", status_code=204, headers={
                "Access-Control-Allow-Origin": str(origin), "Access-Control-Allow-Methods": ALLOW_METHODS,
                "Access-Control-Allow-Headers": ALLOW_HEADERS, "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
                "Vary": "Origin",
            })(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out.add_vary_header("Origin")
                if allowed:
                    out["Access-Control-Allow-Origin"] = str(origin)
                    out["Access-Control-Expose-Headers"] = "Retry-After"
            await send(message)

        await self.app(scope, receive, send_with_cors)

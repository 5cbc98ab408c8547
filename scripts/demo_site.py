"""A demo product ("Lumio", an online-learning app) that embeds the help widget as a customer's site would.

    # terminal 1: the help center, allowing the demo's origin
    export SECRET=$(openssl rand -hex 32)
    KB_WIDGET_ALLOWED_ORIGINS=http://127.0.0.1:8001 KB_WIDGET_IDENTITY_SECRET=$SECRET kb serve
    # terminal 2: the product, on another origin
    python scripts/demo_site.py --help-url http://127.0.0.1:8000 --port 8001 --identity-secret $SECRET

Open http://127.0.0.1:8001: the pages carry one script tag plus ``window.KBWidgetSettings``. "Sign in"
shows identity verification: the demo's server signs the user with an HS256 JWT, the way your backend
would, and the widget marks that user's tickets verified. Nothing here imports the help center: it is
another site that only knows the widget's URL.
"""

from __future__ import annotations

import argparse
import html
import json
import time
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

# Page-to-article suggestions for the bundled articles (URL pattern -> slugs).
BUNDLED_SUGGESTIONS = {
    "/billing*": ["request-a-refund", "update-your-payment-method", "cancel-your-subscription"],
    "/settings*": ["reset-your-password", "change-your-email-address", "two-factor-authentication"],
    "*": ["navigate-your-dashboard", "how-lumio-works", "install-the-mobile-app"],
}
USER = {"id": "u_1042", "email": "ann@lumio-customer.example", "name": "Ann Lee"}
PAGES = {
    "/": ("Dashboard", "Pick up where you left off: <em>Intro to Data Science</em>, lesson 4 of 12."),
    "/billing": ("Billing", "You're on the <strong>Annual</strong> plan, renewing on 12 March. Next invoice: $96."),
    "/settings/account": ("Account settings", "Email, password and two-factor authentication for your account."),
}
STYLE = """
body{margin:0;font:16px/1.5 Georgia,serif;background:#fbf7f0;color:#2b2118}
header{display:flex;gap:1.5rem;align-items:center;padding:1rem 2rem;background:#2b2118;color:#fbf7f0}
header a{color:#fbf7f0}header strong{font-size:1.25rem;margin-right:auto}
main{max-width:44rem;margin:2rem auto;padding:0 1.5rem}
h1{font-size:2rem;margin:0 0 1rem}
button,.button{font:inherit;padding:.5rem 1rem;border-radius:6px;border:1px solid #2b2118;background:#fff;cursor:pointer}
/* A heavy-handed site stylesheet: none of it may reach the widget. */
button{text-transform:uppercase;letter-spacing:.2em}
iframe{border:5px dashed red}
"""


def signed_user(secret: str, hours: float = 1.0) -> dict[str, Any]:
    """What a customer's backend puts in the page for a signed-in user: the user and an HS256 JWT."""
    claims = {"sub": USER["id"], "email": USER["email"], "name": USER["name"], "exp": int(time.time() + hours * 3600)}
    return {**USER, "jwt": jwt.encode(claims, secret, algorithm="HS256")}


def page(request: Request) -> Response:
    app = request.app.state
    path = request.url.path
    title, text = PAGES[path]
    signed_in = request.cookies.get("demo_user") == "1"
    user = signed_user(app.secret) if signed_in and app.secret else (USER if signed_in else None)
    settings = {
        "position": "right", "color": "#b45309", "launcherLabel": "Help",
        "greeting": "Hi! I'm Lumio's assistant. Ask me anything, or search our help articles.",
        "darkMode": "auto", "locale": "auto", "suggestions": app.suggestions, "user": user,
    }
    nav = " ".join(f'<a href="{p}">{html.escape(t)}</a>' for p, (t, _) in PAGES.items())
    account = ('<form method="post" action="/logout"><button id="logout">Sign out</button></form>' if signed_in
               else '<form method="post" action="/login"><button id="login">Sign in as Ann</button></form>')
    # json.dumps output is safe inside <script> once "</" is escaped.
    settings_json = json.dumps(settings).replace("</", "<\\/")
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · Lumio</title><link rel="icon" href="data:,"><style>{STYLE}</style>
<script>
  window.KBWidgetSettings = {settings_json};
  window.KBWidget = window.KBWidget || function () {{ (KBWidget.q = KBWidget.q || []).push(arguments); }};
  KBWidget("on", "ready", function () {{ document.documentElement.dataset.widget = "ready"; }});
  KBWidget("on", "handoff", function (ticket) {{ document.documentElement.dataset.ticket = ticket.reference; }});
</script>
<script async src="{html.escape(app.help_url)}/widget.js"></script>
</head><body>
<header><strong>Lumio</strong><nav>{nav}</nav>{account}</header>
<main><h1>{html.escape(title)}</h1><p>{text}</p>
<p><button type="button" onclick="KBWidget('ask', 'How do I get a refund?')">Ask about refunds</button>
<button type="button" onclick="KBWidget('open')">Open help</button></p>
<p><a href="#billing-details" onclick="history.pushState({{}}, '', '/billing'); return false;">Billing (without a page load)</a></p>
</main></body></html>"""
    return HTMLResponse(body)


def login(request: Request) -> Response:
    response = RedirectResponse(request.headers.get("referer") or "/", status_code=303)
    response.set_cookie("demo_user", "1", httponly=True, samesite="lax")
    return response


def logout(request: Request) -> Response:
    # The page after sign-out calls KBWidget("reset") so the next person does not see Ann's conversation.
    response = HTMLResponse("""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed out</title><link rel="icon" href="data:,">
<script>window.KBWidget=window.KBWidget||function(){(KBWidget.q=KBWidget.q||[]).push(arguments)};KBWidget("reset");</script>
<script async src="%s/widget.js"></script></head><body><main><h1>Signed out</h1><p><a href="/">Back</a></p></main>
</body></html>""" % html.escape(request.app.state.help_url))
    response.delete_cookie("demo_user")
    return response


def build_demo(help_url: str, identity_secret: str = "", suggestions: dict[str, list[str]] | None = None) -> Starlette:
    """The demo product as an ASGI app (the browser tests serve it on a second port)."""
    app = Starlette(routes=[
        *(Route(path, page) for path in PAGES),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ])
    app.state.help_url = help_url.rstrip("/")
    app.state.secret = identity_secret
    app.state.suggestions = BUNDLED_SUGGESTIONS if suggestions is None else suggestions
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--help-url", default="http://127.0.0.1:8000", help="where the help center runs")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--identity-secret", default="", help="the help center's KB_WIDGET_IDENTITY_SECRET")
    args = parser.parse_args()
    import uvicorn

    print(f"demo product on http://{args.host}:{args.port}, embedding {args.help_url}/widget.js")
    uvicorn.run(build_demo(args.help_url, args.identity_secret), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

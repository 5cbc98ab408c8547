"""Staff sign-in and the admin overview. The areas live in ``admin_tickets``, ``admin_gaps`` and ``admin_analytics``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot import analytics
from bot.gaps import list_gaps
from bot.inbox import ticket_counts
from kb.accounts import authenticate
from web.auth import (
    AuthDep, MaybeAdminDep, StaffDep, StaffFormDep, clear_session_cookie, safe_next, set_session_cookie,
    verify_signin_token,
)
from web.deps import ServicesDep, SettingsDep
from web.templating import render

router = APIRouter(prefix="/admin", include_in_schema=False)
PERIODS = ("7", "30", "90")
NO_STORE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}


def render_admin(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200,
                 headers: dict[str, str] | None = None) -> HTMLResponse:
    """Render an admin page: never cached (transcripts and emails must not stay in a shared browser) nor indexed."""
    response = render(request, name, {"admin": getattr(request.state, "admin", None), **(context or {})},
                      status_code=status_code)
    response.headers.update({**NO_STORE, **(headers or {})})
    return response


def _signin_page(request: Request, auth: AuthDep, *, next_url: str, username: str = "", error: str = "",
                 notice: str = "", status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return render_admin(request, "admin/login.html", {
        "signin_token": auth.signin_token(request.state.session_id or ""), "next_url": next_url,
        "username": username, "error": error, "notice": notice,
    }, status_code=status_code, headers=headers)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, auth: AuthDep, session: MaybeAdminDep,
               next_url: Annotated[str, Query(alias="next", max_length=2000)] = "",
               signed_out: bool = False) -> Response:
    if session is not None:
        return RedirectResponse(safe_next(next_url), status_code=303)
    return _signin_page(request, auth, next_url=safe_next(next_url),
                        notice="You are signed out." if signed_out else "")


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request, auth: AuthDep, services: ServicesDep, settings: SettingsDep,
    username: Annotated[str, Form(max_length=200)] = "", password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next_url: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    verify_signin_token(request, auth, csrf_token)
    username, next_url = username.strip(), safe_next(next_url)
    wait = auth.signin_attempt(request.client.host if request.client else "unknown", username)
    if wait is not None:
        minutes = f"{wait} seconds" if wait < 120 else f"{round(wait / 60)} minutes"
        return _signin_page(request, auth, next_url=next_url, username=username, status_code=429,
                            error=f"Too many sign-in attempts. Wait {minutes}, then try again.",
                            headers={"Retry-After": str(wait)})
    staff = authenticate(services.db(), username, password) if username and password else None
    if staff is None:
        # One message for both cases, so the form doesn't tell which usernames exist.
        return _signin_page(request, auth, next_url=next_url, username=username, status_code=401,
                            error="That username and password don't match a staff account.")
    cookie, _ = auth.new_session(staff)  # a new CSRF token with every sign-in
    response = RedirectResponse(next_url, status_code=303)
    set_session_cookie(response, request, settings, cookie, auth.max_age)
    return response


@router.post("/logout")
def logout(request: Request, _: StaffFormDep, settings: SettingsDep) -> Response:
    response = RedirectResponse("/admin/login?signed_out=1", status_code=303)
    clear_session_cookie(response, request, settings)
    return response


@router.get("", response_class=HTMLResponse)
def overview(request: Request, admin: StaffDep, services: ServicesDep) -> HTMLResponse:
    """What needs attention in each area this account may open."""
    db = services.db()
    staff = admin.staff
    gaps = None
    if staff.can("gaps"):
        gaps = list_gaps(db, status="open", period_days=30)
        if services.gap_worker is not None:
            services.gap_worker.wake()
    return render_admin(request, "admin/overview.html", {
        "tickets": ticket_counts(db) if staff.can("tickets") else None,
        "gaps": gaps,
        "report": analytics.report(db, 30) if staff.can("analytics") else None,
    })

"""Staff sign-in for ``/admin``: a signed session cookie, CSRF tokens for every admin form, sign-in rate limits,
and the dependencies that let a route say which area (tickets, gaps, analytics) it belongs to.

The cookie holds only the staff id and the session's CSRF token, signed and timed with itsdangerous; the
account is looked up on every request, so a removed account is signed out at once.
"""

# No `from __future__ import annotations` here: FastAPI reads the dependency signatures built inside
# require() and csrf_checker() at runtime, and string annotations there could not see `area`.
import hashlib
import hmac
import math
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.responses import Response

from kb.accounts import Staff, get_staff
from kb.settings import Settings
from web.deps import ServicesDep, SettingsDep

SESSION_COOKIE = "kb_admin"
SECRET_FILE = "secret_key"
LOGIN_PATH = "/admin/login"
_SAFE_NEXT = re.compile(r"^/admin(?:[/?][^\s\\]*)?$")


class SignInRequiredError(Exception):
    """No valid staff session: the error handler sends the browser to the sign-in page."""


class AccessDeniedError(Exception):
    """Signed in, but this account's role does not cover the area."""

    def __init__(self, staff: Staff, area: str) -> None:
        super().__init__(f"{staff.username} ({staff.role}) may not open {area}")
        self.staff, self.area = staff, area


class CsrfError(Exception):
    """A form came without this session's CSRF token (an old page, or another site posting it)."""


def load_secret_key(settings: Settings) -> str:
    """``KB_SECRET_KEY``, or the key kept in the data folder, created on first use (readable by the owner only).

    Keeping it means a restart does not sign everyone out; O_EXCL means two workers starting at once
    agree on one key.
    """
    configured = settings.secret_key.get_secret_value()
    if configured:
        return configured
    path = Path(settings.data_dir) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
        if len(key) < 32:
            raise RuntimeError(f"{path} holds no usable key: delete it (everyone signs in again) or set KB_SECRET_KEY")
        return key
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")
    return key


@dataclass(frozen=True)
class AdminSession:
    """The signed-in staff member and the token their forms must send back."""

    staff: Staff
    csrf_token: str


class StaffAuth:
    """Signs and reads session cookies, makes CSRF tokens, and counts sign-in attempts (one per app)."""

    def __init__(self, secret: str, *, session_hours: float = 12.0, rate_limit: str = "5/minute;20/hour") -> None:
        self._secret = secret.encode()
        self._serializer = URLSafeTimedSerializer(secret, salt="kb.admin.session")
        self.max_age = int(session_hours * 3600)
        self._limits: list[RateLimitItem] = parse_many(rate_limit)
        # In memory, per process: behind several workers each counts its own attempts, which still bounds guessing.
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    @classmethod
    def from_settings(cls, settings: Settings) -> "StaffAuth":
        return cls(load_secret_key(settings), session_hours=settings.admin_session_hours,
                   rate_limit=settings.signin_rate_limit)

    # -- sessions ----------------------------------------------------------------------------------

    def new_session(self, staff: Staff) -> tuple[str, str]:
        """A fresh (cookie value, CSRF token) for a staff member who just signed in."""
        token = secrets.token_urlsafe(32)
        return self._serializer.dumps({"staff": staff.id, "csrf": token}), token

    def read_session(self, cookie: str | None) -> tuple[int, str] | None:
        """(staff id, CSRF token) from a cookie this app signed less than ``max_age`` seconds ago."""
        if not cookie:
            return None
        try:
            data: Any = self._serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:  # also covers SignatureExpired
            return None
        if not isinstance(data, dict) or not isinstance(data.get("staff"), int) or not isinstance(data.get("csrf"), str):
            return None
        return data["staff"], data["csrf"]

    def signin_token(self, visitor: str) -> str:
        """The sign-in form's CSRF token, bound to the visitor's anonymous session (``kb_session``)."""
        return hmac.new(self._secret, b"signin:" + visitor.encode(), hashlib.sha256).hexdigest()

    # -- sign-in attempts --------------------------------------------------------------------------

    def signin_attempt(self, ip: str, username: str) -> int | None:
        """Count one sign-in attempt; the seconds to wait when the IP or the username is over its limit, else None."""
        keys = [("ip", ip), ("user", username.strip().casefold()[:64])]
        waits = [self._wait(item, key) for item in self._limits for key in keys
                 if not self._limiter.test(item, *key)]
        if waits:
            return max(waits)
        for item in self._limits:
            for key in keys:
                self._limiter.hit(item, *key)
        return None

    def _wait(self, item: RateLimitItem, key: tuple[str, str]) -> int:
        reset = self._limiter.get_window_stats(item, *key).reset_time
        return max(1, math.ceil(reset - time.time()))


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a path inside /admin, so the link can't send anyone off-site."""
    return target if target and _SAFE_NEXT.match(target) else "/admin"


def cookie_is_secure(request: Request, settings: Settings) -> bool:
    # Behind a proxy that ends TLS the request looks like http, so an https base URL counts too.
    return request.url.scheme == "https" or settings.base_url.startswith("https://")


def set_session_cookie(response: Response, request: Request, settings: Settings, value: str, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, value, max_age=max_age, path="/admin", httponly=True, samesite="lax",
                        secure=cookie_is_secure(request, settings))


def clear_session_cookie(response: Response, request: Request, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/admin", httponly=True, samesite="lax",
                           secure=cookie_is_secure(request, settings))


# -- dependencies --------------------------------------------------------------------------------


async def get_auth(request: Request) -> StaffAuth:
    return request.app.state.auth  # type: ignore[no-any-return]


AuthDep = Annotated[StaffAuth, Depends(get_auth)]


def current_session(request: Request, auth: AuthDep, services: ServicesDep) -> AdminSession | None:
    """The signed-in staff member, or None. Kept on ``request.state.admin`` for templates and error pages."""
    found = auth.read_session(request.cookies.get(SESSION_COOKIE))
    staff = get_staff(services.db(), found[0]) if found else None
    session = AdminSession(staff, found[1]) if staff and found else None
    request.state.admin = session
    return session


MaybeAdminDep = Annotated[AdminSession | None, Depends(current_session)]


def require(area: str | None = None) -> Any:
    """A dependency: a signed-in staff member (whose role covers ``area``, when given)."""

    def dependency(session: MaybeAdminDep) -> AdminSession:
        if session is None:
            raise SignInRequiredError()
        if area is not None and not session.staff.can(area):
            raise AccessDeniedError(session.staff, area)
        return session

    return Depends(dependency)


StaffDep = Annotated[AdminSession, require()]
AgentDep = Annotated[AdminSession, require("tickets")]
GapsDep = Annotated[AdminSession, require("gaps")]
AnalyticsDep = Annotated[AdminSession, require("analytics")]


def csrf_checker(area: str | None = None) -> Any:
    """A dependency for POST routes: the area's staff check, then the form's ``csrf_token`` against the session's."""

    def dependency(session: Annotated[AdminSession, require(area)],
                   csrf_token: Annotated[str, Form(max_length=200)] = "") -> AdminSession:
        if not hmac.compare_digest(csrf_token.encode(), session.csrf_token.encode()):
            raise CsrfError()
        return session

    return Depends(dependency)


StaffFormDep = Annotated[AdminSession, csrf_checker()]
AgentFormDep = Annotated[AdminSession, csrf_checker("tickets")]
GapsFormDep = Annotated[AdminSession, csrf_checker("gaps")]


def verify_signin_token(request: Request, auth: StaffAuth, token: str) -> None:
    """The sign-in form's CSRF check (there is no staff session yet, so it is tied to the visitor cookie)."""
    expected = auth.signin_token(request.state.session_id or "")
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise CsrfError()


__all__ = [
    "AccessDeniedError", "AdminSession", "AgentDep", "AgentFormDep", "AnalyticsDep", "AuthDep", "CsrfError",
    "GapsDep", "GapsFormDep", "MaybeAdminDep", "SignInRequiredError", "StaffAuth", "StaffDep", "StaffFormDep",
    "clear_session_cookie", "load_secret_key", "safe_next", "set_session_cookie", "verify_signin_token",
]

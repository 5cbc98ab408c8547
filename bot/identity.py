"""Who is chatting: a widget user signed by the customer's backend is verified; an unsigned one is a visitor.

Two signatures are accepted, both made with the help center's shared secret (``KB_WIDGET_IDENTITY_SECRET``):

- ``jwt``: an HS256 JSON Web Token with ``sub`` (the user id) and ``exp`` (at most 12 hours ahead);
  ``email`` and ``name`` claims, when present, are signed too and win over the unsigned fields;
- ``hash``: the hex HMAC-SHA256 of the user id (the older Intercom / Help Scout style).

>>> import hmac, hashlib
>>> secret = "a-secret-of-at-least-32-characters"
>>> sig = hmac.new(secret.encode(), b"42", hashlib.sha256).hexdigest()
>>> verify_identity(ClaimedUser(id="42", email="ann@example.com", hash=sig), secret).verified
True
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

import jwt

MAX_TOKEN_HOURS = 12.0
LEEWAY_SECONDS = 30  # clock skew between the customer's servers and ours


class IdentityError(ValueError):
    """A claimed identity failed verification, or only verified users are allowed; the text says what to fix."""


@dataclass(frozen=True)
class ClaimedUser:
    """What the page says about its user (``KBWidgetSettings.user`` or ``KBWidget("identify", ...)``)."""

    id: str | None = None
    email: str = ""
    name: str = ""
    jwt: str | None = None
    hash: str | None = None


@dataclass(frozen=True)
class Identity:
    """The user as the help center records them on the conversation and its ticket."""

    user_id: str | None
    email: str
    name: str
    verified: bool


def _verify_jwt(token: str, secret: str, claimed: ClaimedUser, now: float, max_hours: float) -> Identity:
    try:
        # `exp` is checked below against `now` (so tests and replays use one clock), not inside decode.
        claims = jwt.decode(token, secret, algorithms=["HS256"],
                            options={"require": ["sub", "exp"], "verify_exp": False}, leeway=LEEWAY_SECONDS)
    except jwt.MissingRequiredClaimError as exc:
        raise IdentityError(f"the user's identity token has no '{exc.claim}' claim: add it and sign again") from None
    except jwt.InvalidSignatureError:
        raise IdentityError(
            "the user's identity token is not signed with this help center's KB_WIDGET_IDENTITY_SECRET") from None
    except jwt.InvalidTokenError as exc:
        raise IdentityError(f"the user's identity token is not a valid HS256 JWT ({exc})") from None
    try:
        expires = float(claims["exp"])
    except (TypeError, ValueError):
        raise IdentityError("the user's identity token has an 'exp' claim that is not a time") from None
    if expires + LEEWAY_SECONDS < now:
        raise IdentityError("the user's identity token has expired: sign a new one for each page")
    # A leaked long-lived token would let anyone chat as that user: keep them short (Intercom's rule).
    if expires - now > max_hours * 3600 + LEEWAY_SECONDS:
        raise IdentityError(f"the user's identity token expires more than {max_hours:g} hours from now: "
                            "sign shorter-lived tokens")
    user_id = str(claims["sub"])
    if claimed.id is not None and str(claimed.id) != user_id:
        raise IdentityError("user.id does not match the identity token's 'sub' claim")
    return Identity(user_id, str(claims.get("email") or claimed.email), str(claims.get("name") or claimed.name), True)


def _verify_hash(signature: str, secret: str, claimed: ClaimedUser) -> Identity:
    if not claimed.id:
        raise IdentityError("user.hash signs the user id, so user.id is required with it")
    expected = hmac.new(secret.encode(), str(claimed.id).encode(), hashlib.sha256).hexdigest()
    # Constant-time comparison: timing must not reveal how much of a forged hash was right.
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise IdentityError("user.hash is not the HMAC-SHA256 of user.id with KB_WIDGET_IDENTITY_SECRET")
    return Identity(str(claimed.id), claimed.email, claimed.name, True)


def verify_identity(
    claimed: ClaimedUser | None,
    secret: str,
    *,
    require_verified: bool = False,
    now: float | None = None,
    max_hours: float = MAX_TOKEN_HOURS,
) -> Identity | None:
    """The verified or visitor identity of ``claimed`` (None for an anonymous visitor).

    :raise IdentityError: a signature is present but wrong, expired or unverifiable, or
        ``require_verified`` is set and the user is unsigned.
    """
    if claimed is None or not (claimed.id or claimed.email or claimed.name or claimed.jwt or claimed.hash):
        if require_verified:
            raise IdentityError("this help center only chats with signed-in users: identify the user with a "
                                "signed user.jwt or user.hash")
        return None
    if claimed.jwt or claimed.hash:
        if not secret:
            raise IdentityError("identity verification is not set up: set KB_WIDGET_IDENTITY_SECRET on the help "
                                "center to the secret the user is signed with")
        if claimed.jwt:
            return _verify_jwt(claimed.jwt, secret, claimed, time.time() if now is None else now, max_hours)
        assert claimed.hash is not None
        return _verify_hash(claimed.hash, secret, claimed)
    if require_verified:
        raise IdentityError("this help center only chats with verified users: sign the user with user.jwt or "
                            "user.hash")
    return Identity(str(claimed.id) if claimed.id else None, claimed.email, claimed.name, False)

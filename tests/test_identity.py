"""Widget identity: signed users (HS256 JWT or HMAC of the id) are verified; unsigned ones are visitors."""

import hashlib
import hmac
import time

import jwt
import pytest

from bot.identity import ClaimedUser, Identity, IdentityError, verify_identity

SECRET = "s3cret-shared-with-the-customer-backend"
NOW = 1_800_000_000.0


def token(claims: dict, secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def hmac_of(user_id: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def test_a_jwt_with_sub_and_exp_is_verified_and_its_signed_claims_win():
    claimed = ClaimedUser(id="42", email="typed@example.com", name="Typed",
                          jwt=token({"sub": "42", "exp": NOW + 3600, "email": "ann@example.com", "name": "Ann"}))
    assert verify_identity(claimed, SECRET, now=NOW) == Identity("42", "ann@example.com", "Ann", True)


def test_a_jwt_alone_names_the_user():
    claimed = ClaimedUser(jwt=token({"sub": "7", "exp": NOW + 60}), email="bob@example.com")
    assert verify_identity(claimed, SECRET, now=NOW) == Identity("7", "bob@example.com", "", True)


def test_an_hmac_of_the_user_id_is_verified():
    claimed = ClaimedUser(id="42", email="ann@example.com", name="Ann", hash=hmac_of("42").upper())
    assert verify_identity(claimed, SECRET, now=NOW) == Identity("42", "ann@example.com", "Ann", True)


def test_an_unsigned_user_is_a_visitor():
    assert verify_identity(ClaimedUser(id="42", email="ann@example.com"), SECRET) == Identity(
        "42", "ann@example.com", "", False)
    assert verify_identity(None, SECRET) is None
    assert verify_identity(ClaimedUser(), SECRET) is None


@pytest.mark.parametrize(("claimed", "message"), [
    (ClaimedUser(id="42", jwt=token({"sub": "42", "exp": NOW + 60}, secret="another-secret-of-at-least-32-bytes")), "not signed with"),
    (ClaimedUser(jwt=token({"sub": "42", "exp": NOW - 3600})), "has expired"),
    (ClaimedUser(jwt=token({"sub": "42"})), "no 'exp' claim"),
    (ClaimedUser(jwt=token({"exp": NOW + 60})), "no 'sub' claim"),
    (ClaimedUser(jwt=token({"sub": "42", "exp": NOW + 13 * 3600})), "more than 12 hours"),
    (ClaimedUser(id="43", jwt=token({"sub": "42", "exp": NOW + 60})), "does not match"),
    (ClaimedUser(jwt=token({"sub": "42", "exp": NOW + 60}, SECRET * 2, "HS512")), "not a valid HS256 JWT"),
    (ClaimedUser(jwt="not.a.jwt"), "not a valid HS256 JWT"),
    (ClaimedUser(id="42", hash=hmac_of("43")), "is not the HMAC-SHA256"),
    (ClaimedUser(hash=hmac_of("42")), "user.id is required"),
])
def test_a_bad_signature_is_refused_with_the_reason(claimed, message):
    with pytest.raises(IdentityError, match=message):
        verify_identity(claimed, SECRET, now=NOW)


def test_a_signature_without_a_configured_secret_is_refused():
    with pytest.raises(IdentityError, match="set KB_WIDGET_IDENTITY_SECRET"):
        verify_identity(ClaimedUser(id="42", hash=hmac_of("42")), "")


def test_only_verified_users_when_required():
    for claimed in (None, ClaimedUser(id="42", email="ann@example.com")):
        with pytest.raises(IdentityError, match="only chats with"):
            verify_identity(claimed, SECRET, require_verified=True)
    signed = ClaimedUser(id="42", hash=hmac_of("42"))
    assert verify_identity(signed, SECRET, require_verified=True) == Identity("42", "", "", True)


def test_the_real_clock_is_the_default():
    claimed = ClaimedUser(jwt=token({"sub": "42", "exp": time.time() + 600}))
    assert verify_identity(claimed, SECRET).verified

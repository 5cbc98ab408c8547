"""Staff accounts for the admin pages: writers read gap reports and analytics, agents work tickets.

Passwords are stored as salted scrypt hashes (stdlib ``hashlib.scrypt``), never in plain text.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import sqlite3
from dataclasses import dataclass
from typing import cast

from sqlite_utils import Database

ROLES = ("writer", "agent", "admin")
MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{2,64}$")
_N, _R, _P = 2**14, 8, 1  # scrypt cost: ~50 ms a check, enough to slow guessing without hurting sign-in


class AccountError(ValueError):
    """A username, password or role that cannot be used; the message says why."""


@dataclass(frozen=True)
class Staff:
    id: int
    username: str
    role: str

    def can(self, area: str) -> bool:
        """Writers see gaps and analytics, agents see tickets; admins see everything."""
        allowed = {"writer": {"gaps", "analytics"}, "agent": {"tickets"}}
        return self.role == "admin" or area in allowed.get(self.role, set())


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# A fixed hash to check against when the username is unknown, so timing does not reveal which usernames exist.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def create_staff(db: Database, username: str, password: str, role: str) -> Staff:
    if not _USERNAME.match(username):
        raise AccountError("usernames are 2-64 letters, digits, '.', '_', '@' or '-'")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"passwords need at least {MIN_PASSWORD} characters")
    try:
        row = db.table("staff").insert({
            "username": username, "password_hash": hash_password(password), "role": role,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        })
    except sqlite3.IntegrityError:
        raise AccountError(f"there is already a staff account {username!r}") from None
    return Staff(int(cast(int, row.last_pk)), username, role)


def authenticate(db: Database, username: str, password: str) -> Staff | None:
    """The account when the password is right, else None (same work either way)."""
    rows = list(db.query("select * from staff where username = ?", [username]))
    if not rows:
        check_password(password, _DUMMY_HASH)
        return None
    row = rows[0]
    if not check_password(password, row["password_hash"]):
        return None
    db.table("staff").update(row["id"], {"last_login": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
    return Staff(row["id"], row["username"], row["role"])


def get_staff(db: Database, staff_id: int) -> Staff | None:
    rows = list(db.query("select id, username, role from staff where id = ?", [staff_id]))
    return Staff(rows[0]["id"], rows[0]["username"], rows[0]["role"]) if rows else None


def list_staff(db: Database) -> list[Staff]:
    return [Staff(r["id"], r["username"], r["role"]) for r in db.query("select * from staff order by username")]


def set_password(db: Database, username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"passwords need at least {MIN_PASSWORD} characters")
    rows = list(db.query("select id from staff where username = ?", [username]))
    if not rows:
        raise AccountError(f"no staff account {username!r}")
    db.table("staff").update(rows[0]["id"], {"password_hash": hash_password(password)})


def delete_staff(db: Database, username: str) -> None:
    rows = list(db.query("select id from staff where username = ?", [username]))
    if not rows:
        raise AccountError(f"no staff account {username!r}")
    db.table("staff").delete(rows[0]["id"])

"""Reviewers' accounts and sessions, for a review server other machines can reach.

Passwords are hashed with scrypt (hashlib, OpenSSL's implementation: memory-hard, salted) and
compared in constant time. A session is a random cookie; the store keeps only its SHA-256, so a
copy of the database does not hand out logins.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update

from nianbao.review.schema_team import sessions, users
from nianbao.review.store import Store, StoreError, now

SCRYPT = {"n": 2**14, "r": 8, "p": 1}
SESSION_DAYS = 7
NAME = re.compile(r"^[\w.\-\u4e00-\u9fff]{1,64}$")
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def add_user(store: Store, name: str, password: str, replace: bool = False) -> None:
    """Add a reviewer (or set a new password with `replace`)."""
    if not NAME.match(name):
        raise StoreError(f"用户名 {name!r} 不可用：1–64 个汉字、字母、数字或 . _ -")
    if len(password) < MIN_PASSWORD:
        raise StoreError(f"密码至少 {MIN_PASSWORD} 位")
    h = hash_password(password)
    with store.writer.begin() as c:
        row = c.execute(select(users.c.id).where(users.c.name == name)).first()
        if row and not replace:
            raise StoreError(f"用户 {name} 已存在（改密码用 --replace）")
        if row:
            c.execute(update(users).where(users.c.id == row.id).values(password_hash=h))
            c.execute(delete(sessions).where(sessions.c.user_id == row.id))
        else:
            c.execute(insert(users).values(name=name, password_hash=h, created_at=now()))


def user_names(store: Store) -> list[str]:
    with store.engine.connect() as c:
        return list(c.execute(select(users.c.name).order_by(users.c.name)).scalars())


def login(store: Store, name: str, password: str) -> str | None:
    """A new session token for a right name and password, else None (same work either way)."""
    with store.engine.connect() as c:
        row = c.execute(select(users.c.id, users.c.password_hash).where(users.c.name == name)).first()
    stored = row.password_hash if row else hash_password(secrets.token_hex(8))  # no timing hint
    if not verify_password(password, stored) or row is None:
        return None
    token = secrets.token_urlsafe(32)
    expires = (datetime.now(UTC) + timedelta(days=SESSION_DAYS)).isoformat(timespec="seconds")
    with store.writer.begin() as c:
        c.execute(insert(sessions).values(token_hash=_digest(token), user_id=row.id, created_at=now(),
                                          expires_at=expires))
    return token


def session_user(store: Store, token: str | None) -> str | None:
    """The reviewer a session cookie belongs to, if it is a live session."""
    found = session(store, token)
    return found[0] if found is not None and found[1] >= now() else None


def session(store: Store, token: str | None) -> tuple[str, str] | None:
    """(reviewer, expires at) of a session cookie, expired or not; None for no such session."""
    if not token or len(token) > 200:
        return None
    with store.engine.connect() as c:
        row = c.execute(select(users.c.name, sessions.c.expires_at)
                        .join(users, users.c.id == sessions.c.user_id)
                        .where(sessions.c.token_hash == _digest(token))).first()
    return None if row is None else (row.name, row.expires_at)


def logout(store: Store, token: str | None) -> None:
    if token:
        with store.writer.begin() as c:
            c.execute(delete(sessions).where(sessions.c.token_hash == _digest(token)))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def describe(store: Store) -> dict[str, Any]:
    return {"users": len(user_names(store))}

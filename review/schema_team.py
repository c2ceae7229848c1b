"""Tables for team review: reviewers' accounts, their sessions, and report sign-offs.

Kept apart from the extraction tables (schema.py) and created by one idempotent migration, so
stores made before it gain them in place and nothing else in the schema moves.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, Text
from sqlalchemy.engine import Connection

metadata = MetaData()

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),  # scrypt, see accounts.hash_password
    Column("created_at", String(32), nullable=False),
)

sessions = Table(
    "sessions", metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the cookie; the cookie itself is never stored
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
)

signoffs = Table(
    "signoffs", metadata,
    Column("document_id", Integer, primary_key=True),  # documents.id
    Column("who", Text, nullable=False),
    Column("at", String(32), nullable=False),
    Column("comment", Text),
)


def create(conn: Connection) -> None:
    """The team-review tables (users, sessions, sign-offs); safe to run on a store that has them."""
    for t in (users, sessions, signoffs):
        t.create(conn, checkfirst=True)

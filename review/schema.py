"""The store's tables and their migrations (a versioned scheme: schema_version + ordered steps).

Each migration is a function that takes a connection and moves the schema one version up; a
database made by an older nianbao opens and is upgraded in place, never rebuilt, so reviews
already made in it are kept. `upgrade` runs every step in one transaction that holds the
database's write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock), so two processes
opening one new store at once do not both create it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    text,
)
from sqlalchemy.engine import Connection

metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

documents = Table(
    "documents", metadata,
    Column("id", Integer, primary_key=True),
    Column("content_hash", String(64), nullable=False, unique=True),
    Column("path", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("kind", String(16)),
    Column("agency", Text),
    Column("year", Integer),
    Column("template", String(8)),
    Column("text", Text),  # Document.text: what spans point into, shown on the review page
    Column("error", Text),  # one line, when the file could not be read or extracted
    Column("current_extraction_id", Integer),
    Column("added_at", String(32)),
)

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True),
    Column("backend", String(32), nullable=False),
    Column("model", Text),
    Column("prompt_version", Text),
    Column("settings", Text),  # JSON
    Column("settings_key", String(64), nullable=False),
    Column("started_at", String(32)),
    Column("finished_at", String(32)),
    Column("documents", Integer, default=0),
    Column("errors", Integer, default=0),
    Column("skipped", Integer, default=0),
    Column("prompt_tokens", Integer, default=0),
    Column("completion_tokens", Integer, default=0),
    Column("cost_usd", Float, default=0.0),
    # v5: running | finished | interrupted; who runs it, and when it last stored something
    Column("status", String(16)),
    Column("host", Text),
    Column("pid", Integer),
    Column("heartbeat_at", String(32)),
)

extractions = Table(
    "extractions", metadata,
    Column("id", Integer, primary_key=True),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id")),
    Column("settings_key", String(64), nullable=False),
    Column("data", Text, nullable=False),  # Extraction JSON as the backend + rules made it ("" when data_z)
    Column("data_z", LargeBinary),  # the same, zlib-compressed (schema v4 on): a tenth of the size
    Column("seconds", Float),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("cost_usd", Float),
    Column("created_at", String(32)),
    Column("rules_version", String(32)),  # the rule code the stored findings came from
    UniqueConstraint("document_id", "settings_key"),
)

# cells and claims were stored row by row up to v4, a second copy of what the extraction's
# compressed JSON holds; v5 drops them (Store.cells()/claims() read the JSON). The definitions
# stay only so the v1 migration can still replay on an empty database.
cells = Table(
    "cells", metadata,
    Column("id", Integer, primary_key=True),
    Column("extraction_id", Integer, ForeignKey("extractions.id"), nullable=False, index=True),
    Column("key", String(96), nullable=False),
    Column("value", Float),
    Column("raw", Text),
    Column("span_start", Integer),
    Column("span_end", Integer),
    Column("page", Integer),
    Column("bbox", Text),  # JSON [x0, y0, x1, y1]
    Column("confidence", Float),
    Column("reader", String(32)),
    Column("note", Text),
)

claims = Table(
    "claims", metadata,
    Column("id", Integer, primary_key=True),
    Column("extraction_id", Integer, ForeignKey("extractions.id"), nullable=False, index=True),
    Column("idx", Integer, nullable=False),
    Column("value", Float),
    Column("unit", String(16)),
    Column("kind", String(16)),
    Column("quote", Text),
    Column("parent", Integer),
    Column("span_start", Integer),
    Column("span_end", Integer),
    Column("subject", String(64)),
)

findings = Table(
    "findings", metadata,
    Column("id", String(40), primary_key=True),  # stable: hash of document + rule + sorted keys
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=False, index=True),
    Column("source", String(16), nullable=False, default="rules"),  # rules | cross
    Column("rule", Text, nullable=False),
    Column("category", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("keys", Text),  # JSON list
    Column("message", Text),
    Column("expected", Float),
    Column("found", Float),
    Column("fill", Text),  # JSON
    Column("spans", Text),  # JSON [[start, end], ...]
    Column("status", String(16), nullable=False, default="open"),  # open | confirmed | dismissed
    Column("active", Boolean, nullable=False, default=True),  # raised by the latest check
    Column("first_seen", String(32)),
    Column("last_seen", String(32)),
)

# v7: what the review page counts (per report: open by severity, decided; per rule: findings,
# reports, open) read from these alone, not from every finding's message and spans
FINDING_INDEXES = (
    Index("ix_findings_doc_state", findings.c.document_id, findings.c.active, findings.c.status,
          findings.c.severity),
    Index("ix_findings_rule_state", findings.c.category, findings.c.rule, findings.c.severity,
          findings.c.active, findings.c.status, findings.c.document_id),
)

decisions = Table(
    "decisions", metadata,
    Column("id", Integer, primary_key=True),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=False, index=True),
    Column("finding_id", String(40)),
    Column("cell_key", String(96)),
    Column("action", String(16), nullable=False),  # confirm | dismiss | reopen | correct
    Column("old_value", Text),
    Column("new_value", Text),
    Column("comment", Text),
    Column("who", Text, nullable=False),
    Column("at", String(32), nullable=False),
)

hierarchy = Table(
    "hierarchy", metadata,
    Column("agency", Text, primary_key=True),
    Column("parent", Text, nullable=False),
)

# ---------------------------------------------------------------- migrations


def _v1(conn: Connection) -> None:
    """The first schema: documents, runs, extractions, cells, claims, findings, decisions."""
    for t in (schema_version, documents, runs, extractions, cells, claims, findings, decisions):
        t.create(conn, checkfirst=True)


def _v2(conn: Connection) -> None:
    """Summary hierarchy (agency → parent) for cross-report checks; per-run skip count."""
    hierarchy.create(conn, checkfirst=True)
    have = {c["name"] for c in inspect(conn).get_columns("runs")}
    if "skipped" not in have:
        conn.execute(text("ALTER TABLE runs ADD COLUMN skipped INTEGER DEFAULT 0"))


def _v3(conn: Connection) -> None:
    """Which rule code made an extraction's findings, so new rules re-check without re-extracting."""
    have = {c["name"] for c in inspect(conn).get_columns("extractions")}
    if "rules_version" not in have:
        conn.execute(text("ALTER TABLE extractions ADD COLUMN rules_version VARCHAR(32)"))


def _v4(conn: Connection) -> None:
    """Extraction JSON compressed (older rows keep their plain `data` and still read)."""
    have = {c["name"] for c in inspect(conn).get_columns("extractions")}
    if "data_z" not in have:
        conn.execute(text(f"ALTER TABLE extractions ADD COLUMN data_z {LargeBinary().compile(dialect=conn.dialect)}"))


def _v5(conn: Connection) -> None:
    """Runs say whether they finished (a killed run is marked interrupted by the next one);
    cells and claims live only in the extraction's JSON (one copy, not two)."""
    have = {c["name"] for c in inspect(conn).get_columns("runs")}
    for name, kind in (("status", "VARCHAR(16)"), ("host", "TEXT"), ("pid", "INTEGER"),
                       ("heartbeat_at", "VARCHAR(32)")):
        if name not in have:
            conn.execute(text(f"ALTER TABLE runs ADD COLUMN {name} {kind}"))
    conn.execute(text("UPDATE runs SET status = CASE WHEN finished_at IS NULL THEN 'interrupted' "
                      "ELSE 'finished' END WHERE status IS NULL"))
    for t in (cells, claims):
        t.drop(conn, checkfirst=True)


def _team(conn: Connection) -> None:
    """Team review: reviewers' accounts, sessions and report sign-offs (review/schema_team.py)."""
    from nianbao.review import schema_team

    schema_team.create(conn)


def _v7(conn: Connection) -> None:
    """Covering indexes for the review page's counts over all findings."""
    for index in FINDING_INDEXES:
        index.create(conn, checkfirst=True)


MIGRATIONS: list[Callable[[Connection], None]] = [_v1, _v2, _v3, _v4, _v5, _team, _v7]
LATEST = len(MIGRATIONS)


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table("schema_version"):
        return 0
    v = conn.execute(text("SELECT MAX(version) FROM schema_version")).scalar()
    return int(v or 0)


def upgrade(conn: Connection) -> int:
    """Apply every migration past the database's version; returns the new version.

    Call inside a transaction that holds the write lock (Store does): the version is read under
    the lock, so a second process waits and then finds the work done.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(8675309)"))  # held until commit
    v = current_version(conn)
    for i in range(v, LATEST):
        MIGRATIONS[i](conn)
        conn.execute(schema_version.delete())
        conn.execute(schema_version.insert().values(version=i + 1))
    return LATEST

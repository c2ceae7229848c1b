"""The store: every report, run, cell, claim, finding and review decision in one SQL database.

SQLite (`nianbao.db`, WAL) is the embedded default; PostgreSQL goes through the same code (any
other SQLAlchemy URL through a slower row-by-row path). A batch writes its results in groups
(`write_batch`: bulk upserts, one transaction per group), so an interrupted batch keeps every
group it committed and two batches on one store never store a report twice (INSERT … ON
CONFLICT on the content hash). Each report's extraction is kept once, as compressed JSON; cells
and claims are read from it. Findings have a stable identity (document + rule + sorted keys), so
a re-run finds the reviewer's decisions again; corrections live in the audit trail and are
re-applied before the rules run.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import weakref
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, bindparam, create_engine, delete, event, func, insert, select, update

from nianbao.document import Document
from nianbao.errors import printable
from nianbao.models import CellReading, Extraction, Finding, Number
from nianbao.review import schema as S
from nianbao.spec import TEMPLATES, field_map, resolve_template

ACTIONS = ("confirm", "dismiss", "reopen")
STATUS_OF = {"confirm": "confirmed", "dismiss": "dismissed", "reopen": "open"}


class StoreError(ValueError):
    """A request the store refuses (unknown report, finding or key; a value that is not a number)."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def db_url(db: str | Path) -> str:
    """A SQLAlchemy URL from `--db`: a URL as given, else a SQLite file path."""
    s = str(db)
    return s if "://" in s else f"sqlite:///{Path(s).expanduser().resolve()}"


def _with_driver(url: str) -> str:
    """postgresql://… through psycopg 3 (nianbao's dependency) unless a driver is named."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def finding_id(doc_hash: str, rule: str, keys: Iterable[str]) -> str:
    """The stable identity of a finding: the same rule on the same cells of the same document."""
    raw = f"{doc_hash}|{rule}|{','.join(sorted(keys))}"
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class RunSettings:
    """What decides whether a stored result can be reused: backend, its options, what it reads with.

    `options` are passed to the backend; `identity` is what the backend says about itself (model,
    prompt version, endpoint) so a new prompt or model is a new setting even with the same options.
    """

    backend: str = "rules"
    options: tuple[tuple[str, Any], ...] = ()
    version: str = ""
    identity: tuple[tuple[str, Any], ...] = ()

    def _get(self, name: str) -> Any:
        return dict(self.options).get(name) or dict(self.identity).get(name)

    @property
    def model(self) -> str | None:
        return self._get("model")

    @property
    def prompt_version(self) -> str | None:
        return self._get("prompt_version")

    def as_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "options": dict(self.options), "version": self.version,
                **({"identity": dict(self.identity)} if self.identity else {})}

    @property
    def key(self) -> str:
        raw = json.dumps(self.as_dict(), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


@cache
def rules_version() -> str:
    """A fingerprint of the rule code (every module of nianbao.rules), to notice new or changed rules."""
    h = hashlib.sha256()
    root = resources.files("nianbao.rules")
    for item in sorted(root.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".py"):
            h.update(item.name.encode())
            h.update(item.read_bytes())
    return h.hexdigest()[:16]


def _num(v: float | None) -> Number | None:
    """SQL floats back to the contract's ints where they are whole."""
    if v is None:
        return None
    return int(v) if float(v).is_integer() else v


def parse_value(raw: str) -> Number | None:
    """A reviewer's typed value: a number, or empty for 'not given'."""
    s = raw.strip().replace(",", "").replace("，", "")
    if s == "":
        return None
    try:
        v = float(s)
    except ValueError:
        raise StoreError(f"not a number: {raw[:40]!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise StoreError(f"not a number: {raw[:40]!r}")
    return int(v) if v.is_integer() else v


class Store:
    """One database; opening it upgrades its schema.

    `engine` is for reading; `writer` (same pool) begins SQLite transactions IMMEDIATE, taking the
    write lock up front so two writers queue (busy_timeout) instead of deadlocking.
    """

    def __init__(self, db: str | Path = "nianbao.db") -> None:
        self.url = db_url(db)
        self.engine: Engine = create_engine(_with_driver(self.url), future=True)
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        self.writer: Engine = self.engine.execution_options(nianbao_write=True)
        _OPEN.add(self)
        with self.writer.begin() as conn:
            S.upgrade(conn)

    # ------------------------------------------------------------ runs and results

    def start_run(self, settings: RunSettings) -> int:
        """A new run; runs left `running` by a process that is gone are marked interrupted first."""
        self.mark_interrupted()
        stamp = now()
        with self.writer.begin() as c:
            return c.execute(insert(S.runs).values(
                backend=settings.backend, model=settings.model, prompt_version=settings.prompt_version,
                settings=json.dumps(settings.as_dict(), ensure_ascii=False), settings_key=settings.key,
                started_at=stamp, documents=0, errors=0, skipped=0, status="running",
                host=socket.gethostname(), pid=os.getpid(), heartbeat_at=stamp,
            )).inserted_primary_key[0]

    def mark_interrupted(self, stale_after: float = 900.0) -> int:
        """Runs still `running` whose process is gone (same host) or silent for `stale_after` seconds
        (another host) did not finish: say so. Returns how many were marked."""
        host = socket.gethostname()
        cutoff = datetime.fromtimestamp(datetime.now(UTC).timestamp() - stale_after, UTC).isoformat(timespec="seconds")
        with self.engine.connect() as c:
            rows = c.execute(select(S.runs.c.id, S.runs.c.host, S.runs.c.pid, S.runs.c.heartbeat_at)
                             .where(S.runs.c.status == "running")).all()
        gone = [r.id for r in rows if (r.host == host and not _alive(r.pid))
                or (r.host != host and (r.heartbeat_at or "") < cutoff)]
        if gone:
            with self.writer.begin() as c:
                c.execute(update(S.runs).where(S.runs.c.id.in_(gone)).values(status="interrupted"))
        return len(gone)

    def heartbeat(self, run_id: int, documents: int, errors: int, skipped: int) -> None:
        """The run's counts so far (what a killed run leaves behind is then still right)."""
        with self.writer.begin() as c:
            c.execute(update(S.runs).where(S.runs.c.id == run_id).values(
                documents=documents, errors=errors, skipped=skipped, heartbeat_at=now()))

    def finish_run(self, run_id: int, documents: int, errors: int, skipped: int, interrupted: bool = False) -> None:
        with self.writer.begin() as c:
            tok = c.execute(select(func.sum(S.extractions.c.prompt_tokens), func.sum(S.extractions.c.completion_tokens),
                                   func.sum(S.extractions.c.cost_usd)).where(S.extractions.c.run_id == run_id)).one()
            c.execute(update(S.runs).where(S.runs.c.id == run_id).values(
                finished_at=now(), documents=documents, errors=errors, skipped=skipped, heartbeat_at=now(),
                status="interrupted" if interrupted else "finished",
                prompt_tokens=tok[0] or 0, completion_tokens=tok[1] or 0, cost_usd=tok[2] or 0.0))

    def done_hashes(self, settings_key: str) -> set[str]:
        """Content hashes already extracted with these settings (what a resumed batch skips)."""
        q = (select(S.documents.c.content_hash)
             .join(S.extractions, S.extractions.c.document_id == S.documents.c.id)
             .where(S.extractions.c.settings_key == settings_key))
        with self.engine.connect() as c:
            return set(c.execute(q).scalars())

    def save_error(self, run_id: int | None, path: str, doc_hash: str, error: str) -> int:
        """Record a file that failed; a report already extracted by an earlier run keeps that result."""
        self.write_batch(run_id, "", [], [(path, doc_hash, error)])
        with self.engine.connect() as c:
            return c.execute(select(S.documents.c.id).where(S.documents.c.content_hash == doc_hash)).scalar_one()

    def save_result(self, run_id: int | None, path: str, doc_hash: str, kind: str, text: str,
                    ex: Extraction, settings_key: str) -> int:
        """Store one report's extraction (replacing one made with the same settings) and check it."""
        self.write_batch(run_id, settings_key, [prepared(path, doc_hash, kind, text, ex)], [])
        with self.engine.connect() as c:
            return c.execute(select(S.documents.c.id).where(S.documents.c.content_hash == doc_hash)).scalar_one()

    def write_batch(self, run_id: int | None, settings_key: str, results: Sequence[dict[str, Any]],
                    failures: Sequence[tuple[str, str, str]]) -> None:
        """Store many reports in one transaction: bulk upserts, so concurrent runs never duplicate.

        `results` are `prepared()` dicts (made in the worker: text, compressed extraction, finding
        rows); `failures` are (path, content hash, one line). A report extracted before keeps its
        result when a later run fails on it.
        """
        results = list({r["hash"]: r for r in results}.values())  # the same content twice: once
        failures = [f for f in {f[1]: f for f in failures}.values() if f[1] not in {r["hash"] for r in results}]
        stamp = now()
        with self.writer.begin() as c:
            if results:
                self._write_results(c, run_id, settings_key, results, stamp)
            if failures:
                self._upsert(c, S.documents, ["content_hash"], [
                    {"content_hash": h, "path": printable(p), "name": printable(_name(p)), "error": _line(e),
                     "added_at": stamp} for p, h, e in failures],
                    update=["path", "name", "error"], only_if=S.documents.c.current_extraction_id.is_(None))

    def _write_results(self, c: Any, run_id: int | None, settings_key: str, results: list[dict[str, Any]],
                       stamp: str) -> None:
        D, E, F = S.documents, S.extractions, S.findings
        self._upsert(c, D, ["content_hash"], [
            {"content_hash": r["hash"], "path": r["path"], "name": r["name"], "kind": r["kind"], "text": r["text"],
             "error": None, "agency": r["agency"], "year": r["year"], "template": r["template"], "added_at": stamp}
            for r in results], update=["path", "name", "kind", "text", "error", "agency", "year", "template"])
        ids = self._ids(c, D.c.content_hash, [r["hash"] for r in results], D.c.id)
        version = rules_version()
        self._upsert(c, E, ["document_id", "settings_key"], [
            {"document_id": ids[r["hash"]], "run_id": run_id, "settings_key": settings_key, "data": "",
             "data_z": r["blob"], "seconds": r["seconds"], "prompt_tokens": r["prompt_tokens"],
             "completion_tokens": r["completion_tokens"], "cost_usd": r["cost_usd"], "created_at": stamp,
             "rules_version": version} for r in results],
            update=["run_id", "data", "data_z", "seconds", "prompt_tokens", "completion_tokens", "cost_usd",
                    "created_at", "rules_version"])
        doc_ids = list(ids.values())
        ex_ids = self._ids(c, E.c.document_id, doc_ids, E.c.id, E.c.settings_key == settings_key)
        c.execute(update(D).where(D.c.id == bindparam("doc")).values(current_extraction_id=bindparam("ex")),
                  [{"doc": d, "ex": e} for d, e in ex_ids.items()])
        corrected = set()
        for chunk in _chunks(doc_ids):
            corrected |= set(c.execute(select(S.decisions.c.document_id).distinct().where(and_(
                S.decisions.c.document_id.in_(chunk), S.decisions.c.action == "correct"))).scalars())
        existing: dict[int, set[str]] = {}
        for chunk in _chunks(doc_ids):
            for fid, doc in c.execute(select(F.c.id, F.c.document_id).where(and_(
                    F.c.document_id.in_(chunk), F.c.source == "rules"))):
                existing.setdefault(doc, set()).add(fid)
        rows, gone = [], set()
        for r in results:
            doc = ids[r["hash"]]
            if doc in corrected:
                continue
            rows += [{**f, "document_id": doc, "source": "rules", "status": "open", "active": True,
                      "first_seen": stamp, "last_seen": stamp} for f in r["findings"]]
            gone |= existing.get(doc, set()) - {f["id"] for f in r["findings"]}
        if rows:
            self._upsert(c, F, ["id"], rows, update=[*FINDING_FIELDS, "active", "last_seen"])
        for chunk in _chunks(sorted(gone)):
            c.execute(update(F).where(F.c.id.in_(chunk)).values(active=False))
        for doc in sorted(corrected):  # a reviewer corrected it: the rules run on the corrected cells
            self._recheck(c, doc)

    def _upsert(self, c: Any, table: Any, keys: list[str], rows: list[dict[str, Any]], update: list[str],
                only_if: Any = None) -> None:
        """INSERT … ON CONFLICT (keys) DO UPDATE SET update… [WHERE only_if], for many rows at once."""
        if not rows:
            return
        if self.dialect in ("sqlite", "postgresql"):
            if self.dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as dialect_insert
            else:
                from sqlalchemy.dialects.postgresql import insert as dialect_insert
            stmt = dialect_insert(table)
            stmt = stmt.on_conflict_do_update(index_elements=keys, set_={k: stmt.excluded[k] for k in update},
                                              where=only_if)
            for chunk in _chunks(rows, 500):
                c.execute(stmt, chunk)
            return
        for row in rows:  # any other database: one row at a time, inside the same transaction
            cond = and_(*(table.c[k] == row[k] for k in keys))
            if c.execute(select(func.count()).select_from(table).where(cond)).scalar():
                q = update(table).where(cond)
                c.execute((q.where(only_if) if only_if is not None else q).values({k: row[k] for k in update}))
            else:
                c.execute(insert(table).values(**row))

    @staticmethod
    def _ids(c: Any, column: Any, values: list[Any], id_column: Any, *where: Any) -> dict[Any, int]:
        out: dict[Any, int] = {}
        for chunk in _chunks(values):
            out.update(c.execute(select(column, id_column).where(column.in_(chunk), *where)).all())
        return out

    def done_count(self) -> int:
        """Reports with a stored extraction."""
        with self.engine.connect() as c:
            return c.execute(select(func.count()).select_from(S.documents)
                             .where(S.documents.c.current_extraction_id.is_not(None))).scalar_one()

    def open_counts(self) -> dict[str, int]:
        """Open findings by severity, counted in SQL."""
        F = S.findings
        with self.engine.connect() as c:
            return dict(c.execute(select(F.c.severity, func.count()).where(and_(
                F.c.status == "open", F.c.active.is_(True))).group_by(F.c.severity)).all())

    # ------------------------------------------------------------ checking

    def _extraction(self, c: Any, doc_id: int) -> tuple[Any, Extraction]:
        doc = c.execute(select(S.documents).where(S.documents.c.id == doc_id)).first()
        if doc is None or doc.current_extraction_id is None:
            raise StoreError(f"no extracted report with id {doc_id}")
        row = c.execute(select(S.extractions.c.data, S.extractions.c.data_z)
                        .where(S.extractions.c.id == doc.current_extraction_id)).one()
        return doc, _unpack(row.data, row.data_z)

    def _corrections(self, c: Any, doc_id: int) -> dict[str, Number | None]:
        rows = c.execute(select(S.decisions.c.cell_key, S.decisions.c.new_value)
                         .where(and_(S.decisions.c.document_id == doc_id, S.decisions.c.action == "correct"))
                         .order_by(S.decisions.c.id)).all()
        return {k: (json.loads(v) if v is not None else None) for k, v in rows}

    def corrections(self, doc_id: int) -> dict[str, Number | None]:
        with self.engine.connect() as c:
            return self._corrections(c, doc_id)

    def current(self, doc_id: int) -> Extraction:
        """The report as reviewed: the stored extraction with corrections applied and rules re-run."""
        with self.engine.connect() as c:
            doc, ex = self._extraction(c, doc_id)
            return _apply(doc, ex, self._corrections(c, doc_id))

    def _recheck(self, c: Any, doc_id: int, always: bool = False) -> None:
        doc, ex = self._extraction(c, doc_id)
        ex = _apply(doc, ex, self._corrections(c, doc_id), always=always)
        self._sync(c, doc_id, doc.content_hash, "rules", ex.findings)
        c.execute(update(S.extractions).where(S.extractions.c.id == doc.current_extraction_id)
                  .values(rules_version=rules_version()))

    def stale_rules(self, content_hashes: Iterable[str]) -> list[int]:
        """Documents among these whose findings came from other rule code than this nianbao's."""
        wanted = set(content_hashes)
        q = (select(S.documents.c.id, S.documents.c.content_hash, S.extractions.c.rules_version)
             .join(S.extractions, S.extractions.c.id == S.documents.c.current_extraction_id))
        with self.engine.connect() as c:
            return [r.id for r in c.execute(q) if r.content_hash in wanted and r.rules_version != rules_version()]

    def recheck(self, doc_id: int) -> None:
        """Run the current rules again on a stored extraction (corrections applied), keeping decisions."""
        with self.writer.begin() as c:
            self._recheck(c, doc_id, always=True)

    def _sync(self, c: Any, doc_id: int, doc_hash: str, source: str, found: Sequence[Finding]) -> None:
        """Make the stored findings of one source match `found`, keeping every reviewer's status."""
        stamp = now()
        existing = {r.id for r in c.execute(select(S.findings.c.id).where(and_(
            S.findings.c.document_id == doc_id, S.findings.c.source == source)))}
        rows = finding_rows(doc_hash, found)
        for values in rows:
            fid = values["id"]
            fields = {k: values[k] for k in FINDING_FIELDS}
            if fid in existing:
                c.execute(update(S.findings).where(S.findings.c.id == fid).values(**fields, active=True,
                                                                                   last_seen=stamp))
            else:
                c.execute(insert(S.findings).values(id=fid, document_id=doc_id, source=source, status="open",
                                                    first_seen=stamp, last_seen=stamp, active=True, **fields))
        gone = existing - {r["id"] for r in rows}
        if gone:
            c.execute(update(S.findings).where(S.findings.c.id.in_(gone)).values(active=False))

    # ------------------------------------------------------------ review decisions

    def decide(self, doc_id: int, fid: str, action: str, who: str, comment: str = "") -> None:
        """Confirm, dismiss or reopen a finding, with an audit record."""
        if action not in ACTIONS:
            raise StoreError(f"unknown action {action!r}")
        with self.writer.begin() as c:
            row = c.execute(select(S.findings.c.status).where(and_(
                S.findings.c.id == fid, S.findings.c.document_id == doc_id))).first()
            if row is None:
                raise StoreError(f"no finding {fid!r} in report {doc_id}")
            new = STATUS_OF[action]
            c.execute(update(S.findings).where(S.findings.c.id == fid).values(status=new))
            c.execute(insert(S.decisions).values(document_id=doc_id, finding_id=fid, action=action,
                                                 old_value=row.status, new_value=new, comment=comment or None,
                                                 who=who, at=now()))

    def correct(self, doc_id: int, key: str, value: Number | None, who: str, comment: str = "") -> None:
        """Correct one cell's value and re-run the rules (and cross checks) on the corrected report."""
        with self.writer.begin() as c:
            doc, ex = self._extraction(c, doc_id)
            template = resolve_template(ex.meta.template, doc.template)
            if key not in field_map(template):
                raise StoreError(f"{key!r} is not a cell of the {template} template")
            before = _apply(doc, ex, self._corrections(c, doc_id), check=False).cells.get(key)
            old = before.value if before else None
            c.execute(insert(S.decisions).values(document_id=doc_id, cell_key=key, action="correct",
                                                 old_value=json.dumps(old), new_value=json.dumps(value),
                                                 comment=comment or None, who=who, at=now()))
            self._recheck(c, doc_id)
        if doc.agency:
            self.cross_check(doc.agency)

    def decisions(self, doc_id: int | None = None) -> list[dict[str, Any]]:
        q = select(S.decisions).order_by(S.decisions.c.id)
        if doc_id is not None:
            q = q.where(S.decisions.c.document_id == doc_id)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]

    # ------------------------------------------------------------ cross-report checks

    def load_hierarchy(self, pairs: Iterable[tuple[str, str]]) -> int:
        """Add agency → parent pairs; loads accumulate, and a unit loaded again takes its new parent."""
        rows = list({a.strip(): {"agency": a.strip(), "parent": p.strip()}
                     for a, p in pairs if a.strip() and p.strip()}.values())
        with self.writer.begin() as c:
            if rows:
                c.execute(delete(S.hierarchy).where(S.hierarchy.c.agency.in_([r["agency"] for r in rows])))
                c.execute(insert(S.hierarchy), rows)
        return len(rows)

    def cross_check(self, agency: str | None = None) -> int:
        """Run the cross-report checks over the stored reports with an agency and a year.

        With `agency`, only that agency's reports (every year) and the summaries above it are
        re-checked, which is what a correction can change. Agencies are matched across years by
        name as printed, allowing for a higher place before it (洪泽区 = 淮安市洪泽区).
        """
        from nianbao.rules import cross_report as cr

        with self.writer.begin() as c:
            lean = [col for col in S.documents.c if col.name != "text"]  # texts are not needed here
            docs = c.execute(select(*lean).where(and_(
                S.documents.c.current_extraction_id.is_not(None), S.documents.c.error.is_(None)))).all()
            index: dict[tuple[int, str], list[Any]] = {}
            for d in docs:
                if d.agency and d.year:
                    for core in cr.agency_cores(d.agency):
                        index.setdefault((d.year, core), []).append(d)

            def find(name: str, year: int) -> Any | None:
                """The one report of `name` for `year`; None when none or when it is ambiguous."""
                seen = {x.id: x for core in cr.agency_cores(name) for x in index.get((year, core), [])}
                hits = [x for x in seen.values() if cr.same_agency(x.agency, name)]
                exact = [x for x in hits if cr.agency_key(x.agency) == cr.agency_key(name)]
                if len(exact) == 1:
                    return exact[0]
                return hits[0] if len(hits) == 1 else None

            cache: dict[int, Extraction] = {}

            def load(d: Any) -> Extraction:
                if d.id not in cache:
                    _, ex = self._extraction(c, d.id)
                    cache[d.id] = _apply(d, ex, self._corrections(c, d.id), check=False)
                return cache[d.id]

            pairs = c.execute(select(S.hierarchy.c.agency, S.hierarchy.c.parent)).all()
            scope = None
            if agency is not None:
                above = {p for a, p in pairs if cr.same_agency(a, agency)}
                scope = {d.id for d in docs if d.agency and (
                    cr.same_agency(d.agency, agency) or any(cr.same_agency(d.agency, p) for p in above))}
            total = 0
            for d in docs:
                if scope is not None and d.id not in scope:
                    continue
                found: list[Finding] = []
                if d.agency and d.year:
                    prev = find(d.agency, d.year - 1)
                    if prev is not None and find(prev.agency, d.year) is d:  # a match both ways
                        found += cr.previous_year(load(prev), load(d))
                    listed = [a for a, p in pairs if cr.same_agency(p, d.agency)]
                    kids = [find(a, d.year) for a in listed]
                    kids = list({k.id: k for k in kids if k is not None and k.id != d.id}.values())
                    if kids:
                        found += cr.summary(load(d), [load(k) for k in kids], listed=len(listed))
                self._sync(c, d.id, d.content_hash, "cross", found)
                total += len(found)
            return total

    def agency_years(self, agency: str) -> list[tuple[int, int]]:
        """(year, document id) of one agency's reports, oldest first (names matched as in cross_check)."""
        from nianbao.rules.cross_report import same_agency

        by_year: dict[int, list[Any]] = {}
        for d in self.documents():
            if d.year and d.current_extraction_id is not None and same_agency(d.agency, agency):
                by_year.setdefault(d.year, []).append(d)
        return [(y, ds[0].id) for y, ds in sorted(by_year.items()) if len(ds) == 1]

    # ------------------------------------------------------------ reading for pages and exports

    def documents(self) -> list[Any]:
        with self.engine.connect() as c:
            return c.execute(select(S.documents).order_by(S.documents.c.id)).all()

    def document(self, doc_id: int) -> Any:
        with self.engine.connect() as c:
            row = c.execute(select(S.documents).where(S.documents.c.id == doc_id)).first()
        if row is None:
            raise StoreError(f"no report with id {doc_id}")
        return row

    def findings(self, doc_id: int | None = None, active_only: bool = True) -> list[dict[str, Any]]:
        q = select(S.findings).order_by(S.findings.c.document_id, S.findings.c.first_seen, S.findings.c.id)
        if doc_id is not None:
            q = q.where(S.findings.c.document_id == doc_id)
        if active_only:
            q = q.where(S.findings.c.active.is_(True))
        with self.engine.connect() as c:
            out = []
            for r in c.execute(q):
                d = dict(r._mapping)
                d["keys"] = json.loads(d["keys"] or "[]")
                d["spans"] = json.loads(d["spans"] or "[]")
                d["fill"] = json.loads(d["fill"]) if d["fill"] else {}
                d["expected"], d["found"] = _num(d["expected"]), _num(d["found"])
                out.append(d)
            return out

    def cells(self, doc_id: int) -> list[dict[str, Any]]:
        """The current extraction's cells as printed (value, raw, provenance), from its stored JSON."""
        doc = self.document(doc_id)
        if doc.current_extraction_id is None:
            return []
        with self.engine.connect() as c:
            _, ex = self._extraction(c, doc_id)
        return cell_rows(doc, ex)

    def claims(self, doc_id: int) -> list[dict[str, Any]]:
        """The current extraction's narrative claims, from its stored JSON."""
        doc = self.document(doc_id)
        if doc.current_extraction_id is None:
            return []
        with self.engine.connect() as c:
            _, ex = self._extraction(c, doc_id)
        return claim_rows(doc, ex)

    def reading(self, doc_id: int) -> tuple[Any, Extraction | None, Extraction | None]:
        """A report for its page in one visit: the document row, its stored extraction (cells and
        claims as printed) and the same as reviewed (`current`); one decode when nothing was
        corrected, and then both are the same object, to be read, not changed."""
        with self.engine.connect() as c:
            doc = c.execute(select(S.documents).where(S.documents.c.id == doc_id)).first()
            if doc is None:
                raise StoreError(f"no report with id {doc_id}")
            if doc.current_extraction_id is None:
                return doc, None, None
            row = c.execute(select(S.extractions.c.data, S.extractions.c.data_z)
                            .where(S.extractions.c.id == doc.current_extraction_id)).one()
            corrections = self._corrections(c, doc_id)
        stored = _unpack(row.data, row.data_z)
        if not corrections:
            return doc, stored, stored
        return doc, stored, _apply(doc, _unpack(row.data, row.data_z), corrections)

    def runs(self) -> list[Any]:
        with self.engine.connect() as c:
            return c.execute(select(S.runs).order_by(S.runs.c.id)).all()


def cell_rows(doc: Any, ex: Extraction) -> list[dict[str, Any]]:
    """An extraction's cells as printed (value, raw, provenance)."""
    out = []
    for i, cell in enumerate(ex.cells.values()):
        sp = cell.span
        out.append({"id": i, "extraction_id": doc.current_extraction_id, "key": cell.key, "value": cell.value,
                    "raw": cell.raw, "span_start": sp.start if sp else None, "span_end": sp.end if sp else None,
                    "page": sp.page if sp else None, "bbox": list(sp.bbox) if sp and sp.bbox else None,
                    "confidence": cell.confidence, "reader": cell.reader, "note": cell.note})
    return out


def claim_rows(doc: Any, ex: Extraction) -> list[dict[str, Any]]:
    """An extraction's narrative claims."""
    return [{"id": i, "extraction_id": doc.current_extraction_id, "idx": i, "value": cl.value, "unit": cl.unit,
             "kind": cl.kind, "quote": cl.quote, "parent": cl.parent, "subject": cl.subject,
             "span_start": cl.span.start if cl.span else None, "span_end": cl.span.end if cl.span else None}
            for i, cl in enumerate(ex.narrative)]


_OPEN: weakref.WeakSet[Store] = weakref.WeakSet()


def _forget_connections() -> None:
    """In a forked worker: drop the parent's pooled connections without closing them (they are
    the parent's), so the child never writes through one."""
    for store in list(_OPEN):
        store.engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_connections)

FINDING_FIELDS = ("rule", "category", "severity", "keys", "message", "expected", "found", "fill", "spans")


def finding_rows(doc_hash: str, found: Sequence[Finding]) -> list[dict[str, Any]]:
    """Findings as stored: a stable id each (the same rule twice on the same keys is told apart by
    where it points, then by order) and their fields as SQL values."""
    base = Counter(finding_id(doc_hash, f.rule, f.keys) for f in found)
    seen: set[str] = set()
    rows = []
    for f in found:
        fid = finding_id(doc_hash, f.rule, f.keys)
        if base[fid] > 1:  # the same rule twice on the same keys (e.g. two 共…其中 sums): where it points
            where = ";".join(f"{s.start}-{s.end}" for s in f.spans)
            fid = finding_id(doc_hash, f"{f.rule}@{where}", f.keys)
        n = 1
        while fid in seen:
            n += 1
            fid = finding_id(doc_hash, f"{f.rule}#{n}", f.keys)
        seen.add(fid)
        rows.append({"id": fid, "rule": f.rule, "category": f.category, "severity": f.severity,
                     "keys": json.dumps(f.keys), "message": f.message, "expected": f.expected, "found": f.found,
                     "fill": json.dumps(f.fill) if f.fill else None,
                     "spans": json.dumps([[s.start, s.end] for s in f.spans])})
    return rows


def prepared(path: str, doc_hash: str, kind: str, text: str, ex: Extraction) -> dict[str, Any]:
    """One report ready for `write_batch` (made in the worker, so the parent only writes)."""
    usage = ex.usage or {}
    return {"path": printable(path), "name": printable(_name(path)), "hash": doc_hash, "kind": kind, "text": text,
            "agency": ex.meta.agency, "year": ex.meta.year, "template": ex.meta.template, "blob": _pack(ex),
            "seconds": usage.get("seconds"), "prompt_tokens": usage.get("prompt_tokens"),
            "completion_tokens": usage.get("completion_tokens"), "cost_usd": usage.get("cost_usd"),
            "findings": finding_rows(doc_hash, ex.findings)}


def _name(path: str) -> str:
    return Path(path).name


def _line(error: str) -> str:
    return printable(error.splitlines()[0]) if error and error.strip() else "error"


def _chunks(items: Sequence[Any], size: int = 400) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pack(ex: Extraction) -> bytes:
    return zlib.compress(ex.model_dump_json(exclude_defaults=True).encode("utf-8"), 6)


def _unpack(data: str | None, data_z: bytes | None) -> Extraction:
    raw = zlib.decompress(data_z).decode("utf-8") if data_z else (data or "{}")
    return Extraction.model_validate_json(raw)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """WAL and a busy timeout, so the review server and a batch can share one file; transactions
    begun by `_sqlite_begin`, not by the driver (which would begin them too late to lock)."""
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")  # WAL: a crash of the program loses no commit
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    """Writers take SQLite's write lock when they begin (IMMEDIATE); readers begin deferred."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("nianbao_write") else "BEGIN")


def _apply(doc: Any, ex: Extraction, corrections: dict[str, Number | None], check: bool = True,
           always: bool = False) -> Extraction:
    """The extraction with a reviewer's corrections in its cells, the rules re-run when asked.

    Cells an identity filled are emptied first, so the identities fill them again from the
    corrected values rather than keep a value forced by a number now known to be wrong.
    """
    if not corrections and not always:
        return ex
    template = resolve_template(ex.meta.template, doc.template)
    for key, value in corrections.items():
        cell = ex.cells.get(key)
        if cell is None:
            if template in TEMPLATES and key not in field_map(template):
                continue
            cell = ex.cells[key] = CellReading(key=key, value=None)
        cell.value = value
        cell.reader = "reviewer"
        cell.note = "corrected by a reviewer"
    if not check:
        return ex
    for cell in ex.cells.values():
        if cell.reader == "identity":
            cell.value = None
    from nianbao.app.pipeline import check as run_check

    document = Document(name=doc.name, kind=doc.kind or "txt", text=doc.text or "")
    return run_check(document, ex)

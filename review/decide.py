"""A reviewer's decisions beyond one finding: cards and selections at once, corrections that keep
their finding, and a report's sign-off. Every change is an audit record with who and when.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update

from nianbao.models import Number
from nianbao.review import schema as S
from nianbao.review.schema_team import signoffs
from nianbao.review.store import STATUS_OF, Store, StoreError, now

MAX_BULK = 5000


class ChangeNeedsConfirmation(StoreError):
    """A decision that would overturn another one, sent without saying so."""


def decide_many(store: Store, targets: Iterable[tuple[int, str]], action: str, who: str, comment: str = "",
                overturn: bool = False) -> int:
    """Confirm, dismiss or reopen many findings (report id, finding id) in one transaction.

    A finding already decided otherwise is only changed with `overturn` (the page asks first);
    a finding already in the wanted state is left alone. Returns how many changed.
    """
    if action not in STATUS_OF:
        raise StoreError(f"未知的操作 {action!r}")
    if action == "dismiss" and not comment.strip():
        raise StoreError("驳回需要填写理由")
    wanted = list(dict.fromkeys(targets))
    if not wanted:
        raise StoreError("没有选中任何问题")
    if len(wanted) > MAX_BULK:
        raise StoreError(f"一次最多处理 {MAX_BULK} 条")
    new = STATUS_OF[action]
    stamp = now()
    changed = 0
    with store.writer.begin() as c:
        rows = {}
        for chunk in _chunks(wanted, 500):
            q = select(S.findings.c.id, S.findings.c.document_id, S.findings.c.status).where(
                or_(*[and_(S.findings.c.id == fid, S.findings.c.document_id == doc) for doc, fid in chunk]))
            rows.update({(r.document_id, r.id): r.status for r in c.execute(q)})
        missing = [t for t in wanted if t not in rows]
        if missing:
            raise StoreError(f"报告 {missing[0][0]} 中没有问题 {missing[0][1]}")
        overturned = [t for t in wanted if rows[t] not in ("open", new)]
        if overturned and not overturn and action != "reopen":
            raise ChangeNeedsConfirmation(f"其中 {len(overturned)} 条已有审核结论；改变结论需要先确认")
        records = []
        for doc, fid in wanted:
            old = rows[(doc, fid)]
            if old == new:
                continue
            records.append({"document_id": doc, "finding_id": fid, "action": action, "old_value": old,
                            "new_value": new, "comment": comment.strip()[:2000] or None, "who": who, "at": stamp})
            changed += 1
        for chunk in _chunks([(d, f) for d, f in wanted if rows[(d, f)] != new], 500):
            c.execute(update(S.findings).where(S.findings.c.id.in_([f for _, f in chunk])).values(status=new))
        if records:
            c.execute(insert(S.decisions), records)
    return changed


def correct(store: Store, doc_id: int, key: str, value: Number | None, who: str, comment: str = "") -> list[str]:
    """Correct a cell; the findings the correction resolves stay, marked corrected (not vanished).

    Returns the ids of the findings marked corrected.
    """
    before = {f["id"] for f in store.findings(doc_id) if key in f["keys"] and f["status"] in ("open", "confirmed")}
    store.correct(doc_id, key, value, who, comment)
    still = {f["id"] for f in store.findings(doc_id)}
    resolved = sorted(before - still)
    if resolved:
        with store.writer.begin() as c:
            c.execute(update(S.findings).where(S.findings.c.id.in_(resolved)).values(status="corrected"))
    return resolved


def review_findings(store: Store, doc_id: int) -> list[dict[str, Any]]:
    """What the page shows of a report: active findings, and those a correction resolved."""
    return [f for f in store.findings(doc_id, active_only=False) if f["active"] or f["status"] == "corrected"]


def correction_notes(store: Store, doc_id: int, history: list[dict[str, Any]] | None = None
                     ) -> dict[str, tuple[Any, Any]]:
    """key → (first value before any correction, latest corrected value); `history` is the report's
    decisions when the caller has them already (oldest first, as `Store.decisions` gives them)."""
    out: dict[str, tuple[Any, Any]] = {}
    for d in store.decisions(doc_id) if history is None else history:
        if d["action"] == "correct" and d["cell_key"]:
            old = json.loads(d["old_value"]) if d["old_value"] is not None else None
            new = json.loads(d["new_value"]) if d["new_value"] is not None else None
            out[d["cell_key"]] = (out[d["cell_key"]][0] if d["cell_key"] in out else old, new)
    return out


def sign_off(store: Store, doc_id: int, who: str, comment: str = "") -> None:
    """Mark a report 已审核 (by whom, when); the audit trail records it."""
    store.document(doc_id)  # StoreError for an unknown report
    stamp = now()
    with store.writer.begin() as c:
        c.execute(delete(signoffs).where(signoffs.c.document_id == doc_id))
        c.execute(insert(signoffs).values(document_id=doc_id, who=who, at=stamp, comment=comment.strip() or None))
        c.execute(insert(S.decisions).values(document_id=doc_id, action="signoff", comment=comment.strip() or None,
                                             who=who, at=stamp))


def withdraw_sign_off(store: Store, doc_id: int, who: str) -> None:
    with store.writer.begin() as c:
        gone = c.execute(delete(signoffs).where(signoffs.c.document_id == doc_id)).rowcount
        if gone:
            c.execute(insert(S.decisions).values(document_id=doc_id, action="unsignoff", who=who, at=now()))


def sign_offs(store: Store, doc_ids: Iterable[int] | None = None) -> dict[int, dict[str, Any]]:
    q = select(signoffs)
    if doc_ids is not None:
        q = q.where(signoffs.c.document_id.in_(list(doc_ids)))
    with store.engine.connect() as c:
        return {r.document_id: dict(r._mapping) for r in c.execute(q)}


def _chunks(items: list, n: int) -> Iterable[list]:
    for i in range(0, len(items), n):
        yield items[i:i + n]

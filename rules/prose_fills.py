"""Cells of a missing table that the prose settles: 本年度未收到政府信息公开申请 in place of table 三.

Many reports print a sentence instead of an empty table (未收到申请, 未发生行政复议、行政诉讼), and
crawlers drop tables while keeping such sentences. When the parser reports a table missing, a zero
statement about one of its subjects settles cells at 0: the cells `zero_settles` names in
nianbao/data/subjects.json, or, by default, the rows of the subject's own cells (a zero total makes
every non-negative part 0). A non-zero count of a cell in the prose keeps it out of a table-wide
settlement. The rule only proposes; `apply_fills` writes the values, marks them as read from the
prose and lists them as uncertain, since the report prints none of them. Cells nothing settles stay
null, and structure.missing_table reports the table once.
"""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase

from nianbao.models import Claim, Finding
from nianbao.rules.common import cell_label
from nianbao.rules.narrative import comparable, known_subject, subject_keys, subjects
from nianbao.rules.registry import RuleContext, rule
from nianbao.spec import keys as spec_keys

_TABLE_NAMES = {"t2": "表二", "t3": "表三", "t4": "表四"}


def missing_tables(ctx: RuleContext) -> set[str]:
    """Tables the parser reported as not printed ("t2", "t3", "t4")."""
    out: set[str] = set()
    for i in ctx.extraction.issues:
        if i.kind != "missing_table":
            continue
        if i.table:
            out.add(i.table)
        out |= {k.split(".", 1)[0] for k in i.keys}
    return out


def _expand(patterns: list[str], template: str) -> list[str]:
    all_keys = spec_keys(template)
    return [k for k in all_keys if any(fnmatchcase(k, p) for p in patterns)]


def _own_rows(subject: str, template: str) -> list[str]:
    """The rows of the subject's cells: t3.new_received.total → every t3.new_received.* cell."""
    return _expand([k.rsplit(".", 1)[0] + ".*" for k in subject_keys(subject, template)], template)


def _stated_nonzero(ctx: RuleContext) -> set[str]:
    """Cells the prose gives a non-zero count for (受理申请 64 件 → t3.new_received.total)."""
    out: set[str] = set()
    for c in [*ctx.extraction.narrative, *ctx.extraction.facts]:
        if known_subject(c.subject) and c.unit != "%" and c.value:
            out.update(subject_keys(c.subject, ctx.template))
    return out


def _zero_statements(ctx: RuleContext) -> list[Claim]:
    seen: set[str] = set()
    out = []
    for c in ctx.extraction.facts:
        if c.value == 0 and c.subject in subjects() and c.subject not in seen and comparable(c):
            seen.add(c.subject)  # type: ignore[arg-type]
            out.append(c)
    return out


def settled_by_prose(ctx: RuleContext) -> list[tuple[Claim, list[str]]]:
    """(zero statement, the missing table's empty cells it settles at 0), in statement order."""
    missing = missing_tables(ctx)
    if not missing:
        return []
    t = ctx.template
    cells = ctx.extraction.cells
    nonzero = _stated_nonzero(ctx)
    taken: set[str] = set()
    out = []
    for c in _zero_statements(ctx):
        spec = subjects()[c.subject or ""]
        keys = _expand(spec["zero_settles"], t) if spec.get("zero_settles") else []
        if not keys or nonzero & set(keys):
            keys = _own_rows(c.subject or "", t)
        keys = [k for k in keys if k.split(".", 1)[0] in missing and k in cells and cells[k].value is None
                and k not in taken and k not in nonzero]
        if keys:
            taken.update(keys)
            out.append((c, keys))
    return out


@rule("fill.prose", "structure", "info")
def prose_fill(ctx: RuleContext) -> Iterator[Finding]:
    """A table the report does not print, replaced by a statement of none: its cells are 0 by the prose."""
    t = ctx.template
    by_statement: dict[str, tuple[Claim, list[str]]] = {}  # 未发生行政复议、行政诉讼 settles both: one finding
    for claim, keys in settled_by_prose(ctx):
        _, before = by_statement.get(claim.quote, (claim, []))
        by_statement[claim.quote] = (claim, before + keys)
    for claim, keys in by_statement.values():
        tables = "、".join(_TABLE_NAMES.get(x, x) for x in sorted({k.split(".", 1)[0] for k in keys}))
        first = cell_label(keys[0], t)
        what = first if len(keys) == 1 else f"{first}等 {len(keys)} 个单元格"
        yield Finding(
            category="structure", rule="fill.prose", severity="info", keys=keys,
            message=(f"{tables}未印出，正文称“{claim.quote}”：{what}据此按 0 补入"
                     "（报告未印数值，列为读法不确定）"),
            expected=0, fill={k: 0 for k in keys}, spans=[claim.span] if claim.span else [])

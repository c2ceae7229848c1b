"""Cells the report does not give but the identities force, and blanks that stay blank.

A missing or blank cell is filled only when every identity that can determine it (all its other
cells known) gives the same non-negative value; the finding says which identities and that the
value was written in. Identities that disagree hide a contradiction: that is an error, not a fill.
A blank no identity fixes stays null with an info finding, never a silent 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from nianbao.identities import Identity, identities
from nianbao.models import Finding, Number
from nianbao.rules.common import cell_label, fmt, identity_label, spans_of, words
from nianbao.rules.registry import RuleContext, rule
from nianbao.spec import is_decimal


@dataclass
class FillPlan:
    """The outcome of propagating the identities through the unknown cells."""

    fills: dict[str, tuple[Number, list[Identity]]] = field(default_factory=dict)
    conflicts: dict[str, list[tuple[Number, Identity]]] = field(default_factory=dict)
    invalid: dict[str, tuple[Number, Identity]] = field(default_factory=dict)


def _valid(key: str, value: float, template: str) -> bool:
    if value < -1e-6:
        return False
    return is_decimal(key, template) or abs(value - round(value)) < 1e-6


def plan_fills(values: dict[str, Number | None], present: set[str], template: str) -> FillPlan:
    """Repeatedly solve every identity with exactly one unknown cell, until nothing changes."""
    vals = dict(values)
    plan = FillPlan()
    blocked: set[str] = set()
    while True:
        cands: dict[str, list[tuple[Number, Identity]]] = {}
        for ident in identities(template):
            if any(k not in present for k in ident.keys):
                continue
            unknown = [k for k in ident.keys if vals.get(k) is None]
            if len(unknown) != 1 or unknown[0] in blocked:
                continue
            v = ident.solve_for(unknown[0], vals)
            if v is not None:
                cands.setdefault(unknown[0], []).append((v, ident))
        progressed = False
        for key, cs in cands.items():
            first = cs[0][0]
            if any(abs(v - first) > 1e-6 for v, _ in cs):
                plan.conflicts[key] = cs
                blocked.add(key)
                continue
            if not _valid(key, first, template):
                plan.invalid[key] = cs[0]
                blocked.add(key)
                continue
            value: Number = first if is_decimal(key, template) else int(round(first))
            vals[key] = value
            plan.fills[key] = (value, [i for _, i in cs])
            progressed = True
        if not progressed:
            return plan


def _plan(ctx: RuleContext) -> FillPlan:
    """One propagation per run, shared by the fill rules (cached on the context)."""
    cached = ctx.__dict__.get("_fill_plan")
    if cached is None:
        cached = ctx.__dict__["_fill_plan"] = plan_fills(ctx.values, set(ctx.extraction.cells), ctx.template)
    return cached


def _why(key: str, ctx: RuleContext) -> str:
    cell = ctx.extraction.cells.get(key)
    note = (cell.note if cell else None) or ""
    return {"missing": "该行少印了数值", "blank": "表中为空或印作“/”“无”等",
            "unreadable": "数值无法识别"}.get(note, "表中没有数值")


@rule("fill.identity", "structure", "info")
def identity_fill(ctx: RuleContext) -> Iterator[Finding]:
    """A missing cell the identities determine uniquely: fill it and say so."""
    t = ctx.template
    for key, (value, idents) in _plan(ctx).fills.items():
        how = "、".join(f"{identity_label(i, t)}的{words()['labels'][i.kind]}" for i in idents)
        cell = ctx.extraction.cells.get(key)
        # a cell printed as "/" or "无" says "none"; identities forcing a non-zero count contradict it
        contradicts = bool(cell and cell.note == "blank" and value != 0)
        tail = "，与表中的“无/空”不符，请核对" if contradicts else ""
        yield Finding(
            category="structure", rule="fill.identity", severity="warning" if contradicts else "info", keys=[key],
            message=f"{cell_label(key, t)}：{_why(key, ctx)}；由{how}推出应为 {fmt(value)}，已补入{tail}",
            expected=value, found=None, fill={key: value}, spans=spans_of(ctx, [key]))


@rule("fill.conflict", "arithmetic", "error")
def fill_conflict(ctx: RuleContext) -> Iterator[Finding]:
    """A missing cell that two identities would fill with different values: the table contradicts itself."""
    t = ctx.template
    plan = _plan(ctx)
    for key, cs in plan.conflicts.items():
        how = "；".join(f"按{identity_label(i, t)}的{words()['labels'][i.kind]}应为 {fmt(v)}" for v, i in cs)
        keys = sorted({k for _, i in cs for k in i.keys})
        yield Finding(
            category="arithmetic", rule="fill.conflict", severity="error", keys=keys,
            message=f"{cell_label(key, t)}：{_why(key, ctx)}，无法补全：{how}，各式互相矛盾",
            expected=cs[0][0], found=cs[1][0], spans=spans_of(ctx, keys))
    for key, (v, ident) in plan.invalid.items():
        if v < 0:
            continue  # a negative value means the known cells overshoot: arithmetic.blank_bound says so
        yield Finding(
            category="arithmetic", rule="fill.conflict", severity="error", keys=list(ident.keys),
            message=(f"{cell_label(key, t)}：{_why(key, ctx)}；按{identity_label(ident, t)}的"
                     f"{words()['labels'][ident.kind]}应为 {fmt(v)}，不是非负整数，表内数字互相矛盾"),
            expected=v, found=None, spans=spans_of(ctx, ident.keys))


@rule("fill.blank", "structure", "info")
def blank_kept(ctx: RuleContext) -> Iterator[Finding]:
    """Blanks (/, -, —, 无, 不适用, empty) no identity fixes: kept null, one finding per printed row."""
    t = ctx.template
    plan = _plan(ctx)
    # a table the report does not print is one structure finding, not a blank per row
    absent = {i.table for i in ctx.extraction.issues if i.kind == "missing_table"}
    absent |= {k.split(".", 1)[0] for i in ctx.extraction.issues if i.kind == "missing_table" for k in i.keys}
    rows: dict[str, list[str]] = {}
    for key, cell in ctx.extraction.cells.items():
        if key.split(".", 1)[0] in absent:
            continue
        if cell.value is None and key not in plan.fills and key not in plan.conflicts:
            rows.setdefault(key.rsplit(".", 1)[0], []).append(key)
    for _, keys in rows.items():
        names = "、".join(cell_label(k, t) for k in keys)
        raws = {ctx.extraction.cells[k].raw for k in keys if ctx.extraction.cells[k].raw}
        printed = f"（印作 {'、'.join(sorted(raws))}）" if raws else ""
        yield Finding(
            category="structure", rule="fill.blank", severity="info", keys=keys,
            message=f"{names}：没有数值{printed}，各勾稽关系也不能确定，保留为空，不按 0 计",
            spans=spans_of(ctx, keys))


@rule("fill.kept", "structure", "info")
def fill_kept(ctx: RuleContext) -> Iterator[Finding]:
    """A cell an earlier run filled (e.g. `nianbao check` on saved JSON): still say it was not printed."""
    t = ctx.template
    for key, cell in ctx.extraction.cells.items():
        if cell.value is not None and (cell.note or "").startswith("filled by "):
            how = "按正文的文字说明" if cell.note == "filled by fill.prose" else "按勾稽关系"
            yield Finding(category="structure", rule="fill.kept", severity="info", keys=[key],
                          message=f"{cell_label(key, t)}：报告未印此数，{fmt(cell.value)} 是{how}补入的值",
                          expected=cell.value, spans=spans_of(ctx, [key]))

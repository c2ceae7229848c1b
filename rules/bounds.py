"""Bounds every count must respect, whether or not the identities can be evaluated.

结转下年度 and （七）总计 can never exceed what there was to handle (新收 + 上年结转) in any column;
counts are non-negative integers, except 2019's 本年增/减 (a change), whose running total may
still not go below zero.
"""

from __future__ import annotations

from collections.abc import Iterator

from nianbao.models import Finding
from nianbao.rules.common import cell_label, column_label, fmt, row_label, spans_of
from nianbao.rules.registry import RuleContext, rule
from nianbao.spec import T3_COLUMNS, fields, rows

_SUPPLY = ("t3.new_received", "t3.carried_over")


def _over_supply(ctx: RuleContext, row: str, rule_id: str) -> Iterator[Finding]:
    v = ctx.values
    t = ctx.template
    for col in T3_COLUMNS:
        supply_keys = [f"{p}.{col}" for p in _SUPPLY]
        key = f"t3.{row}.{col}"
        if v.get(key) is None or any(v.get(k) is None for k in supply_keys):
            continue
        supply = sum(v[k] for k in supply_keys)  # type: ignore[misc]
        if v[key] > supply + 1e-6:  # type: ignore[operator]
            yield Finding(
                category="arithmetic", rule=rule_id, severity="error", keys=[key, *supply_keys],
                message=(f"{column_label(key, t)}列：{row_label(key, t)} {fmt(v[key])} 大于可办理的申请数 "
                         f"新收 {fmt(v[supply_keys[0]])} + 上年结转 {fmt(v[supply_keys[1]])} = {fmt(supply)}"),
                expected=supply, found=v[key], spans=spans_of(ctx, [key, *supply_keys]))


@rule("bounds.carried_forward", "arithmetic", "error")
def carried_forward_bound(ctx: RuleContext) -> Iterator[Finding]:
    """结转下年度 ≤ 新收 + 上年结转, per column."""
    yield from _over_supply(ctx, "carried_forward", "bounds.carried_forward")


@rule("bounds.total_processed", "arithmetic", "error")
def total_processed_bound(ctx: RuleContext) -> Iterator[Finding]:
    """（七）总计 ≤ 新收 + 上年结转, per column: results cannot outnumber the applications."""
    yield from _over_supply(ctx, "total_processed", "bounds.total_processed")


@rule("bounds.count", "arithmetic", "error")
def count_values(ctx: RuleContext) -> Iterator[Finding]:
    """Counts are non-negative integers; amounts (万元) are non-negative; a 2019 本年增/减 may be negative."""
    t = ctx.template
    for f in fields(t):
        val = ctx.values.get(f.key)
        if val is None:
            continue
        problem = ""
        if f.type == "int" and abs(val - round(val)) > 1e-6:
            problem = "不是整数"
        elif val < 0 and f.column != "change":
            problem = "为负数"
        if problem:
            yield Finding(
                category="arithmetic", rule="bounds.count", severity="error", keys=[f.key],
                message=f"{cell_label(f.key, t)}：{fmt(val)} {problem}，{'件数' if f.type == 'int' else '金额'}不能如此",
                expected=None, found=val, spans=spans_of(ctx, [f.key]))


@rule("bounds.change", "arithmetic", "error")
def change_total(ctx: RuleContext) -> Iterator[Finding]:
    """2019 table 二: 上一年项目数量 + 本年增/减 is this year's number of items, which cannot be negative."""
    t = ctx.template
    for r in rows(t):
        cols = {f.column: f.key for f in r.fields}
        if "prev_year_items" not in cols or "change" not in cols:
            continue
        prev, change = ctx.values.get(cols["prev_year_items"]), ctx.values.get(cols["change"])
        if prev is None or change is None or prev + change >= 0:
            continue
        keys = [cols["prev_year_items"], cols["change"]]
        yield Finding(
            category="arithmetic", rule="bounds.change", severity="error", keys=keys,
            message=(f"{r.label}：上一年项目数量 {fmt(prev)} + 本年增/减 {fmt(change)} = {fmt(prev + change)}，"
                     f"本年项目数不能为负"),
            expected=0, found=prev + change, spans=spans_of(ctx, keys))


# table 二 columns that bound each other: every document issued (or newly published) this year is
# either still in force (counted in the total published) or repealed this year
_T2_BOUNDS = (
    ("issued", ("in_force", "repealed"), "本年制发件数", "现行有效件数 + 本年废止件数"),
    ("new_published", ("total_published",), "本年新公开数量", "对外公开总数量"),
)


# not an identity of the template (a document can lapse without being repealed): a hint, so info
@rule("bounds.t2_in_force", "arithmetic", "info")
def t2_in_force(ctx: RuleContext) -> Iterator[Finding]:
    """Table 二: this year's new documents cannot outnumber those in force (or published) plus repealed."""
    for r in rows(ctx.template):
        if r.table != "t2":
            continue
        cols = {f.column: f.key for f in r.fields}
        for part, whole, part_name, whole_name in _T2_BOUNDS:
            if part not in cols or not all(w in cols for w in whole):
                continue
            keys = [cols[part], *(cols[w] for w in whole)]
            vals = [ctx.values.get(k) for k in keys]
            if any(v is None for v in vals):
                continue
            cap = sum(vals[1:])  # type: ignore[arg-type]
            if vals[0] > cap + 1e-6:  # type: ignore[operator]
                yield Finding(
                    category="arithmetic", rule="bounds.t2_in_force", severity="info", keys=keys,
                    message=(f"{r.label}：{part_name} {fmt(vals[0])} 大于 {whole_name} = {fmt(cap)}，"
                             f"本年新文件不可能多于现存和已废止的文件"),
                    expected=cap, found=vals[0], spans=spans_of(ctx, keys))


# a plausibility hint, not template arithmetic: info
@rule("bounds.amount_without_items", "arithmetic", "info")
def amount_without_items(ctx: RuleContext) -> Iterator[Finding]:
    """Table 二 rows with a count and an amount (2019 政府集中采购): money without items, or items without money."""
    for r in rows(ctx.template):
        cols = {f.column: f.key for f in r.fields}
        if r.table != "t2" or "items" not in cols or "amount_wan" not in cols:
            continue
        items, amount = ctx.values.get(cols["items"]), ctx.values.get(cols["amount_wan"])
        if items is None or amount is None or (items == 0) == (amount == 0):
            continue
        keys = [cols["items"], cols["amount_wan"]]
        yield Finding(
            category="arithmetic", rule="bounds.amount_without_items", severity="info", keys=keys,
            message=f"{r.label}：项目数量 {fmt(items)}，总金额 {fmt(amount)} 万元，一个为 0 另一个不为 0",
            expected=None, found=amount, spans=spans_of(ctx, keys))

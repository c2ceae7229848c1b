"""The template's identities (勾稽关系): one finding per identity that fails, never one per cell.

Every identity comes from nianbao.identities, so a rule never re-lists cells by hand. A row sum
that a split cell explains (2|0 read as 20) is structure, not arithmetic: see `split_cell_sum`.
"""

from __future__ import annotations

from collections.abc import Iterator

from nianbao.identities import Identity, identities
from nianbao.models import Finding, Number
from nianbao.rules.common import fmt, identity_label, spans_of, sum_text, words
from nianbao.rules.registry import RuleContext, rule


def _failing(ctx: RuleContext, kind: str) -> Iterator[tuple[Identity, float]]:
    for ident in identities(ctx.template):
        if ident.kind != kind:
            continue
        r = ident.residual(ctx.values)
        if r is not None and abs(r) > 1e-6:
            yield ident, r


def _finding(ctx: RuleContext, ident: Identity, rule_id: str, lhs_name: str, rhs_name: str) -> Finding:
    """One failed identity stated as arithmetic: "<where>：<lhs parts> = a，<rhs> 为 b"."""
    v = ctx.values
    t = ctx.template
    lhs = sum(v[k] for k in ident.lhs)  # type: ignore[misc]
    rhs = sum(v[k] for k in ident.rhs)  # type: ignore[misc]
    where = identity_label(ident, t)
    right = (f"表中{rhs_name}为 {fmt(rhs)}" if len(ident.rhs) == 1
             else f"{rhs_name}（{sum_text(ident.rhs, ident, v, t)}）= {fmt(rhs)}")
    msg = (f"{where}：{lhs_name}（{sum_text(ident.lhs, ident, v, t)}）= {fmt(lhs)}，{right}，两者不等"
           f"（{words()['labels'][ident.kind]}）")
    return Finding(category="arithmetic", rule=rule_id, severity="error", keys=list(ident.keys), message=msg,
                   expected=lhs, found=rhs, spans=spans_of(ctx, ident.keys))


@rule("arithmetic.balance", "arithmetic", "error")
def balance(ctx: RuleContext) -> Iterator[Finding]:
    """The identity printed on table 三: 一 新收 + 二 上年结转 = 三(七) 总计 + 四 结转下年度, per column."""
    for ident, _ in _failing(ctx, "balance"):
        yield _finding(ctx, ident, "arithmetic.balance", "新收+上年结转", "（七）总计+结转下年度")


def split_explains(values: dict[str, Number | None], ident: Identity) -> tuple[str, str] | None:
    """Two adjacent one-digit part cells that, read as one number (2|0 → 20), make a row sum hold."""
    parts = list(ident.lhs)
    total = sum(values[k] for k in ident.rhs)  # type: ignore[misc]
    got = sum(values[k] for k in parts)  # type: ignore[misc]
    for a, b in zip(parts, parts[1:], strict=False):
        va, vb = values[a], values[b]
        if va is None or vb is None or not (0 < va < 10 and 0 <= vb < 10):
            continue
        if abs(got - va - vb + (10 * va + vb) - total) < 1e-6:
            return a, b
    return None


@rule("arithmetic.row_sum", "arithmetic", "error")
def row_sum(ctx: RuleContext) -> Iterator[Finding]:
    """Every row of table 三: 自然人 + 法人或其他组织的五列 = 总计."""
    for ident, _ in _failing(ctx, "row_sum"):
        if split_explains(ctx.values, ident):
            continue
        yield _finding(ctx, ident, "arithmetic.row_sum", "各申请人列之和", "总计")


@rule("structure.split_cell_sum", "structure", "warning")
def split_cell_sum(ctx: RuleContext) -> Iterator[Finding]:
    """A failing row sum that holds once two adjacent one-digit cells are read as one number."""
    for ident, _ in _failing(ctx, "row_sum"):
        pair = split_explains(ctx.values, ident)
        if not pair:
            continue
        a, b = pair
        va, vb = ctx.values[a], ctx.values[b]
        where = identity_label(ident, ctx.template)
        total = sum(ctx.values[k] for k in ident.rhs)  # type: ignore[misc]
        yield Finding(
            category="structure", rule="structure.split_cell_sum", severity="warning", keys=[a, b],
            message=(f"{where}：各列之和与总计 {fmt(total)} 不符，但把相邻两格 {fmt(va)}|{fmt(vb)} 读作一个数 "
                     f"{fmt(10 * va + vb)} 时成立（疑为一个两位数被拆成两格，列已错位）"),  # type: ignore[operator]
            expected=total, found=sum(ctx.values[k] for k in ident.lhs),  # type: ignore[misc]
            spans=spans_of(ctx, [a, b]))


@rule("arithmetic.result_sum", "arithmetic", "error")
def result_sum(ctx: RuleContext) -> Iterator[Finding]:
    """（七）总计 = （一）+（二）+Σ（三）+Σ（四）+Σ（五）+Σ（六）, per column."""
    for ident, _ in _failing(ctx, "result_sum"):
        yield _finding(ctx, ident, "arithmetic.result_sum", "各办理结果之和", "（七）总计")


@rule("arithmetic.t4_sum", "arithmetic", "error")
def t4_sum(ctx: RuleContext) -> Iterator[Finding]:
    """Table 四: 结果维持 + 结果纠正 + 其他结果 + 尚未审结 = 总计, per group."""
    for ident, _ in _failing(ctx, "t4_sum"):
        yield _finding(ctx, ident, "arithmetic.t4_sum", "各结果之和", "总计")


@rule("arithmetic.blank_bound", "arithmetic", "error")
def blank_bound(ctx: RuleContext) -> Iterator[Finding]:
    """An identity with unread cells still fails when they all sit on one side and the rest already
    overshoot: blanks are counts ≥ 0, so they cannot make a smaller side catch up."""
    v = ctx.values
    t = ctx.template
    for ident in identities(t):
        present = [k for k in ident.keys if k in ctx.extraction.cells]
        if len(present) < len(ident.keys):
            continue
        unknown = [k for k in ident.keys if v.get(k) is None]
        if not unknown:
            continue
        known_l = sum(v[k] for k in ident.lhs if v.get(k) is not None)  # type: ignore[misc]
        known_r = sum(v[k] for k in ident.rhs if v.get(k) is not None)  # type: ignore[misc]
        on_left = all(k in ident.lhs for k in unknown)
        on_right = all(k in ident.rhs for k in unknown)
        if on_left and known_l > known_r + 1e-6:
            big, small, side = known_l, known_r, "左边已知各格"
        elif on_right and known_r > known_l + 1e-6:
            big, small, side = known_r, known_l, "右边已知各格"
        else:
            continue
        where = identity_label(ident, t)
        yield Finding(
            category="arithmetic", rule="arithmetic.blank_bound", severity="error", keys=list(ident.keys),
            message=(f"{where}：{words()['labels'][ident.kind]} 不可能成立：{side}之和 {fmt(big)} 已大于另一边 "
                     f"{fmt(small)}，而未填的 {len(unknown)} 格只能 ≥ 0"),
            expected=small, found=big, spans=spans_of(ctx, ident.keys))

"""Checks across reports: pure functions over Extractions, run by the store when it holds several.

- carry-over: this year's 上年结转 must equal last year's 结转下年度, per column of table 三;
- in force: last year's 现行有效 + this year's 制发 − 废止 ≈ this year's 现行有效 (规章, 规范性文件);
- summary: a summary report against the reports of the agencies it covers (a declared hierarchy);
- diff: an agency's numbers year over year, for a reader rather than a rule.

The row and column names come from the spec, so both template versions are covered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from nianbao.data import load
from nianbao.models import Extraction, Finding, Number
from nianbao.rules.common import row_label
from nianbao.spec import T3_COLUMNS, keys, resolve_template

CARRY_RULE = "cross.carried_over"
IN_FORCE_RULE = "cross.in_force"
SUMMARY_RULE = "cross.summary"
SUMMARY_COVERAGE_RULE = "cross.summary_coverage"
IN_FORCE_ROWS = ("regulation", "normative_doc")  # table 二 rows with documents in force


@cache
def _names() -> dict[str, list[str]]:
    return load("agency_names")


def agency_key(name: str) -> str:
    """An agency's name without spaces and without the suffixes reports add or drop from year to year."""
    s = re.sub(r"\s+", "", name or "")
    for suffix in sorted(_names()["drop_suffixes"], key=len, reverse=True):
        if s.endswith(suffix) and len(s) > len(suffix):
            s = s[: -len(suffix)]
            break
    return s


def same_agency(a: str | None, b: str | None) -> bool:
    """Whether two printed names are one agency: equal, or one is the other under its higher place.

    洪泽区 and 淮安市洪泽区 match (淮安市 is a place above it); 新区 and 高新区 do not.
    """
    if not a or not b:
        return False
    ka, kb = agency_key(a), agency_key(b)
    if ka == kb:
        return True
    short, long = sorted((ka, kb), key=len)
    if len(short) < 2 or not long.endswith(short):
        return False
    prefix = long[: -len(short)]
    return any(prefix.endswith(p) for p in _names()["place_suffixes"])


def agency_cores(name: str) -> set[str]:
    """The name and every tail of it that follows a higher place (淮安市洪泽区 → itself, 洪泽区).

    Two names can only be one agency if they share a core, so the cores index a store's reports.
    """
    key = agency_key(name)
    out = {key} if key else set()
    places = _names()["place_suffixes"]
    for i in range(1, len(key) - 1):
        if any(key[:i].endswith(p) for p in places):
            out.add(key[i:])
    return out


def _v(ex: Extraction, key: str) -> Number | None:
    c = ex.cells.get(key)
    return None if c is None else c.value


def _label(ex: Extraction) -> str:
    return f"{ex.meta.agency or ex.report}{ex.meta.year or ''}年"


def carried_over(prev: Extraction, cur: Extraction) -> list[Finding]:
    """上年结转 (this year) = 结转下年度 (last year), per column of table 三."""
    out: list[Finding] = []
    for col in T3_COLUMNS:
        now_key, then_key = f"t3.carried_over.{col}", f"t3.carried_forward.{col}"
        now, then = _v(cur, now_key), _v(prev, then_key)
        if now is None or then is None or now == then:
            continue
        out.append(Finding(
            category="arithmetic", rule=CARRY_RULE, severity="warning", keys=[now_key],
            expected=then, found=now,
            message=(f"{_label(cur)}“上年结转政府信息公开申请数量”为 {now}，"
                     f"而{_label(prev)}“结转下年度继续办理”为 {then}（{col}）"),
        ))
    return out


def in_force(prev: Extraction, cur: Extraction, tolerance: Number = 0) -> list[Finding]:
    """现行有效 last year + 制发 − 废止 this year ≈ 现行有效 this year, for 规章 and 规范性文件."""
    out: list[Finding] = []
    for row in IN_FORCE_ROWS:
        k_in, k_is, k_re = f"t2.{row}.in_force", f"t2.{row}.issued", f"t2.{row}.repealed"
        name = row_label(k_in, "2021")
        before, issued, repealed, now = _v(prev, k_in), _v(cur, k_is), _v(cur, k_re), _v(cur, k_in)
        if None in (before, issued, repealed, now):
            continue
        expected = before + issued - repealed  # type: ignore[operator]
        if abs(expected - now) <= tolerance:  # type: ignore[operator]
            continue
        out.append(Finding(
            category="arithmetic", rule=IN_FORCE_RULE, severity="info", keys=[k_in, k_is, k_re],
            expected=expected, found=now,
            message=(f"{name}：上年现行有效 {before} + 本年制发 {issued} − 废止 {repealed} = {expected}，"
                     f"本年现行有效为 {now}"),
        ))
    return out


def previous_year(prev: Extraction, cur: Extraction) -> list[Finding]:
    """Every check between one agency's report and its report for the year before."""
    return carried_over(prev, cur) + in_force(prev, cur)


def summary(parent: Extraction, children: Iterable[Extraction], listed: int | None = None) -> list[Finding]:
    """A summary report's cells against the sum of the reports it covers, key by key.

    `listed` is how many units the hierarchy places under it. With only some of their reports in
    the store, a sum would be short by design: one note says how many are covered, and nothing is
    compared. Only keys every covered report gives are compared, so one missing child cell does
    not flag.
    """
    from nianbao.rules.common import cell_label

    kids = list(children)
    if not kids:
        return []
    listed = max(listed or len(kids), len(kids))
    if len(kids) < listed:
        return [Finding(
            category="arithmetic", rule=SUMMARY_COVERAGE_RULE, severity="info",
            message=(f"{_label(parent)}为汇总报告：层级表列出所辖单位 {listed} 个，库中有其中 {len(kids)} 个的"
                     f"同年度报告，覆盖不全，未做合计核对"),
        )]
    out: list[Finding] = []
    template = resolve_template(parent.meta.template)
    for key in keys(template):
        mine = _v(parent, key)
        theirs = [_v(k, key) for k in kids]
        if mine is None or any(v is None for v in theirs):
            continue
        total = sum(theirs)  # type: ignore[arg-type]
        if abs(total - mine) < 1e-6:
            continue
        out.append(Finding(
            category="arithmetic", rule=SUMMARY_RULE, severity="warning", keys=[key], expected=total,
            found=mine,
            message=(f"{_label(parent)}“{cell_label(key, template)}”为 {mine}，所辖 {len(kids)} 个单位"
                     f"（层级表所列全部在库）报告合计 {total}"),
        ))
    return out


@dataclass(frozen=True)
class DiffRow:
    key: str
    before: Number | None
    after: Number | None

    @property
    def delta(self) -> Number | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before


def diff(prev: Extraction, cur: Extraction, changed_only: bool = False) -> list[DiffRow]:
    """One agency's numbers in two years, key by key in the later template's order."""
    order = list(keys(resolve_template(cur.meta.template)))
    order += [k for k in keys(resolve_template(prev.meta.template)) if k not in order]
    rows = [DiffRow(k, _v(prev, k), _v(cur, k)) for k in order]
    if changed_only:
        rows = [r for r in rows if r.before != r.after]
    return rows

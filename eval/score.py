"""Score one prediction (the output contract) against its gold fixture, and sum scores up.

The matching rules are the ones of the independent scorer (../shared/tools/score.py): a cell is
right when its value equals gold (null only equals null), a narrative claim matches a gold claim
when the values are equal and the quotes overlap (one-to-one, first come first served), an
expected finding is hit by any finding of its category whose keys overlap (or either has none),
and a false positive is an error/warning finding whose category is in neither expected nor
acceptable. Keeping the rules identical is what lets a test check our figures against theirs.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

TABLES = ("t2", "t3", "t4")


def overlap(a: str, b: str) -> bool:
    """Quotes overlap when one contains the other or they share ≥ 60% of the gold's characters."""
    a, b = a.replace(" ", ""), b.replace(" ", "")
    if not a or not b:
        return False
    if a in b or b in a:
        return True
    common = sum(1 for ch in set(a) if ch in b)
    return common / max(len(set(a)), 1) >= 0.6


def num(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def same_value(gold: Any, got: Any) -> bool:
    g = num(got)
    return g is None if gold is None else (g is not None and abs(g - float(gold)) < 1e-9)


@dataclass
class WrongCell:
    key: str
    gold: Any
    got: Any
    span: tuple[int, int] | None = None


@dataclass
class ReportScore:
    """Everything eval knows about one report read by one backend."""

    name: str
    cells_right: int = 0
    cells_total: int = 0
    wrong: list[WrongCell] = field(default_factory=list)
    by_table: dict[str, list[int]] = field(default_factory=dict)  # table → [right, total]
    meta_right: int = 0
    meta_total: int = 3
    meta_wrong: list[str] = field(default_factory=list)
    narr_matched: int = 0
    narr_gold: int = 0
    narr_pred: int = 0
    find_hit: int = 0
    find_expected: int = 0
    by_category: dict[str, list[int]] = field(default_factory=dict)  # category → [hit, expected, fp]
    missed: list[str] = field(default_factory=list)  # expected findings not raised, "category:keys"
    false_pos: list[str] = field(default_factory=list)  # "category:rule"
    seconds: float | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    cost_usd: float = 0.0
    error: str | None = None  # the report could not be processed at all


def score_report(name: str, gold: dict, pred: dict) -> ReportScore:
    """Compare one prediction with its gold; `uncertain` gold keys are skipped."""
    s = ReportScore(name=name)
    skip = set(gold.get("uncertain") or [])
    cells_g = {k: v for k, v in gold["cells"].items() if k not in skip}
    cells_p = pred.get("cells") or {}
    prov = pred.get("provenance") or {}
    s.by_table = {t: [0, 0] for t in TABLES}
    for k, v in cells_g.items():
        table = k.split(".", 1)[0]
        bucket = s.by_table.setdefault(table, [0, 0])
        bucket[1] += 1
        if same_value(v, cells_p.get(k)):
            s.cells_right += 1
            bucket[0] += 1
        else:
            span = (prov.get(k) or {}).get("span")
            s.wrong.append(WrongCell(k, v, cells_p.get(k), tuple(span) if span else None))
    s.cells_total = len(cells_g)

    meta_g, meta_p = gold["meta"], pred.get("meta") or {}
    checks = {
        "year": str(meta_p.get("year")) == str(meta_g["year"]),
        "template": str(meta_p.get("template")) == str(meta_g["template"]),
        "agency": bool(meta_p.get("agency")) and (
            meta_g["agency"] in str(meta_p.get("agency")) or str(meta_p.get("agency")) in meta_g["agency"]),
    }
    s.meta_right = sum(checks.values())
    s.meta_wrong = [k for k, ok in checks.items() if not ok]

    gold_n = list(gold.get("narrative") or [])
    pred_n = list(pred.get("narrative") or [])
    used: set[int] = set()
    for g in gold_n:
        for i, p in enumerate(pred_n):
            if i in used:
                continue
            if num(p.get("value")) == float(g["value"]) and overlap(g["quote"], str(p.get("quote", ""))):
                used.add(i)
                s.narr_matched += 1
                break
    s.narr_gold, s.narr_pred = len(gold_n), len(pred_n)

    found = pred.get("findings") or []
    gf = gold.get("findings") or {}
    exp = list(gf.get("expected") or [])
    ok_cats = {f["category"] for f in exp} | {f["category"] for f in gf.get("acceptable") or []}
    for e in exp:
        cat = s.by_category.setdefault(e["category"], [0, 0, 0])
        cat[1] += 1
        hit = any(
            f.get("category") == e["category"]
            and not (e.get("keys") and f.get("keys") and not set(e["keys"]) & set(f["keys"]))
            for f in found)
        if hit:
            s.find_hit += 1
            cat[0] += 1
        else:
            s.missed.append(f"{e['category']}:{','.join(e.get('keys') or [])}")
    s.find_expected = len(exp)
    for f in found:
        if str(f.get("severity", "warning")) in ("error", "warning") and f.get("category") not in ok_cats:
            s.false_pos.append(f"{f.get('category')}:{f.get('rule')}")
            s.by_category.setdefault(str(f.get("category")), [0, 0, 0])[2] += 1
    usage = pred.get("usage") or {}
    s.usage = dict(usage)
    s.seconds = num(usage.get("seconds"))
    return s


def _frac(a: float, b: float) -> float:
    return a / b if b else 0.0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    v = sorted(values)
    pos = (len(v) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def summarise(scores: list[ReportScore]) -> dict[str, Any]:
    """The backend's figures over all its reports: fractions, counts, per table and per category."""
    tot = {k: sum(getattr(s, k) for s in scores) for k in (
        "cells_right", "cells_total", "meta_right", "meta_total", "narr_matched", "narr_gold",
        "narr_pred", "find_hit", "find_expected")}
    p = _frac(tot["narr_matched"], tot["narr_pred"])
    r = _frac(tot["narr_matched"], tot["narr_gold"])
    by_table: dict[str, list[int]] = {}
    by_cat: dict[str, list[int]] = {}
    for s in scores:
        for t, (a, b) in s.by_table.items():
            acc = by_table.setdefault(t, [0, 0])
            acc[0] += a
            acc[1] += b
        for c, vals in s.by_category.items():
            acc = by_cat.setdefault(c, [0, 0, 0])
            for i in range(3):
                acc[i] += vals[i]
    secs = [s.seconds for s in scores if s.seconds is not None]
    n = len(scores) or 1
    tokens_p = sum(int(s.usage.get("prompt_tokens") or 0) for s in scores)
    tokens_c = sum(int(s.usage.get("completion_tokens") or 0) for s in scores)
    calls = sum(int(s.usage.get("calls") or 0) for s in scores)
    cost = sum(s.cost_usd for s in scores)
    return {
        "reports": len(scores),
        "errors": sum(1 for s in scores if s.error),
        "cell_accuracy": _frac(tot["cells_right"], tot["cells_total"]),
        "cells_right": tot["cells_right"],
        "cells_total": tot["cells_total"],
        "cell_accuracy_by_table": {t: _frac(a, b) for t, (a, b) in sorted(by_table.items()) if b},
        "meta_accuracy": _frac(tot["meta_right"], tot["meta_total"]),
        "narrative_precision": p,
        "narrative_recall": r,
        "narrative_f1": 2 * p * r / (p + r) if p + r else 0.0,
        "narrative_matched": tot["narr_matched"],
        "narrative_gold": tot["narr_gold"],
        "narrative_pred": tot["narr_pred"],
        "finding_recall": _frac(tot["find_hit"], tot["find_expected"]) if tot["find_expected"] else 1.0,
        "findings_hit": tot["find_hit"],
        "findings_expected": tot["find_expected"],
        "false_positives": sum(len(s.false_pos) for s in scores),
        "reports_with_false_positives": sum(1 for s in scores if s.false_pos),
        "findings_by_category": {
            c: {"hit": h, "expected": e, "recall": _frac(h, e) if e else None, "false_positives": fp}
            for c, (h, e, fp) in sorted(by_cat.items())},
        "seconds_per_report": statistics.median(secs) if secs else 0.0,
        "seconds_p95": percentile(secs, 95),
        "calls_per_report": calls / n,
        "prompt_tokens_per_report": tokens_p / n,
        "completion_tokens_per_report": tokens_c / n,
        "cost_usd_per_report": cost / n,
        "cost_usd_total": cost,
    }

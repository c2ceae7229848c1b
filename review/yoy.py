"""Year over year: one agency's numbers in consecutive years, named, rounded, with change and %.

The cross-year findings of the later report (上年结转 against last year's 结转下年度, documents in
force carried over) sit beside the cells they concern.
"""

from __future__ import annotations

from typing import Any

from nianbao.review import labels as L
from nianbao.review.decide import review_findings
from nianbao.review.store import Store


def agencies_with_years(store: Store) -> list[str]:
    """Agencies (as printed in their latest report) with reports for at least two years."""
    from nianbao.rules.cross_report import agency_key

    seen: dict[str, dict[int, str]] = {}
    for d in store.documents():
        if d.agency and d.year and d.current_extraction_id is not None:
            seen.setdefault(agency_key(d.agency), {})[d.year] = d.agency
    return sorted(years[max(years)] for years in seen.values() if len(years) >= 2)


def _round(v: Any, key: str, template: str | None) -> Any:
    if v is None:
        return None
    if L.is_decimal(key, template):
        return round(float(v), 4)
    return int(round(v)) if float(v).is_integer() else round(float(v), 4)


def year_over_year(store: Store, agency: str, changed_only: bool = False) -> dict[str, Any]:
    from nianbao.rules.cross_report import diff

    years = store.agency_years(agency)
    pairs = []
    for (y0, d0), (y1, d1) in zip(years, years[1:], strict=False):
        before, after = store.current(d0), store.current(d1)
        template = after.meta.template
        cross: dict[str, list[dict[str, Any]]] = {}
        for f in review_findings(store, d1):
            if f["source"] == "cross":
                for k in f["keys"]:
                    cross.setdefault(k, []).append({**f, "rule_zh": L.rule(f["rule"]),
                                                    "severity_zh": L.severity(f["severity"]),
                                                    "status_zh": L.status(f["status"])})
        rows = []
        for r in diff(before, after, changed_only=changed_only):
            b, a = _round(r.before, r.key, template), _round(r.after, r.key, template)
            change = None if a is None or b is None else _round(a - b, r.key, template)
            pct = None if change is None or not b else round(100.0 * change / b, 1)
            rows.append({"key": r.key, "zh": L.cell(r.key, template), "before": L.number(b, r.key, template),
                         "after": L.number(a, r.key, template),
                         "change": "" if change is None else (("+" if change > 0 else "") + L.number(change, r.key, template)),
                         "pct": "" if pct is None else f"{pct:+.1f}%", "findings": cross.get(r.key, []),
                         "before_value": b, "after_value": a, "change_value": change, "pct_value": pct,
                         "doc_before": d0, "doc_after": d1})
        pairs.append({"year_before": y0, "year_after": y1, "doc_before": d0, "doc_after": d1, "rows": rows})
    return {"pairs": pairs}

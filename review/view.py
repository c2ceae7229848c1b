"""What the review pages show, built from the store: plain data, no HTML (the templates escape).

The report text is cut at every span boundary (cells, claims, finding quotes) so overlapping
highlights stay correct; the tables are rebuilt from the spec's rows and columns, so both
template versions render in their printed layout.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from nianbao.review.store import Store
from nianbao.spec import rows as spec_rows

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
SORTS = ("open", "name", "agency", "year")


def reports_list(store: Store, agency: str = "", year: int | None = None, category: str = "",
                 status: str = "", sort: str = "open") -> dict[str, Any]:
    by_doc: dict[int, list[dict[str, Any]]] = {}
    for f in store.findings():
        by_doc.setdefault(f["document_id"], []).append(f)
    items = []
    all_categories: set[str] = set()
    for doc in store.documents():
        fs = by_doc.get(doc.id, [])
        all_categories.update(f["category"] for f in fs)
        if agency and agency not in (doc.agency or "") and agency not in doc.name:
            continue
        if year is not None and doc.year != year:
            continue
        if category and not any(f["category"] == category for f in fs):
            continue
        if status and not any(f["status"] == status for f in fs):
            continue
        open_by = Counter(f["severity"] for f in fs if f["status"] == "open")
        items.append({"doc": doc, "open": open_by, "open_total": sum(open_by.values()),
                      "reviewed": sum(1 for f in fs if f["status"] != "open"), "total": len(fs)})
    key = {
        "open": lambda i: (-i["open"].get("error", 0), -i["open_total"], i["doc"].name),
        "name": lambda i: i["doc"].name,
        "agency": lambda i: (i["doc"].agency or "", i["doc"].year or 0),
        "year": lambda i: (-(i["doc"].year or 0), i["doc"].agency or ""),
    }.get(sort, lambda i: i["doc"].name)
    items.sort(key=key)
    return {"items": items, "categories": sorted(all_categories), "sorts": SORTS}


def _segments(text: str, marks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cut text at every mark boundary; each piece lists the marks covering it and those starting."""
    n = len(text)
    marks = [m for m in marks if 0 <= m["start"] < m["end"] <= n]
    cuts = sorted({0, n, *(m["start"] for m in marks), *(m["end"] for m in marks)})
    out = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        covering = [m for m in marks if m["start"] <= a and m["end"] >= b]
        out.append({
            "text": text[a:b],
            "anchors": [m["id"] for m in marks if m["start"] == a and m.get("id")],
            "classes": sorted({c for m in covering for c in m["classes"]}),
            "cellkeys": sorted({m["key"] for m in covering if m.get("key")}),
            "findings": sorted({m["finding"] for m in covering if m.get("finding")}),
            "title": next((m["title"] for m in covering if m.get("title")), ""),
        })
    return out


def _column_label(table: str, label: str) -> str:
    return label.split(" × ")[-1] if table == "t3" else label.split(" ")[-1]


def _tables(template: str, cells: dict[str, dict[str, Any]], flagged: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for table in ("t2", "t3", "t4"):
        rows = [r for r in spec_rows(template) if r.table == table]
        columns = [_column_label(table, f.label) for f in rows[0].fields] if table != "t2" else []
        body, parent = [], None
        for r in rows:
            if r.parent and r.parent != parent:
                body.append({"group": r.parent})
            parent = r.parent
            body.append({
                "label": r.label, "section": r.section,
                "cells": [{"key": f.key, "column": _column_label(table, f.label), **cells.get(f.key, {}),
                           "flag": flagged.get(f.key)} for f in r.fields],
            })
        out.append({"id": table, "columns": columns, "rows": body})
    return out


def ordered_findings(store: Store, doc_id: int) -> list[dict[str, Any]]:
    """A report's findings in review order: open ones first, errors before warnings before info."""
    return sorted(store.findings(doc_id), key=lambda f: (f["status"] != "open", SEVERITY_ORDER.get(f["severity"], 9)))


def _neighbours(store: Store, doc_id: int) -> tuple[int | None, int | None]:
    """The reports before and after this one in the list's default order (most open errors first)."""
    ids = [i["doc"].id for i in reports_list(store)["items"]]
    if doc_id not in ids:
        return None, None
    i = ids.index(doc_id)
    return (ids[i - 1] if i > 0 else None), (ids[i + 1] if i + 1 < len(ids) else None)


def report_view(store: Store, doc_id: int) -> dict[str, Any]:
    doc = store.document(doc_id)
    prev_id, next_id = _neighbours(store, doc_id)
    if doc.current_extraction_id is None:
        return {"doc": doc, "segments": [{"text": doc.text or "", "anchors": [], "classes": [],
                                          "findings": [], "title": "", "cellkeys": []}],
                "tables": [], "findings": [], "decisions": store.decisions(doc_id), "claims": [],
                "prev_id": prev_id, "next_id": next_id}
    ex = store.current(doc_id)
    printed = {c["key"]: c for c in store.cells(doc_id)}
    corrections = store.corrections(doc_id)
    findings = ordered_findings(store, doc_id)
    flagged: dict[str, str] = {}
    for f in findings:
        for k in f["keys"]:
            if f["status"] == "open" or k not in flagged:
                flagged[k] = f["status"] if f["status"] != "open" else f["severity"]
    cells: dict[str, dict[str, Any]] = {}
    for key, cell in ex.cells.items():
        p = printed.get(key, {})
        cells[key] = {"value": cell.value, "printed": p.get("value"), "raw": p.get("raw") or "",
                      "has_span": p.get("span_start") is not None, "page": p.get("page"), "bbox": p.get("bbox"),
                      "confidence": p.get("confidence"), "note": cell.note or p.get("note"),
                      "reader": cell.reader, "corrected": key in corrections,
                      "uncertain": key in ex.uncertain}
    marks: list[dict[str, Any]] = []
    for key, p in printed.items():
        if p.get("span_start") is not None and p.get("span_end") is not None:
            marks.append({"start": p["span_start"], "end": p["span_end"], "id": f"src-{key}", "key": key,
                          "classes": ["num", f"flag-{flagged[key]}" if key in flagged else "ok"],
                          "title": key})
    claims = store.claims(doc_id)
    for c in claims:
        if c["span_start"] is not None:
            marks.append({"start": c["span_start"], "end": c["span_end"], "id": f"claim-{c['idx']}",
                          "classes": ["claim"], "title": f"{c['kind']} {c['value']}{c['unit'] or ''}"})
    for f in findings:
        for i, (s, e) in enumerate(f["spans"]):
            marks.append({"start": s, "end": e, "id": f"fspan-{f['id']}-{i}", "finding": f["id"],
                          "classes": ["quote"]})
    return {"doc": doc, "segments": _segments(doc.text or "", marks), "claims": claims,
            "tables": _tables(doc.template or ex.meta.template or "2021", cells, flagged),
            "findings": findings, "decisions": list(reversed(store.decisions(doc_id))), "cells": cells,
            "prev_id": prev_id, "next_id": next_id}

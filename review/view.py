"""What the review pages show, built from the store: plain data, no HTML (the templates escape).

The report text is cut at every span boundary (cells, claims, finding quotes) so overlapping
highlights stay correct; the tables are rebuilt from the spec's rows and columns, so both
template versions render in their printed layout. Findings come as cards (review/causes.py).
"""

from __future__ import annotations

from typing import Any

from nianbao.review import labels as L
from nianbao.review.causes import Card, group
from nianbao.review.decide import correction_notes, review_findings, sign_offs
from nianbao.review.queries import neighbours
from nianbao.review.store import Store, cell_rows, claim_rows
from nianbao.spec import resolve_template
from nianbao.spec import rows as spec_rows

PAGED_KINDS = ("pdf", "scan")


def _segments(text: str, marks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cut text at every mark boundary; each piece lists the marks covering it and those starting.

    One sweep over the cuts, opening the marks that start and closing those that end at each
    (every end is a cut): linear in cuts plus marks. What a piece shows is worked out again only
    when the marks covering it change.
    """
    n = len(text)
    marks = [m for m in marks if 0 <= m["start"] < m["end"] <= n]
    cuts = sorted({0, n, *(m["start"] for m in marks), *(m["end"] for m in marks)})
    starting: dict[int, list[int]] = {}
    ending: dict[int, list[int]] = {}
    for i, m in enumerate(marks):
        starting.setdefault(m["start"], []).append(i)
        ending.setdefault(m["end"], []).append(i)
    out = []
    open_marks: dict[int, dict[str, Any]] = {}
    shown: dict[str, Any] = {"classes": [], "cellkeys": [], "findings": [], "title": ""}
    for a, b in zip(cuts, cuts[1:], strict=False):
        began = starting.get(a, ())
        ended = [i for i in ending.get(a, ()) if i in open_marks]
        for i in began:
            open_marks[i] = marks[i]
        for i in ended:
            del open_marks[i]
        if began or ended:
            covering = open_marks.values()
            shown = {
                "classes": sorted({c for m in covering for c in m["classes"]}),
                "cellkeys": sorted({m["key"] for m in covering if m.get("key")}),
                "findings": sorted({m["finding"] for m in covering if m.get("finding")}),
                "title": next((m["title"] for m in covering if m.get("title")), ""),
            }
        out.append({"text": text[a:b], "anchors": [marks[i]["id"] for i in began if marks[i].get("id")], **shown})
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


def card_view(card: Card, template: str | None, cells: dict[str, dict[str, Any]],
              corrections: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    """A card as the page shows it: Chinese names, the lead's arithmetic, every rule that saw it."""
    lead = card.lead
    keys = card.keys
    placed = [k for k in ([card.cause] if card.cause else keys) if k in cells and cells[k].get("page")
              and cells[k].get("bbox")]
    page = cells[placed[0]]["page"] if placed else None
    boxes = [cells[k]["bbox"] for k in placed if cells[k]["page"] == page]
    # the cause's own box; without one cause, the box around the card's cells on that page
    bbox = ([min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
             max(b[3] for b in boxes)] if boxes else None)
    return {
        "id": card.id, "ids": card.ids, "status": card.status, "severity": card.severity,
        "severity_zh": L.severity(card.severity), "status_zh": L.status(card.status),
        "category": lead["category"], "category_zh": L.category(lead["category"]),
        "source": lead["source"], "keys": keys,
        "cause": card.cause, "cause_zh": L.cell(card.cause, template) if card.cause else "",
        "findings": [{**f, "rule_zh": L.rule(f["rule"]), "severity_zh": L.severity(f["severity"]),
                      "status_zh": L.status(f["status"]), "category_zh": L.category(f["category"])}
                     for f in card.findings],
        "rules": [{"id": r, "zh": L.rule(r)} for r in card.rules],
        "cells": [{"key": k, "zh": L.cell(k, template),
                   "value": L.number(cells.get(k, {}).get("value"), k, template) if k in cells else None,
                   "corrected": corrections.get(k)} for k in keys],
        "expected": lead["expected"], "found": lead["found"],
        "fill": [{"key": k, "zh": L.cell(k, template), "value": L.number(v, k, template)}
                 for k, v in {k: v for f in card.findings for k, v in (f["fill"] or {}).items()}.items()],
        "spans": [s for f in card.findings for s in f["spans"]],
        "page": page, "bbox": bbox,
        "rows": _by_row(keys, template, cells, corrections),
        "corrections": [{"key": k, "zh": L.cell(k, template), "old": L.number(corrections[k][0], k, template),
                         "new": L.number(corrections[k][1], k, template)} for k in keys if k in corrections],
    }


def _by_row(keys: list[str], template: str | None, cells: dict[str, dict[str, Any]],
            corrections: dict[str, tuple[Any, Any]]) -> list[dict[str, Any]]:
    """A card's cells grouped by printed row: "表三 （七）总计：自然人 5；商业企业 0"."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for k in keys:
        row, col = L.cell_parts(k, template)
        rows.setdefault(row, []).append({"key": k, "col": col, "zh": L.cell(k, template),
                                         "value": L.number(cells[k].get("value"), k, template) if k in cells else None})
    return [{"row": r, "cells": cs} for r, cs in rows.items()]


def report_view(store: Store, doc_id: int, order: list[int] | None = None) -> dict[str, Any]:
    doc, stored, ex = store.reading(doc_id)
    prev_id, next_id = neighbours(store, doc_id, order)
    signoff = sign_offs(store, [doc_id]).get(doc_id)
    history = store.decisions(doc_id)
    decisions = [_decision_view(d, doc.template) for d in reversed(history)]
    common = {"doc": doc, "kind_zh": L.kind(doc.kind), "prev_id": prev_id, "next_id": next_id,
              "signoff": signoff, "decisions": decisions, "paged": doc.kind in PAGED_KINDS}
    if stored is None or ex is None:
        return {**common, "segments": [{"text": doc.text or "", "anchors": [], "classes": [], "findings": [],
                                        "title": "", "cellkeys": []}],
                "tables": [], "cards": [], "claims": [], "cells": {}, "counts": _counts([])}
    template = resolve_template(ex.meta.template, doc.template)
    printed = {c["key"]: c for c in cell_rows(doc, stored)}
    corrections = correction_notes(store, doc_id, history)
    findings = review_findings(store, doc_id)
    flagged: dict[str, str] = {}
    for f in sorted(findings, key=lambda f: f["status"] != "open"):
        for k in f["keys"]:
            if k not in flagged:
                flagged[k] = f["severity"] if f["status"] == "open" else f["status"]
    cells: dict[str, dict[str, Any]] = {}
    for key, cell in ex.cells.items():
        p = printed.get(key, {})
        cells[key] = {"value": cell.value, "shown": L.number(cell.value, key, template),
                      "printed": p.get("value"), "raw": p.get("raw") or "", "zh": L.cell(key, template),
                      "has_span": p.get("span_start") is not None, "page": p.get("page"), "bbox": p.get("bbox"),
                      "confidence": p.get("confidence"), "note": L.note(cell.note or p.get("note")),
                      "note_raw": cell.note or p.get("note") or "",
                      "corrected": key in corrections, "uncertain": key in ex.uncertain,
                      "old": L.number(corrections[key][0], key, template) if key in corrections else None}
    marks: list[dict[str, Any]] = []
    for key, p in printed.items():
        if p.get("span_start") is not None and p.get("span_end") is not None:
            marks.append({"start": p["span_start"], "end": p["span_end"], "id": f"src-{key}", "key": key,
                          "classes": ["num", f"flag-{flagged[key]}" if key in flagged else "ok"],
                          "title": L.cell(key, template)})
    claims = claim_rows(doc, stored)
    for c in claims:
        c["kind_zh"] = L.claim_kind(c["kind"])
        if c["span_start"] is not None:
            marks.append({"start": c["span_start"], "end": c["span_end"], "id": f"claim-{c['idx']}",
                          "classes": ["claim"], "title": f"{c['kind_zh']} {L.number(c['value'])}{c['unit'] or ''}"})
    cards = [card_view(c, template, cells, corrections) for c in group(findings)]
    for card in cards:
        for i, (s, e) in enumerate(card["spans"]):
            marks.append({"start": s, "end": e, "id": f"fspan-{card['id']}-{i}", "finding": card["id"],
                          "classes": ["quote"]})
    return {**common, "segments": _segments(doc.text or "", marks), "claims": claims, "cards": cards,
            "tables": _tables(template, cells, flagged), "cells": cells, "counts": _counts(cards),
            "template": template}


def _counts(cards: list[dict[str, Any]]) -> dict[str, int]:
    return {"cards": len(cards), "open": sum(1 for c in cards if c["status"] == "open"),
            "findings": sum(len(c["findings"]) for c in cards),
            "corrected": sum(1 for c in cards if c["status"] == "corrected")}


def _decision_view(d: dict[str, Any], template: str | None) -> dict[str, Any]:
    import json

    def val(raw: Any) -> str:
        if raw is None:
            return ""
        try:
            v = json.loads(raw)
        except (TypeError, ValueError):
            return L.status(str(raw))
        return L.number(v, d.get("cell_key"), template) if not isinstance(v, str) else L.status(v)

    return {**d, "at_zh": L.local_time(d["at"]), "action_zh": L.action(d["action"]),
            "cell_zh": L.cell(d["cell_key"], template) if d.get("cell_key") else "",
            "old_zh": val(d["old_value"]) if d["cell_key"] else L.status(d["old_value"] or ""),
            "new_zh": val(d["new_value"]) if d["cell_key"] else L.status(d["new_value"] or "")}

"""Exports: the store as datasets a researcher and a supervisor open and use.

- long table (report × cell) and wide tables (one row per report, one per template version),
  with region columns from the hierarchy and the report's sign-off;
- the narrative claims, the findings (Chinese messages, decisions) and the audit trail;
- in XLSX all of these in one workbook with a 字段说明 (data dictionary) sheet;
- an issue list (问题清单), one sheet per agency, that a supervisor sends back;
- year-over-year diffs, and reviewed reports as gold fixtures.

Corrections are applied (the printed value kept beside, the cell marked 已更正). Column types are
kept: counts are nullable integers (Parquet int64), 万元 amounts floats, flags booleans; headers
are ids or, with labels="zh", Chinese (the field's label also travels in Parquet field metadata).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nianbao.models import Extraction
from nianbao.review import labels as L
from nianbao.review.decide import correction_notes, review_findings, sign_offs
from nianbao.review.hierarchy import regions
from nianbao.review.store import Store
from nianbao.spec import TEMPLATES, field_map
from nianbao.spec import fields as spec_fields
from nianbao.spec import keys as spec_keys

FORMATS = ("csv", "xlsx", "parquet", "jsonl")
TABLES = ("long", "wide", "reports", "claims", "findings", "audit")
LEAD = ["document_id", "report", "agency", "province", "city", "county", "year", "template", "kind",
        "signed_off", "signed_off_by", "signed_off_at"]
LONG_COLUMNS = ["document_id", "report", "agency", "year", "template", "key", "value", "printed_value",
                "corrected", "status", "finding_ids"]
LONG_EXTRA = ["province", "city", "county", "label", "signed_off"]
WIDE_LEAD = ["document_id", "report", "agency", "year", "template", "corrected_keys", "open_findings"]
CLAIM_COLUMNS = ["document_id", "report", "agency", "year", "idx", "value", "unit", "claim_kind", "quote", "parent"]
FINDING_COLUMNS = ["document_id", "report", "agency", "year", "finding_id", "rule_id", "rule", "category",
                   "severity", "cells", "message", "expected", "found", "status", "decided_by", "decided_at",
                   "reason", "old_value", "new_value"]
AUDIT_COLUMNS = ["document_id", "report", "agency", "year", "at", "who", "action", "finding_id", "cell",
                 "old_value", "new_value", "comment"]
DICT_COLUMNS = ["key", "table", "label", "type", "precision", "template", "description"]
ISSUE_COLUMNS = ["report", "year", "severity", "category", "rule", "cells", "printed_value", "message",
                 "status", "new_value", "reason"]
STATUS_RANK = {"open": 4, "corrected": 3, "confirmed": 2, "dismissed": 1}
INT, FLOAT, BOOL, STR = "int", "float", "bool", "str"
TYPES = {"document_id": INT, "year": INT, "idx": INT, "parent": INT, "open_findings": INT,
         "signed_off": BOOL, "corrected": BOOL, "value": FLOAT, "printed_value": FLOAT, "expected": FLOAT,
         "found": FLOAT, "precision": INT}


@dataclass
class Report:
    doc: Any
    ex: Extraction
    corrections: dict[str, tuple[Any, Any]]
    findings: list[dict[str, Any]]
    lead: dict[str, Any]


def _reports(store: Store) -> Iterator[Report]:
    from sqlalchemy import select

    from nianbao.review import schema as S

    with store.engine.connect() as c:
        pairs = [(r.agency, r.parent) for r in c.execute(select(S.hierarchy.c.agency, S.hierarchy.c.parent))]
    signed = sign_offs(store)
    for doc in store.documents():
        if doc.current_extraction_id is None:
            continue
        s = signed.get(doc.id)
        lead = {"document_id": doc.id, "report": doc.name, "agency": doc.agency,
                **regions(doc.agency, pairs), "year": doc.year, "template": doc.template, "kind": doc.kind,
                "signed_off": s is not None, "signed_off_by": s["who"] if s else None,
                "signed_off_at": L.local_time(s["at"]) if s else None}
        yield Report(doc, store.current(doc.id), correction_notes(store, doc.id), review_findings(store, doc.id),
                     lead)


# ---------------------------------------------------------------- the tables


def long_rows(store: Store, reports: list[Report] | None = None) -> list[dict[str, Any]]:
    """One row per report × cell key."""
    out = []
    for r in reports if reports is not None else _reports(store):
        printed = {c["key"]: c["value"] for c in store.cells(r.doc.id)}
        by_key: dict[str, list[dict[str, Any]]] = {}
        for f in r.findings:
            for k in f["keys"]:
                by_key.setdefault(k, []).append(f)
        template = r.doc.template or r.ex.meta.template
        for key in _ordered(r.ex):
            fs = by_key.get(key, [])
            status = "corrected" if key in r.corrections else "ok"
            if fs and key not in r.corrections:
                worst = max(fs, key=lambda f: STATUS_RANK.get(f["status"], 0))
                status = {"open": "flagged"}.get(worst["status"], worst["status"])
            cell = r.ex.cells.get(key)
            out.append({
                "document_id": r.doc.id, "report": r.doc.name, "agency": r.doc.agency, "year": r.doc.year,
                "template": r.doc.template, "key": key, "value": cell.value if cell else None,
                "printed_value": printed.get(key), "corrected": key in r.corrections, "status": status,
                "finding_ids": ";".join(f["id"] for f in fs),
                "province": r.lead["province"], "city": r.lead["city"], "county": r.lead["county"],
                "label": L.cell(key, template), "signed_off": r.lead["signed_off"],
            })
    return out


def wide_columns(template: str | None = None) -> list[str]:
    if template:
        return list(spec_keys(template))
    return list(spec_keys("2021")) + [k for k in spec_keys("2019") if k not in spec_keys("2021")]


def wide_rows(store: Store, template: str | None = None, reports: list[Report] | None = None
              ) -> tuple[list[str], list[dict[str, Any]]]:
    """One row per report, one column per key (of one template, or of both, the 2021 order first)."""
    columns = wide_columns(template)
    rows = []
    for r in reports if reports is not None else _reports(store):
        if template and (r.doc.template or r.ex.meta.template) != template:
            continue
        row: dict[str, Any] = {
            **r.lead, "corrected_keys": ";".join(sorted(r.corrections)),
            "open_findings": sum(1 for f in r.findings if f["status"] == "open"),
        }
        row.update({k: (r.ex.cells[k].value if k in r.ex.cells else None) for k in columns})
        rows.append(row)
    lead = WIDE_LEAD + [c for c in LEAD if c not in WIDE_LEAD]
    return lead + columns, rows


def claim_rows(store: Store, reports: list[Report]) -> list[dict[str, Any]]:
    out = []
    for r in reports:
        for c in store.claims(r.doc.id):
            out.append({**_who(r), "idx": c["idx"], "value": c["value"], "unit": c["unit"],
                        "claim_kind": L.claim_kind(c["kind"]), "quote": c["quote"], "parent": c["parent"]})
    return out


def finding_rows(store: Store, reports: list[Report]) -> list[dict[str, Any]]:
    """Every finding with its Chinese message and the latest decision on it."""
    out = []
    for r in reports:
        template = r.doc.template or r.ex.meta.template
        last: dict[str, dict[str, Any]] = {}
        for d in store.decisions(r.doc.id):
            if d["finding_id"]:
                last[d["finding_id"]] = d
        for f in r.findings:
            d = last.get(f["id"])
            fixes = [r.corrections[k] for k in f["keys"] if k in r.corrections]
            out.append({**_who(r), "finding_id": f["id"], "rule_id": f["rule"], "rule": L.rule(f["rule"]),
                        "category": L.category(f["category"]), "severity": L.severity(f["severity"]),
                        "cells": "；".join(L.cell(k, template) for k in f["keys"]), "message": f["message"],
                        "expected": f["expected"], "found": f["found"], "status": L.status(f["status"]),
                        "decided_by": d["who"] if d else None, "decided_at": L.local_time(d["at"]) if d else None,
                        "reason": d["comment"] if d else None,
                        "old_value": "；".join(L.number(o) for o, _ in fixes) or None,
                        "new_value": "；".join(L.number(n) for _, n in fixes) or None})
    return out


def audit_rows(store: Store, reports: list[Report]) -> list[dict[str, Any]]:
    out = []
    for r in reports:
        template = r.doc.template or r.ex.meta.template
        for d in store.decisions(r.doc.id):
            cell = d["cell_key"]
            out.append({**_who(r), "at": L.local_time(d["at"]), "who": d["who"], "action": L.action(d["action"]),
                        "finding_id": d["finding_id"], "cell": L.cell(cell, template) if cell else None,
                        "old_value": _audit_value(d["old_value"], bool(cell)),
                        "new_value": _audit_value(d["new_value"], bool(cell)), "comment": d["comment"]})
    return out


def dictionary_rows() -> list[dict[str, Any]]:
    """The data dictionary: every key of both templates, its table, Chinese label, type and precision."""
    out = []
    seen: dict[str, dict[str, Any]] = {}
    for t in ("2021", "2019"):
        for f in spec_fields(t):
            if f.key in seen:
                seen[f.key]["template"] = "2019、2021"
                continue
            seen[f.key] = row = {
                "key": f.key, "table": L.TABLE_NAMES.get(f.table, f.table), "label": L.cell(f.key, t),
                "type": "金额（万元，可有小数）" if f.type == "decimal" else "件数（非负整数）",
                "precision": 4 if f.type == "decimal" else 0, "template": t,
                "description": f.label}
            out.append(row)
    return out


def _who(r: Report) -> dict[str, Any]:
    return {"document_id": r.doc.id, "report": r.doc.name, "agency": r.doc.agency, "year": r.doc.year}


def _audit_value(raw: str | None, is_cell: bool) -> str | None:
    if raw is None:
        return None
    if not is_cell:
        return L.status(raw)
    try:
        return L.number(json.loads(raw))
    except ValueError:
        return raw


def _ordered(ex: Extraction) -> list[str]:
    order = list(spec_keys(ex.meta.template)) if ex.meta.template else []
    return order + [k for k in ex.cells if k not in order]


# ---------------------------------------------------------------- writing


def header(column: str, labels: str) -> str:
    """A column's header: its id, or in Chinese (a cell key by its printed row and column)."""
    if labels != "zh":
        return column
    if re.match(r"^t[234]\.", column):
        return L.cell(column)
    return L.column(column)


def column_type(column: str) -> str:
    if re.match(r"^t[234]\.", column):
        for t in TEMPLATES:
            f = field_map(t).get(column)
            if f is not None:
                return FLOAT if f.type == "decimal" else INT
    return TYPES.get(column, STR)


def write_table(columns: list[str], rows: list[dict[str, Any]], fmt: str, out: Path, labels: str = "id",
                sheet: str = "nianbao") -> None:
    """Write rows in one of FORMATS; the column order is kept in every format."""
    out.parent.mkdir(parents=True, exist_ok=True)
    heads = [header(c, labels) for c in columns]
    if fmt == "csv":
        with out.open("w", newline="", encoding="utf-8-sig") as fh:  # BOM so Excel reads the Chinese
            w = csv.writer(fh)
            w.writerow(heads)
            w.writerows([_csv_value(r.get(c), labels) for c in columns] for r in rows)
    elif fmt == "jsonl":
        with out.open("w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps({h: _typed(c, r.get(c)) for c, h in zip(columns, heads, strict=True)},
                                    ensure_ascii=False) + "\n")
    elif fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        _sheet(wb, sheet, columns, heads, rows)
        wb.save(out)
    elif fmt == "parquet":
        write_parquet(columns, rows, out, labels)
    else:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def write_parquet(columns: list[str], rows: list[dict[str, Any]], out: Path, labels: str = "id") -> None:
    """Counts as nullable int64, amounts as float64, flags as booleans; each field's label in its metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = {INT: pa.int64(), FLOAT: pa.float64(), BOOL: pa.bool_(), STR: pa.string()}
    fields, arrays = [], []
    for c in columns:
        t = column_type(c)
        meta = {"key": c, "label": header(c, "zh")}
        fields.append(pa.field(header(c, labels), arrow[t], nullable=True,
                               metadata={k: v.encode("utf-8") for k, v in meta.items()}))
        arrays.append(pa.array([_typed(c, r.get(c)) for r in rows], type=arrow[t]))
    pq.write_table(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), out)


def _typed(column: str, v: Any) -> Any:
    t = column_type(column)
    if v is None or v == "":
        return None
    if t == INT:
        return int(v) if float(v).is_integer() else None  # a count printed with a fraction is no count
    if t == FLOAT:
        return float(v)
    if t == BOOL:
        return bool(v)
    return str(v)


def _csv_value(v: Any, labels: str) -> Any:
    if isinstance(v, bool):
        return ("是" if v else "否") if labels == "zh" else ("true" if v else "false")
    return _sheet_safe(v)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _sheet_safe(v: Any) -> Any:
    """Report text that a spreadsheet would run as a formula (=HYPERLINK…) is kept as text."""
    if isinstance(v, str) and v.startswith(FORMULA_START):
        return "'" + v
    return v


def _sheet(wb: Any, title: str, columns: list[str], heads: list[str], rows: list[dict[str, Any]]) -> None:
    ws = wb.create_sheet(_sheet_title(title, {s.title for s in wb.worksheets}))
    ws.append(heads)
    for r in rows:
        ws.append([_sheet_safe(r.get(c)) for c in columns])


def _sheet_title(name: str, taken: set[str]) -> str:
    """An Excel sheet name: at most 31 characters, none of []:*?/\\, unique in the workbook."""
    base = re.sub(r"[\[\]:*?/\\]", "_", name).strip("'") or "sheet"
    title, n = base[:31], 1
    while title in taken:
        n += 1
        title = f"{base[:31 - len(str(n)) - 1]}_{n}"
    return title


# ---------------------------------------------------------------- what the command writes


def export(store: Store, fmt: str, out: Path, wide: bool = False, labels: str | None = None,
           table: str | None = None, template: str | None = None) -> int:
    """Write the store; XLSX is one workbook of every table, other formats one table. Returns rows written."""
    labels = labels or ("zh" if fmt == "xlsx" else "id")
    table = table or ("wide" if wide else "long")
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; choose from {', '.join(TABLES)}")
    if fmt == "xlsx" and not wide and table == "long":
        return export_workbook(store, out, labels)
    reports = list(_reports(store))
    columns, rows = _table(store, table, reports, template)
    write_table(columns, rows, fmt, out, labels)
    return len(rows)


def _table(store: Store, table: str, reports: list[Report], template: str | None = None
           ) -> tuple[list[str], list[dict[str, Any]]]:
    if table == "wide":
        return wide_rows(store, template, reports)
    if table == "reports":
        return _report_table(reports)
    if table == "claims":
        return CLAIM_COLUMNS, claim_rows(store, reports)
    if table == "findings":
        return FINDING_COLUMNS, finding_rows(store, reports)
    if table == "audit":
        return AUDIT_COLUMNS, audit_rows(store, reports)
    return LONG_COLUMNS + LONG_EXTRA, long_rows(store, reports)


def _report_table(reports: list[Report]) -> tuple[list[str], list[dict[str, Any]]]:
    cols = LEAD + ["corrected_keys", "open_findings"]
    rows = [{**r.lead, "corrected_keys": "；".join(L.cell(k, r.doc.template) for k in sorted(r.corrections)),
             "open_findings": sum(1 for f in r.findings if f["status"] == "open")} for r in reports]
    return cols, rows


def export_workbook(store: Store, out: Path, labels: str = "zh") -> int:
    """Every table in one XLSX: 字段说明 first, then reports, one wide sheet per template, the long
    table, the narrative claims, the findings and the audit trail. Returns the long table's rows."""
    from openpyxl import Workbook

    out.parent.mkdir(parents=True, exist_ok=True)
    reports = list(_reports(store))
    wb = Workbook(write_only=True)
    sheets: list[tuple[str, list[str], list[dict[str, Any]]]] = [
        ("字段说明", DICT_COLUMNS, dictionary_rows()), ("报告", *_report_table(reports))]
    for t in ("2021", "2019"):
        cols, rows = wide_rows(store, t, reports)
        if rows or t == "2021":
            sheets.append((f"宽表（{t}版模板）", cols, rows))
    long = long_rows(store, reports)
    sheets += [("长表", LONG_COLUMNS + LONG_EXTRA, long), ("正文数字", CLAIM_COLUMNS, claim_rows(store, reports)),
               ("问题", FINDING_COLUMNS, finding_rows(store, reports)),
               ("审核记录", AUDIT_COLUMNS, audit_rows(store, reports))]
    for title, cols, rows in sheets:
        heads = [header(c, labels) for c in cols] if title != "字段说明" else [L.column(c) for c in cols]
        _sheet(wb, title, cols, heads, rows)
    wb.save(out)
    return len(long)


def export_issues(store: Store, out: Path, include_dismissed: bool = False) -> dict[str, int]:
    """问题清单: one sheet per agency listing what its reports got wrong, for sending back.

    Dismissed findings (the reviewer found the report right) are left out unless asked for; a
    correction shows the printed value and the right one. Returns agency → rows.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    by_agency: dict[str, list[dict[str, Any]]] = {}
    for r in _reports(store):
        template = r.doc.template or r.ex.meta.template
        printed = {c["key"]: c["value"] for c in store.cells(r.doc.id)}
        last: dict[str, dict[str, Any]] = {}
        for d in store.decisions(r.doc.id):
            if d["finding_id"]:
                last[d["finding_id"]] = d
        for f in sorted(r.findings, key=lambda f: ({"error": 0, "warning": 1}.get(f["severity"], 2), f["rule"])):
            if f["status"] == "dismissed" and not include_dismissed:
                continue
            if f["severity"] == "info" and f["status"] == "open":
                continue  # notes on how the report was read are not the agency's to answer
            d = last.get(f["id"])
            by_agency.setdefault(r.doc.agency or "单位未知", []).append({
                "report": r.doc.name, "year": r.doc.year, "severity": L.severity(f["severity"]),
                "category": L.category(f["category"]), "rule": L.rule(f["rule"]),
                "cells": "；".join(L.cell(k, template) for k in f["keys"][:8])
                + (f" 等 {len(f['keys'])} 格" if len(f["keys"]) > 8 else ""),
                "printed_value": "；".join(L.number(printed.get(k), k, template) for k in f["keys"][:8]
                                          if len(f["keys"]) <= 3) or None,
                "message": f["message"], "status": L.status(f["status"]),
                "new_value": "；".join(f"{L.cell(k, template)} {L.number(r.corrections[k][1], k, template)}"
                                      for k in f["keys"] if k in r.corrections) or None,
                "reason": d["comment"] if d else None})
    out.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    wb.remove(wb.active)
    heads = [L.column(c) for c in ISSUE_COLUMNS]
    heads[ISSUE_COLUMNS.index("printed_value")] = "原报告数值"
    heads[ISSUE_COLUMNS.index("new_value")] = "应为"
    heads[ISSUE_COLUMNS.index("reason")] = "审核意见"
    for agency in sorted(by_agency):
        ws = wb.create_sheet(_sheet_title(agency, {s.title for s in wb.worksheets}))
        ws.append([f"{agency} 政府信息公开工作年度报告问题清单"])
        ws["A1"].font = Font(bold=True, size=13)
        ws.append(heads)
        for c in ws[2]:
            c.font = Font(bold=True)
        for row in by_agency[agency]:
            ws.append([_sheet_safe(row[c]) for c in ISSUE_COLUMNS])
        for col, width in zip("ABCDEFGHIJK", (28, 6, 8, 12, 20, 30, 12, 60, 8, 20, 24), strict=True):
            ws.column_dimensions[col].width = width
        for r in ws.iter_rows(min_row=3):
            r[ISSUE_COLUMNS.index("message")].alignment = Alignment(wrap_text=True, vertical="top")
        ws.freeze_panes = "A3"
    if not by_agency:
        ws = wb.create_sheet("问题清单")
        ws.append(["没有待反馈的问题"])
    wb.save(out)
    return {a: len(rows) for a, rows in by_agency.items()}


def export_gold(store: Store, out_dir: Path, skipped: list[str] | None = None) -> list[Path]:
    """Reviewed reports as gold fixtures: confirmed findings expected, dismissed ones acceptable.

    A report whose agency, year or template is unknown is left out (a fixture needs all three)
    and its name added to `skipped`.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    reviewed = {d["document_id"] for d in store.decisions()}
    for r in _reports(store):
        doc, ex = r.doc, r.ex
        if doc.id not in reviewed:
            continue
        if not (ex.meta.agency and ex.meta.year and ex.meta.template):
            if skipped is not None:
                skipped.append(doc.name)
            continue
        findings = [f for f in r.findings if f["active"]]
        contract = ex.to_contract()
        gold = {k: contract[k] for k in ("report", "meta", "cells", "narrative")}
        gold["findings"] = {
            "expected": [_gold_finding(f) for f in findings if f["status"] == "confirmed"],
            "acceptable": [_gold_finding(f) for f in findings if f["status"] == "dismissed"],
        }
        if contract.get("uncertain"):
            gold["uncertain"] = contract["uncertain"]
        path = out_dir / f"{Path(doc.name).stem}.gold.json"
        path.write_text(json.dumps(gold, ensure_ascii=False, indent=1), encoding="utf-8")
        written.append(path)
    return written


def _gold_finding(f: dict[str, Any]) -> dict[str, Any]:
    return {"category": f["category"], "rule": f["rule"], "keys": f["keys"], "note": f["message"]}


def diff_rows(store: Store, agency: str, changed_only: bool = False) -> list[dict[str, Any]]:
    """An agency's numbers year over year: one row per key and pair of consecutive years."""
    from nianbao.review.yoy import year_over_year

    out = []
    for p in year_over_year(store, agency, changed_only=changed_only)["pairs"]:
        for r in p["rows"]:
            out.append({"agency": agency, "year_before": p["year_before"], "year_after": p["year_after"],
                        "key": r["key"], "label": r["zh"], "before": r["before_value"], "after": r["after_value"],
                        "delta": r["change_value"], "pct": r["pct_value"]})
    return out


DIFF_COLUMNS = ["agency", "year_before", "year_after", "key", "label", "before", "after", "delta", "pct"]
TYPES.update({"year_before": INT, "year_after": INT, "before": FLOAT, "after": FLOAT, "delta": FLOAT, "pct": FLOAT})

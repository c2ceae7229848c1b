"""Exports: the store as one clean dataset (long or wide), as year-over-year diffs, as gold fixtures.

Corrections are applied (with a column saying so); every cell carries the status of the findings
that involve it, so a researcher sees which numbers a reviewer doubted.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nianbao.models import Extraction
from nianbao.review.store import Store
from nianbao.spec import keys as spec_keys

FORMATS = ("csv", "xlsx", "parquet", "jsonl")
LONG_COLUMNS = ["document_id", "report", "agency", "year", "template", "key", "value", "printed_value",
                "corrected", "status", "finding_ids"]
WIDE_LEAD = ["document_id", "report", "agency", "year", "template", "corrected_keys", "open_findings"]
STATUS_RANK = {"open": 3, "confirmed": 2, "dismissed": 1}
STATUS_NAME = {"open": "flagged", "confirmed": "confirmed", "dismissed": "dismissed"}


def _reports(store: Store) -> Iterator[tuple[Any, Extraction, dict[str, Any], list[dict[str, Any]]]]:
    for doc in store.documents():
        if doc.current_extraction_id is None:
            continue
        ex = store.current(doc.id)
        yield doc, ex, store.corrections(doc.id), store.findings(doc.id)


def long_rows(store: Store) -> list[dict[str, Any]]:
    """One row per report × cell key."""
    out = []
    for doc, ex, corr, findings in _reports(store):
        printed = {c["key"]: c["value"] for c in store.cells(doc.id)}
        by_key: dict[str, list[dict[str, Any]]] = {}
        for f in findings:
            for k in f["keys"]:
                by_key.setdefault(k, []).append(f)
        for key in _ordered(ex):
            fs = by_key.get(key, [])
            status = "corrected" if key in corr else "ok"
            if fs and key not in corr:
                worst = max(fs, key=lambda f: STATUS_RANK.get(f["status"], 0))
                status = STATUS_NAME.get(worst["status"], worst["status"])
            cell = ex.cells.get(key)
            out.append({
                "document_id": doc.id, "report": doc.name, "agency": doc.agency, "year": doc.year,
                "template": doc.template, "key": key, "value": cell.value if cell else None,
                "printed_value": printed.get(key), "corrected": key in corr, "status": status,
                "finding_ids": ";".join(f["id"] for f in fs),
            })
    return out


def wide_rows(store: Store) -> tuple[list[str], list[dict[str, Any]]]:
    """One row per report, one column per key (both templates' keys, the 2021 order first)."""
    columns = list(spec_keys("2021")) + [k for k in spec_keys("2019") if k not in spec_keys("2021")]
    rows = []
    for doc, ex, corr, findings in _reports(store):
        row: dict[str, Any] = {
            "document_id": doc.id, "report": doc.name, "agency": doc.agency, "year": doc.year,
            "template": doc.template, "corrected_keys": ";".join(sorted(corr)),
            "open_findings": sum(1 for f in findings if f["status"] == "open"),
        }
        row.update({k: (ex.cells[k].value if k in ex.cells else None) for k in columns})
        rows.append(row)
    return WIDE_LEAD + columns, rows


def _ordered(ex: Extraction) -> list[str]:
    order = list(spec_keys(ex.meta.template)) if ex.meta.template else []
    return order + [k for k in ex.cells if k not in order]


def write_table(columns: list[str], rows: list[dict[str, Any]], fmt: str, out: Path) -> None:
    """Write rows in one of FORMATS; the column order is kept in every format."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with out.open("w", newline="", encoding="utf-8-sig") as fh:  # BOM so Excel reads the Chinese
            w = csv.DictWriter(fh, fieldnames=columns)
            w.writeheader()
            w.writerows({k: _sheet_safe(v) for k, v in r.items()} for r in rows)
    elif fmt == "jsonl":
        with out.open("w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps({c: r.get(c) for c in columns}, ensure_ascii=False) + "\n")
    elif fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("nianbao")
        ws.append(columns)
        for r in rows:
            ws.append([_sheet_safe(r.get(c)) for c in columns])
        wb.save(out)
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        data = {c: [_arrow_safe(r.get(c)) for r in rows] for c in columns}
        pq.write_table(pa.table(data), out)
    else:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _sheet_safe(v: Any) -> Any:
    """Report text that a spreadsheet would run as a formula (=HYPERLINK…) is kept as text."""
    if isinstance(v, str) and v.startswith(FORMULA_START):
        return "'" + v
    return v


def _arrow_safe(v: Any) -> Any:
    """Cell values mix ints and decimals; parquet columns need one type, so numbers become floats."""
    return float(v) if isinstance(v, int) and not isinstance(v, bool) else v


def export(store: Store, fmt: str, out: Path, wide: bool = False) -> int:
    if wide:
        columns, rows = wide_rows(store)
    else:
        columns, rows = LONG_COLUMNS, long_rows(store)
    write_table(columns, rows, fmt, out)
    return len(rows)


def export_gold(store: Store, out_dir: Path, skipped: list[str] | None = None) -> list[Path]:
    """Reviewed reports as gold fixtures: confirmed findings expected, dismissed ones acceptable.

    A report whose agency, year or template is unknown is left out (a fixture needs all three)
    and its name added to `skipped`.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    reviewed = {d["document_id"] for d in store.decisions()}
    for doc, ex, _corr, findings in _reports(store):
        if doc.id not in reviewed:
            continue
        if not (ex.meta.agency and ex.meta.year and ex.meta.template):
            if skipped is not None:
                skipped.append(doc.name)
            continue
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
    from nianbao.rules.cross_report import diff

    years = store.agency_years(agency)
    out = []
    for (y0, d0), (y1, d1) in zip(years, years[1:], strict=False):
        for r in diff(store.current(d0), store.current(d1), changed_only=changed_only):
            out.append({"agency": agency, "year_before": y0, "year_after": y1, "key": r.key,
                        "before": r.before, "after": r.after, "delta": r.delta})
    return out


DIFF_COLUMNS = ["agency", "year_before", "year_after", "key", "before", "after", "delta"]

"""Exports: every format round-trips, corrections are applied and marked, gold fixtures come out."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from store_helpers import TEST_RULE, balance_rule_registered, consistent_values, extraction_from, report_text

from nianbao.review.export import LONG_COLUMNS, LONG_EXTRA, export, export_gold, long_rows, wide_rows
from nianbao.review.export import header as header_of
from nianbao.review.store import Store
from nianbao.spec import keys


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """Two reports, one with a balance error; the error is confirmed and one cell corrected."""
    with balance_rule_registered():
        s = Store(tmp_path / "n.db")
        rng = random.Random(21)
        ids = []
        for i, agency in enumerate(["甲镇", "乙镇"]):
            v = consistent_values(rng)
            if i == 1:
                v["t3.granted.research"] += 2
                v["t3.total_processed.research"] += 2
                v["t3.total_processed.total"] += 2
            text = report_text(agency, 2023, v)
            _, ex = extraction_from(text, f"{agency}.txt")
            from nianbao.pipeline import check

            ids.append(s.save_result(None, f"/in/{agency}.txt", agency, "txt", text, check(None, ex), "k"))
        (f,) = [f for f in s.findings(ids[1])
                if f["rule"] == TEST_RULE and "t3.new_received.research" in f["keys"]]
        for g in s.findings(ids[1]):  # this rule's finding and any other rule's on the same cell
            if "t3.new_received.research" in g["keys"]:
                s.decide(ids[1], g["id"], "confirm", "审核员")
        s.correct(ids[0], "t2.licensing.decisions", 12345, "审核员", "原文漏印")
        s.test_ids = ids  # type: ignore[attr-defined]
        s.finding = f  # type: ignore[attr-defined]
        yield s


def test_long_rows_carry_status_corrections_and_finding_ids(store: Store) -> None:
    rows = long_rows(store)
    assert len(rows) == 2 * len(keys("2021"))
    fixed = next(r for r in rows if r["report"] == "甲镇.txt" and r["key"] == "t2.licensing.decisions")
    assert fixed["value"] == 12345 and fixed["corrected"] is True and fixed["status"] == "corrected"
    assert fixed["printed_value"] != 12345
    flagged = next(r for r in rows if r["report"] == "乙镇.txt" and r["key"] == "t3.new_received.research")
    assert flagged["status"] == "confirmed" and store.finding["id"] in flagged["finding_ids"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx", "parquet"])
def test_formats_round_trip(store: Store, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"long.{fmt}"
    n = export(store, fmt, out)
    expected = long_rows(store)
    columns = LONG_COLUMNS + LONG_EXTRA
    if fmt == "csv":
        with out.open(encoding="utf-8-sig") as fh:
            got = list(csv.DictReader(fh))
        header = list(got[0].keys())
    elif fmt == "jsonl":
        got = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        header = list(got[0].keys())
    elif fmt == "xlsx":  # a workbook of every table; the long one with Chinese headers
        from openpyxl import load_workbook

        ws = load_workbook(out, read_only=True)["长表"]
        table = [list(r) for r in ws.iter_rows(values_only=True)]
        assert table[0] == [header_of(c, "zh") for c in columns]
        header, got = columns, [dict(zip(columns, r, strict=True)) for r in table[1:]]
    else:
        import pyarrow.parquet as pq

        t = pq.read_table(out)
        header, got = t.column_names, t.to_pylist()
    assert header == columns and n == len(got) == len(expected)
    for e, g in zip(expected, got, strict=True):
        assert str(g["key"]) == e["key"] and str(g["report"]) == e["report"]
        assert float(g["value"]) == float(e["value"])
        if fmt in ("jsonl", "xlsx", "parquet"):  # booleans stay booleans
            assert g["corrected"] is e["corrected"]
        else:
            assert g["corrected"] == ("true" if e["corrected"] else "false")


def test_wide_table_has_one_row_per_report(store: Store, tmp_path: Path) -> None:
    columns, rows = wide_rows(store)
    assert len(rows) == 2 and "t3.new_received.total" in columns and "t2.procurement.amount_wan" in columns
    a = next(r for r in rows if r["report"] == "甲镇.txt")
    assert a["t2.licensing.decisions"] == 12345 and a["corrected_keys"] == "t2.licensing.decisions"
    out = tmp_path / "wide.csv"
    assert export(store, "csv", out, wide=True) == 2
    with out.open(encoding="utf-8-sig") as fh:
        got = list(csv.DictReader(fh))
    assert got[0]["report"] == "甲镇.txt" and got[0]["t2.licensing.decisions"] == "12345" and len(got) == 2


def test_gold_export_of_reviewed_reports(store: Store, tmp_path: Path) -> None:
    written = export_gold(store, tmp_path / "gold")
    names = sorted(p.name for p in written)
    assert names == ["乙镇.gold.json", "甲镇.gold.json"]
    gold = json.loads((tmp_path / "gold" / "乙镇.gold.json").read_text(encoding="utf-8"))
    assert set(gold) >= {"report", "meta", "cells", "narrative", "findings"}
    (exp,) = [f for f in gold["findings"]["expected"] if f.get("rule") == TEST_RULE]
    assert exp["category"] == "arithmetic" and "t3.new_received.research" in exp["keys"]
    assert gold["findings"]["acceptable"] == []
    a = json.loads((tmp_path / "gold" / "甲镇.gold.json").read_text(encoding="utf-8"))
    assert a["cells"]["t2.licensing.decisions"] == 12345
    # the exported fixture is scorable: the shared scorer's shape (cells of the template)
    assert set(keys("2021")) <= set(a["cells"])


def test_gold_export_scores_with_the_shared_scorer(store: Store, tmp_path: Path, shared_dir: Path) -> None:
    """The independent scorer reads the exported fixtures: the reviewed reports score themselves fully."""
    import subprocess
    import sys

    export_gold(store, tmp_path / "gold")
    pred = tmp_path / "pred"
    pred.mkdir()
    for doc in store.documents():
        out = store.current(doc.id).to_contract()
        out["findings"] = [{"category": f["category"], "rule": f["rule"], "keys": f["keys"],
                            "severity": f["severity"]} for f in store.findings(doc.id)]
        (pred / f"{Path(doc.name).stem}.json").write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
    r = subprocess.run([sys.executable, str(shared_dir / "tools" / "score.py"), str(tmp_path / "gold"), str(pred),
                        "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    total = json.loads(r.stdout)["total"]
    assert total["cells_right"] == total["cells_total"] == 2 * len(keys("2021"))
    assert total["find_hit"] == total["find_expected"] >= 1 and total["meta_right"] == 6


def test_gold_export_leaves_out_reports_without_meta(tmp_path: Path) -> None:
    s = Store(tmp_path / "n.db")
    text = "没有标题的报告\nt2.licensing.decisions: 3\n"
    _, ex = extraction_from(text, "nometa.txt")
    doc_id = s.save_result(None, "/in/nometa.txt", "h", "txt", text, ex, "k")
    s.correct(doc_id, "t2.licensing.decisions", 4, "审核员")
    skipped: list[str] = []
    assert export_gold(s, tmp_path / "gold", skipped) == [] and skipped == ["nometa.txt"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_report_text_never_becomes_a_spreadsheet_formula(tmp_path: Path, fmt: str) -> None:
    from nianbao.review.export import write_table

    evil = '=HYPERLINK("http://evil.example","点我")'
    out = tmp_path / f"x.{fmt}"
    write_table(["agency", "value"], [{"agency": evil, "value": -3}], fmt, out)
    if fmt == "csv":
        with out.open(encoding="utf-8-sig") as fh:
            row = next(csv.DictReader(fh))
        assert row["agency"] == "'" + evil and row["value"] == "-3"  # numbers stay numbers
    else:
        from openpyxl import load_workbook

        ws = load_workbook(out).active
        assert ws["A2"].data_type == "s" and ws["A2"].value == "'" + evil and ws["B2"].value == -3

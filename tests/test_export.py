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
            from nianbao.app.pipeline import check

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


@pytest.mark.parametrize("fmt", ["csv", "jsonl", pytest.param("xlsx", marks=pytest.mark.slow),
                                 pytest.param("parquet", marks=pytest.mark.slow)])
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


def test_xlsx_workbook_has_a_data_dictionary_chinese_headers_sign_off_and_decisions(store: Store, tmp_path: Path
                                                                                    ) -> None:
    from openpyxl import load_workbook
    from typer.testing import CliRunner

    from nianbao.app.cli import app
    from nianbao.review.decide import correct, sign_off

    a, b = store.test_ids
    sign_off(store, b, "科长", "已核")
    resolved = correct(store, b, "t3.new_received.research", store.current(b).cells["t3.new_received.research"].value + 2,
                       "审核员", "原表多印")
    assert resolved  # the confirmed balance finding is resolved by the correction, and kept
    out = tmp_path / "all.xlsx"
    r = CliRunner().invoke(app, ["export", "--db", store.url.removeprefix("sqlite:///"), "--format", "xlsx",
                                 "-o", str(out)])
    assert r.exit_code == 0, r.output
    wb = load_workbook(out, read_only=True)
    assert wb.sheetnames[:3] == ["字段说明", "报告", "宽表（2021版模板）"]
    assert {"长表", "正文数字", "问题", "审核记录"} <= set(wb.sheetnames)
    dictionary = [list(x) for x in wb["字段说明"].iter_rows(values_only=True)]
    assert dictionary[0][:3] == ["字段", "表", "字段名称"]
    row = next(x for x in dictionary if x[0] == "t3.new_received.natural_person")
    assert row[1] == "表三" and "本年新收" in row[2] and "自然人" in row[2] and row[4] == 0
    assert next(x for x in dictionary if x[0] == "t2.procurement.amount_wan")[4] == 4
    wide = [list(x) for x in wb["宽表（2021版模板）"].iter_rows(values_only=True)]
    head = wide[0]
    assert "单位" in head and "已审核" in head and "审核人" in head
    assert not any(str(h).startswith(("t2.", "t3.", "t4.")) for h in head)  # cells by their Chinese labels
    by_agency = {x[head.index("单位")]: dict(zip(head, x, strict=True)) for x in wide[1:]}
    assert by_agency["乙镇"]["已审核"] is True and by_agency["乙镇"]["审核人"] == "科长"
    assert by_agency["甲镇"]["已审核"] is False
    found = [list(x) for x in wb["问题"].iter_rows(values_only=True)]
    fh = found[0]
    statuses = {x[fh.index("状态")] for x in found[1:]}
    assert "已更正" in statuses and all(s in ("待审", "已确认", "已驳回", "已更正") for s in statuses)
    fixed = next(x for x in found[1:] if x[fh.index("状态")] == "已更正")
    assert fixed[fh.index("新值")] is not None and "新收" in fixed[fh.index("说明")] or fixed[fh.index("检查规则")]
    audit = [list(x) for x in wb["审核记录"].iter_rows(values_only=True)]
    actions = [x[audit[0].index("操作")] for x in audit[1:]]
    assert {"确认", "更正", "签核"} <= set(actions)


@pytest.mark.slow
def test_parquet_counts_are_nullable_int64_with_labels_in_field_metadata(store: Store, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = tmp_path / "wide.parquet"
    export(store, "parquet", out, wide=True, template="2021")
    schema = pq.read_schema(out)
    count = schema.field("t3.new_received.natural_person")
    assert count.type == pa.int64() and count.nullable
    assert "自然人" in count.metadata[b"label"].decode("utf-8")
    assert schema.field("t2.admin_fee.amount_wan").type == pa.float64()
    assert schema.field("signed_off").type == pa.bool_() and schema.field("year").type == pa.int64()
    t = pq.read_table(out).to_pylist()
    assert all(isinstance(r["t3.new_received.total"], int) for r in t)


def test_issue_list_has_one_sheet_per_agency(store: Store, tmp_path: Path) -> None:
    from openpyxl import load_workbook
    from typer.testing import CliRunner

    from nianbao.app.cli import app

    db = store.url.removeprefix("sqlite:///")
    out = tmp_path / "issues.xlsx"
    r = CliRunner().invoke(app, ["export", "--db", db, "--format", "issues", "-o", str(out)])
    assert r.exit_code == 0, r.output
    wb = load_workbook(out)
    with_issues = {f["document_id"] for f in store.findings() if f["severity"] != "info"}
    agencies = {store.document(d).agency for d in with_issues}
    assert set(wb.sheetnames) == agencies and agencies
    ws = wb["乙镇"]
    assert "乙镇" in ws["A1"].value and "问题清单" in ws["A1"].value
    head = [c.value for c in ws[2]]
    assert head[:3] == ["报告文件", "年度", "严重程度"] and "说明" in head
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=3)]
    assert rows and all(r[head.index("严重程度")] in ("错误", "警告", "提示") for r in rows)
    r = CliRunner().invoke(app, ["export", "--db", db, "--format", "issues", "-o", str(tmp_path / "x.csv")])
    assert r.exit_code == 2 and "FILE.xlsx" in r.output

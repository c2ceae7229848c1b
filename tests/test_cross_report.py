"""Cross-report checks: carried-over applications, 现行有效 carry-over, summary reports, diffs."""

from __future__ import annotations

import random
from pathlib import Path

from store_helpers import consistent_values, extraction_from, report_text

from nianbao.models import Extraction
from nianbao.review.store import RunSettings, Store
from nianbao.rules import cross_report
from nianbao.spec import T3_COLUMNS


def _pair(consistent: bool, seed: int = 1) -> tuple[dict, dict]:
    """Two years of one agency; this year's 上年结转 equals last year's 结转下年度 when consistent."""
    rng = random.Random(seed)
    last = consistent_values(rng)
    carried = {c: last[f"t3.carried_forward.{c}"] for c in T3_COLUMNS[:-1]}
    if not consistent:
        carried["business"] += 3
    this = consistent_values(rng, carried_over=carried)
    for row in ("regulation", "normative_doc"):
        this[f"t2.{row}.in_force"] = (last[f"t2.{row}.in_force"] + this[f"t2.{row}.issued"]
                                      - this[f"t2.{row}.repealed"])
    return last, this


def _ex(agency: str, year: int, values: dict) -> Extraction:
    return extraction_from(report_text(agency, year, values))[1]


def test_previous_year_consistent_pair_has_no_findings() -> None:
    last, this = _pair(True)
    assert cross_report.previous_year(_ex("甲镇", 2022, last), _ex("甲镇", 2023, this)) == []


def test_previous_year_inconsistent_pair_is_flagged_per_column() -> None:
    last, this = _pair(False)
    this["t2.regulation.in_force"] += 2
    found = cross_report.previous_year(_ex("甲镇", 2022, last), _ex("甲镇", 2023, this))
    carry = [f for f in found if f.rule == cross_report.CARRY_RULE]
    assert {tuple(f.keys) for f in carry} == {("t3.carried_over.business",), ("t3.carried_over.total",)}
    biz = next(f for f in carry if f.keys == ["t3.carried_over.business"])
    assert (biz.expected, biz.found) == (last["t3.carried_forward.business"], this["t3.carried_over.business"])
    (inf,) = [f for f in found if f.rule == cross_report.IN_FORCE_RULE]
    assert inf.keys[0] == "t2.regulation.in_force" and inf.found - inf.expected == 2


def test_missing_values_are_not_flagged() -> None:
    last, this = _pair(False)
    this["t3.carried_over.business"] = None
    this["t3.carried_over.total"] = None
    assert cross_report.carried_over(_ex("甲镇", 2022, last), _ex("甲镇", 2023, this)) == []


def test_summary_against_covered_reports() -> None:
    rng = random.Random(9)
    kids = [consistent_values(rng) for _ in range(3)]
    total = {k: sum(v[k] for v in kids) for k in kids[0]}
    parent = _ex("某县", 2023, total)
    assert cross_report.summary(parent, [_ex(f"镇{i}", 2023, v) for i, v in enumerate(kids)]) == []
    total["t3.new_received.total"] += 1
    (f,) = cross_report.summary(_ex("某县", 2023, total), [_ex(f"镇{i}", 2023, v) for i, v in enumerate(kids)])
    assert f.keys == ["t3.new_received.total"] and f.found - f.expected == 1


def test_diff_lists_changes() -> None:
    last, this = _pair(True)
    rows = cross_report.diff(_ex("甲镇", 2022, last), _ex("甲镇", 2023, this), changed_only=True)
    assert rows and all(r.before != r.after for r in rows)
    r = rows[0]
    assert r.delta == r.after - r.before


def _save(store: Store, agency: str, year: int, values: dict) -> int:
    text = report_text(agency, year, values)
    doc, ex = extraction_from(text, f"{agency}{year}.txt")
    return store.save_result(None, f"/in/{agency}{year}.txt", f"{agency}{year}", "txt", text, ex, "k")


def test_store_runs_cross_checks_on_a_generated_pair(tmp_path: Path) -> None:
    store = Store(tmp_path / "n.db")
    last, this = _pair(True, seed=2)
    _save(store, "甲镇", 2022, last)
    good = _save(store, "甲镇", 2023, this)
    last_b, this_b = _pair(False, seed=3)
    _save(store, "乙镇", 2022, last_b)
    bad = _save(store, "乙镇", 2023, this_b)
    store.cross_check()
    assert [f for f in store.findings(good) if f["source"] == "cross"] == []
    cross = [f for f in store.findings(bad) if f["source"] == "cross"]
    assert {f["keys"][0] for f in cross} == {"t3.carried_over.business", "t3.carried_over.total"}
    # a reviewer fixes this year's printed value: the cross check clears, the finding is kept inactive
    key = "t3.carried_over.business"
    store.correct(bad, key, last_b["t3.carried_forward.business"], "审核员")
    assert [f for f in store.findings(bad) if f["source"] == "cross" and f["keys"] == [key]] == []
    assert any(f["keys"] == [key] for f in store.findings(bad, active_only=False))


def test_store_summary_check_uses_the_declared_hierarchy(tmp_path: Path) -> None:
    store = Store(tmp_path / "n.db")
    rng = random.Random(11)
    kids = [consistent_values(rng) for _ in range(2)]
    total = {k: sum(v[k] for v in kids) for k in kids[0]}
    total["t4.review.total"] += 4
    for i, v in enumerate(kids):
        _save(store, f"镇{i}", 2023, v)
    county = _save(store, "某县", 2023, total)
    store.cross_check()
    assert [f for f in store.findings(county) if f["source"] == "cross"] == []  # no hierarchy yet
    store.load_hierarchy([("镇0", "某县"), ("镇1", "某县")])
    store.cross_check()
    (f,) = [f for f in store.findings(county) if f["source"] == "cross"]
    assert f["keys"] == ["t4.review.total"] and f["found"] - f["expected"] == 4


def test_batch_settings_key_changes_with_backend_options() -> None:
    a = RunSettings("rules", (), "1").key
    assert a == RunSettings("rules", (), "1").key
    assert a != RunSettings("llm", (("model", "m"),), "1").key != RunSettings("rules", (), "2").key


def test_agency_names_match_across_years_as_printed() -> None:
    assert cross_report.same_agency("洪泽区", "淮安市洪泽区")
    assert cross_report.same_agency("承留镇人民政府", "承留镇")
    assert cross_report.same_agency("江苏省淮安市洪泽区", "淮安市 洪泽区")
    assert not cross_report.same_agency("甲市洪泽区", "乙市洪泽区")
    assert not cross_report.same_agency("新区", "高新区")
    assert not cross_report.same_agency("洪泽区", "洪泽区高良涧街道")
    assert not cross_report.same_agency("", "洪泽区")


def test_store_pairs_years_whose_names_differ(tmp_path: Path) -> None:
    store = Store(tmp_path / "n.db")
    last, this = _pair(False, seed=5)
    _save(store, "洪泽区", 2022, last)
    cur = _save(store, "淮安市洪泽区", 2023, this)
    store.cross_check()
    assert {f["keys"][0] for f in store.findings(cur) if f["source"] == "cross"} == {
        "t3.carried_over.business", "t3.carried_over.total"}
    assert [y for y, _ in store.agency_years("淮安市洪泽区")] == [2022, 2023]
    # a second 洪泽区 in 2023 makes "洪泽区" of 2022 ambiguous: no pair is better than a wrong one
    other = _save(store, "甲市洪泽区", 2023, dict(this, **{"t3.carried_over.total": 999}))
    store.cross_check()
    assert [f for f in store.findings(cur) + store.findings(other) if f["source"] == "cross"] == []


def test_real_pair_of_years_from_the_labelled_pdfs(tmp_path: Path, shared_dir: Path) -> None:
    """洪泽区 2023 and 淮安市洪泽区 2024 (hand-labelled PDFs): one agency, and its numbers carry over."""
    import json

    def gold(name: str) -> Extraction:
        return Extraction.from_contract(json.loads((shared_dir / "reports" / "pdf" / name).read_text("utf-8")))

    prev, cur = gold("huaian_hongzequ_2023.gold.json"), gold("huaian_hongzequ_2024.gold.json")
    assert cross_report.same_agency(prev.meta.agency, cur.meta.agency)
    assert cross_report.previous_year(prev, cur) == []  # 5 in force + 3 issued − 0 repealed = 8
    cur.cells["t2.normative_doc.in_force"].value = 9
    (f,) = cross_report.previous_year(prev, cur)
    assert f.rule == cross_report.IN_FORCE_RULE and (f.expected, f.found) == (8, 9)
    store = Store(tmp_path / "n.db")
    ids = [store.save_result(None, f"/in/{ex.meta.year}.pdf", str(ex.meta.year), "pdf", "", ex, "k")
           for ex in (prev, cur)]
    store.cross_check()
    assert [g["keys"][0] for g in store.findings(ids[1]) if g["source"] == "cross"] == ["t2.normative_doc.in_force"]


def test_summary_with_partial_coverage_says_how_many_units_it_covers() -> None:
    rng = random.Random(12)
    kids = [consistent_values(rng) for _ in range(2)]
    total = {k: sum(v[k] for v in kids) * 40 for k in kids[0]}  # a city far bigger than two towns
    found = cross_report.summary(_ex("某市", 2023, total), [_ex(f"镇{i}", 2023, v) for i, v in enumerate(kids)],
                                 listed=88)
    (f,) = found
    assert f.rule == cross_report.SUMMARY_COVERAGE_RULE and f.severity == "info" and not f.keys
    assert "88" in f.message and "2" in f.message and "未做合计核对" in f.message
    exact = {k: sum(v[k] for v in kids) for k in kids[0]}
    exact["t3.new_received.total"] += 1
    (g,) = cross_report.summary(_ex("某县", 2023, exact), [_ex(f"镇{i}", 2023, v) for i, v in enumerate(kids)],
                                listed=2)
    assert g.rule == cross_report.SUMMARY_RULE and "（七）" not in g.message and "t3." not in g.message


def test_hierarchy_loads_accumulate_and_partial_coverage_is_one_note(tmp_path: Path) -> None:
    store = Store(tmp_path / "n.db")
    rng = random.Random(13)
    kids = [consistent_values(rng) for _ in range(2)]
    total = {k: sum(v[k] for v in kids) for k in kids[0]}
    for i, v in enumerate(kids):
        _save(store, f"镇{i}", 2023, v)
    county = _save(store, "某县", 2023, {k: v * 3 for k, v in total.items()})
    store.load_hierarchy([("镇0", "某县")])
    store.load_hierarchy([("镇1", "某县"), ("镇9", "某县")])  # a second file adds to the first
    from sqlalchemy import select

    from nianbao.review.schema import hierarchy
    with store.engine.connect() as c:
        assert len(c.execute(select(hierarchy)).all()) == 3
    store.cross_check()
    (f,) = [f for f in store.findings(county) if f["source"] == "cross"]
    assert f["rule"] == cross_report.SUMMARY_COVERAGE_RULE and "3 个" in f["message"] and "2 个" in f["message"]


def test_hierarchy_csv_header_rows_are_recognised(tmp_path: Path) -> None:
    from nianbao.review.hierarchy import read_csv, regions

    zh = tmp_path / "zh.csv"
    zh.write_text("上级单位,单位名称\n淮安市,洪泽区\n江苏省,淮安市\n洪泽区,岔河镇\n", encoding="utf-8-sig")
    pairs = read_csv(zh)
    assert pairs == [("洪泽区", "淮安市"), ("淮安市", "江苏省"), ("岔河镇", "洪泽区")]
    plain = tmp_path / "plain.csv"
    plain.write_text("洪泽区,淮安市\n", encoding="gb18030")
    assert read_csv(plain) == [("洪泽区", "淮安市")]
    assert regions("岔河镇人民政府", pairs) == {"province": "江苏省", "city": "淮安市", "county": "洪泽区"}
    assert regions("洪泽区", pairs)["county"] == "洪泽区"

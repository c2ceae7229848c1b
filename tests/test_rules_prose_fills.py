"""Tables the report does not print, settled (or not) by what its prose says: dev d05, d06, d10–d14."""

from __future__ import annotations

from nianbao.app.pipeline import check
from nianbao.document import Document
from nianbao.extract.narrative.claims import extract_claims, extract_facts
from nianbao.models import CellReading, Extraction, Meta, issue
from nianbao.spec import keys as spec_keys


def _report(text: str, missing: list[str], template: str = "2019") -> tuple[Document, Extraction]:
    """An Extraction as the parser hands it on when tables are missing: every cell null, one issue per table."""
    doc = Document(name="t.txt", kind="txt", text=text)
    ex = Extraction(report="t.txt", meta=Meta(agency="某厅", year=2019, template=template))  # type: ignore[arg-type]
    ex.cells = {k: CellReading(key=k, value=None, note="missing") for k in spec_keys(template)}
    ex.issues = [issue("missing_table", detail=f"未找到{t}", table=t) for t in missing]
    ex.narrative = extract_claims(doc, ex)
    ex.facts = extract_facts(doc, ex)
    return doc, ex


D05 = ("一、总体情况  2019年，在厅网站主动公开各类文件信息480余条。  二、主动公开政府信息情况"
       "三、收到和处理政府信息公开申请情况  2019年未收到政府信息公开申请。  四、政府信息公开行政复议、行政诉讼情况"
       "  2019年未发生涉及政府信息公开的行政复议、行政诉讼案件。  五、存在的主要问题及改进情况  …")


def test_statements_in_place_of_tables_three_and_four_fill_zeros_as_uncertain() -> None:
    """d05: 三 and 四 are sentences; their cells are 0 by the prose, listed as uncertain; 二 stays null."""
    doc, ex = _report(D05, ["t2", "t3", "t4"])
    check(doc, ex)
    t2 = [k for k in ex.cells if k.startswith("t2.")]
    t34 = [k for k in ex.cells if k.startswith(("t3.", "t4."))]
    assert all(ex.cells[k].value is None for k in t2)
    assert all(ex.cells[k].value == 0 and ex.cells[k].reader == "prose" for k in t34)
    assert set(ex.uncertain) == set(t34)
    fills = [f for f in ex.findings if f.rule == "fill.prose"]
    assert len(fills) == 2  # one per statement: 未发生行政复议、行政诉讼 settles all of table 四 at once
    assert {len(f.keys) for f in fills} == {161, 15} and all(f.severity == "info" for f in fills)
    assert "2019年未收到政府信息公开申请" in fills[0].message
    assert [f for f in ex.findings if f.rule == "structure.missing_table"]  # the tables are still reported


def test_a_statement_about_review_only_leaves_the_suits_null() -> None:
    doc, ex = _report("四、行政复议、行政诉讼情况  本年度未发生因政府信息公开被申请行政复议的情况。", ["t4"], "2021")
    check(doc, ex)
    assert all(ex.cells[k].value == 0 for k in ex.cells if k.startswith("t4.review."))
    assert all(ex.cells[k].value is None for k in ex.cells if k.startswith("t4.suit"))


def test_a_stated_count_keeps_the_zero_statement_to_its_own_row() -> None:
    """未收到 new applications, but 上年结转 1 件: only the new_received row is settled."""
    text = "三、收到和处理申请情况  本年度未收到政府信息公开申请，上年结转申请 1 件，已办结。"
    doc, ex = _report(text, ["t3"], "2021")
    check(doc, ex)
    assert all(ex.cells[k].value == 0 for k in ex.cells if k.startswith("t3.new_received."))
    assert ex.cells["t3.carried_over.total"].value is None
    assert ex.cells["t3.granted.total"].value is None


def test_dropped_tables_with_counts_in_the_prose_stay_null() -> None:
    """d10: the crawler kept no table; 受理申请64件 is a claim, not a cell the prose settles."""
    doc, ex = _report("2019年，共受理政府信息公开申请64件，均按时答复。", ["t2", "t3", "t4"])
    check(doc, ex)
    assert all(c.value is None for c in ex.cells.values()) and not ex.uncertain
    assert not [f for f in ex.findings if f.rule == "fill.prose"]
    assert [c.value for c in ex.narrative] == [64]  # the narrative is still read in full


def test_a_printed_table_is_never_overwritten_by_the_prose() -> None:
    doc, ex = _report("本年度未收到政府信息公开申请。", [], "2021")
    ex.cells["t3.new_received.total"].value = 3
    check(doc, ex)
    assert not [f for f in ex.findings if f.rule == "fill.prose"]
    assert ex.cells["t3.granted.total"].value is None

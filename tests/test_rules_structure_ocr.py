"""Parse issues become findings; sections are checked for presence, order and an empty 五."""

from __future__ import annotations

from rules_support import extraction, gold, run

from nianbao.document import Document
from nianbao.models import issue

FIVE_SECTIONS = "一、总体情况\n正文。\n二、主动公开\n表\n三、收到和处理\n表\n四、复议诉讼\n表\n五、存在的主要问题及改进情况\n{five}\n六、其他需要报告的事项\n无\n"


def _doc_with_sections(five: str) -> tuple[Document, dict[str, tuple[int, int]]]:
    text = FIVE_SECTIONS.format(five=five)
    heads = ["一、", "二、", "三、", "四、", "五、", "六、"]
    starts = [text.index(h) for h in heads]
    ends = starts[1:] + [len(text)]
    return Document(name="r.txt", kind="txt", text=text), {h[0]: (s, e) for h, s, e in zip(heads, starts, ends, strict=True)}


def test_short_and_long_rows_are_structure_warnings_with_the_row_keys():
    ex = extraction(gold("003_9e368bcf3916d1f1"))
    keys = [f"t3.carried_forward.{c}" for c in ("natural_person", "business", "research", "nonprofit",
                                                  "legal_service", "other_org", "total")]
    ex.issues.append(issue("short_row", keys=keys, expected=7, found=6,
                                                                    label="四、结转下年度继续办理"))
    ex.issues.append(issue("long_row", keys=["t4.review.total"],
                                expected=15, found=16, extra=["0"]))
    fs = [f for f in run(ex) if f.rule == "structure.row_cells"]
    assert [f.category for f in fs] == ["structure", "structure"]
    assert "t3.carried_forward.total" in fs[0].keys and "应有 7 格，实印 6 格" in fs[0].message
    assert "多出" in fs[1].message and fs[1].found == 16 and "未采用：0" in fs[1].message


def test_split_ambiguous_merged_and_missing_table_issues():
    ex = extraction(gold("001_2343b6edbc9db73c"))
    ex.issues += [
        issue("split_cell", keys=["t3.granted.natural_person", "t3.granted.business"], detail="2|0 → 20"),
        issue("ambiguous_split", keys=["t3.new_received.natural_person"],
                   raw="1100011", options=[[1, 1, 0], [11, 0, 0]]),
        issue("merged_digits", keys=["t3.granted.total"], raw="230100024"),
        issue("missing_table", table="t4"),
        issue("missing_table", table="t4"),
    ]
    fs = {f.rule: f for f in run(ex)}
    assert fs["structure.split_cell"].severity == "warning" and "2|0 → 20" in fs["structure.split_cell"].message
    assert "2 种" in fs["structure.ambiguous_split"].message
    assert fs["structure.merged_digits"].severity == "info"
    assert "表四" in fs["structure.missing_table"].message
    assert len([f for f in run(ex) if f.rule == "structure.missing_table"]) == 1


def test_sections_missing_and_out_of_order():
    doc, sections = _doc_with_sections("加强培训。")
    ex = extraction(gold("001_2343b6edbc9db73c"))
    ex.sections = dict(sections)
    assert not [f for f in run(ex, doc) if f.rule.startswith("structure.section")]
    del ex.sections["六"]
    fs = [f for f in run(ex, doc) if f.rule == "structure.sections"]
    assert len(fs) == 1 and "缺少第六部分" in fs[0].message
    ex.sections = dict(sections)
    ex.sections["二"], ex.sections["三"] = sections["三"], sections["二"]
    fs = [f for f in run(ex, doc) if f.rule == "structure.sections"]
    assert len(fs) == 1 and "顺序" in fs[0].message


def test_no_headings_found_means_no_section_judgement():
    ex = extraction(gold("001_2343b6edbc9db73c"))
    assert not [f for f in run(ex, Document(name="r", kind="txt", text="x")) if f.rule == "structure.sections"]


def test_section_five_bare_or_empty():
    for five, fires in (("无", True), ("", True), ("无。", True), ("一是宣传不够。二是将加强培训。", False)):
        doc, sections = _doc_with_sections(five)
        ex = extraction(gold("001_2343b6edbc9db73c"))
        ex.sections = sections
        fs = [f for f in run(ex, doc) if f.rule == "structure.section_five_empty"]
        assert bool(fs) == fires, five


def test_ocr_repairs_one_finding_per_cell_from_issue_or_note():
    ex = extraction(gold("003_9e368bcf3916d1f1"))
    ex.issues.append(issue("ocr_repair", keys=["t2.punishment.decisions"], raw="O", value=0))
    ex.cells["t2.punishment.decisions"].note = "O→0"
    ex.cells["t2.punishment.decisions"].raw = "O"
    ex.cells["t2.coercion.decisions"].raw = "7 政强制 0"
    ex.cells["t2.coercion.decisions"].note = "7→行 (broken label)"
    fs = [f for f in run(ex) if f.category == "ocr"]
    assert sorted(k for f in fs for k in f.keys) == ["t2.coercion.decisions", "t2.punishment.decisions"]
    assert all(f.severity == "warning" for f in fs)
    assert any("印作“O”" in f.message for f in fs)


def test_low_confidence_digits_grouped_by_row():
    ex = extraction(gold("004_6f1ea477f42cf686"))
    ex.cells["t3.granted.natural_person"].confidence = 0.3
    ex.cells["t3.granted.total"].confidence = 0.4
    ex.issues.append(issue("low_confidence", keys=["t4.review.total"]))
    ex.cells["t3.new_received.business"].confidence = 0.2  # every identity vouches for it: no finding
    ex.cells["t3.granted.natural_person"].value += 1  # the row sum and the column no longer hold
    ex.cells["t4.review.upheld"].value += 1
    fs = [f for f in run(ex) if f.rule == "ocr.low_confidence"]
    assert sorted(map(tuple, (f.keys for f in fs))) == [
        ("t3.granted.natural_person", "t3.granted.total"), ("t4.review.total",)]
    assert "0.30" in " ".join(f.message for f in fs)


def test_stray_label_glyph_is_not_called_a_repaired_value():
    ex = extraction(gold("003_9e368bcf3916d1f1"))
    ex.issues.append(issue("ocr_repair", keys=["t3.partially_granted.natural_person"],
                                raw="1", stray=True))
    fs = [f for f in run(ex) if f.rule == "ocr.repair"]
    assert len(fs) == 1 and "不是数值" in fs[0].message and "读作" not in fs[0].message


def test_table_four_replaced_by_a_statement_is_info():
    ex = extraction(gold("001_2343b6edbc9db73c"))
    keys = [k for k in ex.cells if k.startswith("t4.")]
    ex.issues.append(issue("missing_table", keys=keys, detail="未发生行政复议、行政诉讼",
                                table="t4", zero_statement=True))
    fs = [f for f in run(ex) if f.rule == "structure.missing_table"]
    assert len(fs) == 1 and fs[0].severity == "info" and "以文字说明代替" in fs[0].message


def test_a_row_not_found_says_so():
    ex = extraction(gold("001_2343b6edbc9db73c"))
    ex.issues.append(issue("short_row", keys=["t3.granted.total"],
                                expected=7, found=0, label="（一）予以公开"))
    fs = [f for f in run(ex) if f.rule == "structure.row_cells"]
    assert len(fs) == 1 and "没有找到这一行" in fs[0].message


def test_a_cell_the_prose_settled_is_not_called_an_unsure_glyph():
    """The first reading of `10 2 2 1 15` left 总计 empty (confidence 0); the prose chose the reading
    that prints 15 there. That is a settled cut, not a digit OCR was unsure of."""
    from nianbao.models import Claim

    ex = extraction(gold("004_6f1ea477f42cf686"))
    keys = [f"t3.granted.{c}" for c in ("natural_person", "business", "research", "nonprofit", "legal_service",
                                        "other_org", "total")]
    row = [ex.cells[k].value for k in keys]
    wrong = row[:-1] + [None]
    ex.cells["t3.granted.total"].value, ex.cells["t3.granted.total"].confidence = None, 0.0
    ex.uncertain.append("t3.granted.total")
    ex.issues.append(issue("ambiguous_split", keys=["t3.granted.total"], row_keys=keys, options=[wrong, row],
                           label="（一）予以公开"))
    ex.facts = [Claim(value=row[-1], unit="件", kind="application", quote=f"予以公开 {row[-1]} 件",
                      subject="granted")]
    findings = run(ex)  # the settle stage writes the prose's choice before the checks
    assert [f.rule for f in findings if f.rule == "narrative.settle"]
    assert ex.cells["t3.granted.total"].value == row[-1] and ex.cells["t3.granted.total"].confidence >= 0.6
    assert not [f for f in findings if f.rule == "ocr.low_confidence"]

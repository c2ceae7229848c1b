"""The template parser on layouts the seeds don't show: built from the spec's own labels."""

from __future__ import annotations

import pytest

from nianbao.document import Document
from nianbao.extract.narrative.meta import read_meta
from nianbao.extract.parse.template_parser import parse_tables
from nianbao.spec import T3_COLUMNS, rows

T3_HEADER = "三、收到和处理政府信息公开申请情况\n申请人情况\n自然人\t商业企业\t科研机构\t社会公益组织\t法律服务机构\t其他\t总计\n"


def _t3_rows(template: str = "2021") -> list:
    return [r for r in rows(template) if r.table == "t3"]


def _zero_report(t3_lines: list[str], template: str = "2021", t4: str | None = None) -> Document:
    t2 = ("二、主动公开政府信息情况\n第二十条第（一）项\n信息内容\t本年制发件数\t本年废止件数\t现行有效件数\n规章\t0\t0\t0\n"
          "行政规范性文件\t0\t0\t0\n行政许可\t0\n行政处罚\t0\n行政强制\t0\n行政事业性收费\t0\n")
    t4 = t4 or ("四、政府信息公开行政复议、行政诉讼情况\n行政复议\t行政诉讼\n结果维持\t结果纠正\t其他结果\t尚未审结\t总计\n"
                + "\t".join(["0"] * 15) + "\n")
    text = ("某某县某某局2023年政府信息公开工作年度报告\n一、总体情况\n全年发布信息 10 条。\n" + t2 + T3_HEADER
            + "\n".join(t3_lines) + "\n" + t4 + "五、存在的主要问题及改进情况\n无。\n六、其他需要报告的事项\n无。\n")
    return Document(name="t.txt", kind="txt", text=text)


def _parse(doc: Document):
    return parse_tables(doc, read_meta(doc))


def _row_line(r, values: list[int], sep: str = "\t") -> str:
    parent = f"{r.parent}{sep}" if r.parent else ""
    return parent + r.label + sep + sep.join(str(v) for v in values)


def test_digit_run_is_split_by_the_row_sum():
    lines = []
    for r in _t3_rows():
        if r.row == "new_received":
            lines.append(r.label + "230100024")
        elif r.row == "granted":
            lines.append(_row_line(r, [23, 0, 1, 0, 0, 0, 24]))
        elif r.row == "total_processed":
            lines.append(_row_line(r, [23, 0, 1, 0, 0, 0, 24]))
        else:
            lines.append(_row_line(r, [0] * 7))
    ex = _parse(_zero_report(lines))
    got = [ex.cells[f"t3.new_received.{c}"].value for c in
           ("natural_person", "business", "research", "nonprofit", "legal_service", "other_org", "total")]
    assert got == [23, 0, 1, 0, 0, 0, 24]
    assert any(i.kind == "merged_digits" for i in ex.issues)
    assert "t3.new_received.natural_person" not in ex.uncertain


def test_empty_tab_fields_between_values_are_blank_cells_at_their_own_columns():
    """A tab row that prints `2<TAB><TAB>…<TAB>2` states five empty cells: they stay blank in place."""
    lines = []
    for r in _t3_rows():
        if r.row in ("new_received", "granted", "total_processed"):
            lines.append(r.label + "\t2\t\t\t\t\t\t2")
        else:
            lines.append(_row_line(r, [0] * 7))
    ex = _parse(_zero_report(lines))
    assert ex.cells["t3.new_received.natural_person"].value == 2
    assert ex.cells["t3.new_received.total"].value == 2
    assert ex.cells["t3.new_received.business"].value is None and ex.cells["t3.new_received.business"].note == "blank"
    blanks = {k for i in ex.issues if i.kind == "blank_cell" for k in i.keys}
    assert {f"t3.new_received.{c}" for c in ("business", "research", "nonprofit", "legal_service", "other_org")} <= blanks
    assert not [i for i in ex.issues if i.kind == "short_row"]


def test_vanished_blank_cells_keep_the_total_and_report_the_row():
    """Space-separated `2 2` for seven cells: the blanks vanished; the row is read as far as it goes."""
    lines = []
    for r in _t3_rows():
        if r.row in ("new_received", "granted", "total_processed"):
            lines.append(r.label + " 2 2")
        else:
            lines.append(_row_line(r, [0] * 7))
    ex = _parse(_zero_report(lines))
    assert ex.cells["t3.new_received.total"].value == 2
    assert ex.cells["t3.new_received.natural_person"].value == 2
    short = [i for i in ex.issues if i.kind == "short_row"]
    assert short and "t3.new_received.total" in short[0].keys


def test_split_cell_is_merged_when_it_makes_the_row_sum_hold():
    lines = []
    for r in _t3_rows():
        if r.row == "new_received":
            lines.append(r.label + "\t2\t0\t0\t0\t0\t0\t0\t20")
        elif r.row in ("granted", "total_processed"):
            lines.append(_row_line(r, [20, 0, 0, 0, 0, 0, 20]))
        else:
            lines.append(_row_line(r, [0] * 7))
    ex = _parse(_zero_report(lines))
    assert ex.cells["t3.new_received.natural_person"].value == 20
    assert [i.kind for i in ex.issues if "t3.new_received.natural_person" in i.keys] == ["split_cell"]


def test_one_cell_per_line_with_wrapped_labels_and_parent_labels():
    lines = []
    for r in _t3_rows():
        vals = [1, 0, 0, 0, 0, 0, 1] if r.row in ("new_received", "granted", "total_processed") else [0] * 7
        label = r.label
        wrapped = label[: len(label) // 2] + "\n" + label[len(label) // 2:] if len(label) > 8 else label
        if r.parent:
            lines.append(r.parent)
        lines.append(wrapped)
        lines.extend(str(v) for v in vals)
    ex = _parse(_zero_report(lines))
    assert ex.cells["t3.granted.natural_person"].value == 1
    assert ex.cells["t3.total_processed.total"].value == 1
    t3 = {k: c.value for k, c in ex.cells.items() if k.startswith("t3.")}
    assert all(v is not None for v in t3.values()), [k for k, v in t3.items() if v is None]


def test_numbers_on_the_middle_line_of_a_wrapped_label():
    lines = []
    for r in _t3_rows():
        vals = [3, 0, 0, 0, 0, 0, 3] if r.row in ("new_received", "partially_granted", "total_processed") else [0] * 7
        if r.row == "partially_granted":
            lab = r.label
            lines.append(lab[:8])
            lines.append(lab[8:14] + "\t" + "\t".join(map(str, vals)))
            lines.append(lab[14:])
        else:
            lines.append(_row_line(r, vals))
    ex = _parse(_zero_report(lines))
    assert ex.cells["t3.partially_granted.natural_person"].value == 3
    assert ex.cells["t3.denied.state_secret.natural_person"].value == 0
    assert not [i for i in ex.issues if i.kind in ("short_row", "long_row")]


def test_blank_markers_are_null_not_zero():
    lines = [_row_line(r, [0] * 7) if r.row != "carried_over" else r.label + "\t/\t/\t/\t/\t/\t/\t/"
             for r in _t3_rows()]
    ex = _parse(_zero_report(lines))
    assert ex.cells["t3.carried_over.total"].value is None
    assert ex.cells["t3.carried_over.total"].note == "blank"
    assert any(i.kind == "blank_cell" for i in ex.issues)


def test_single_other_processing_row_in_a_2021_table_is_a_template_mix():
    lines = []
    for r in _t3_rows():
        if r.row.startswith("other_processing."):
            if r.row.endswith("no_correction"):
                lines.append("（六）其他处理\t0\t0\t0\t0\t0\t0\t0")
            continue
        lines.append(_row_line(r, [0] * 7))
    ex = _parse(_zero_report(lines))
    assert ex.cells["t3.other_processing.unpaid_fee.total"].value == 0
    assert any(i.kind == "template_mix" for i in ex.issues)


@pytest.mark.parametrize("extra", [1, 2])
def test_table_four_with_extra_cells_is_read_and_reported(extra):
    t4 = ("四、政府信息公开行政复议、行政诉讼情况\n行政复议\t行政诉讼\n" + "\t".join(["0"] * (15 + extra)) + "\n")
    lines = [_row_line(r, [0] * 7) for r in _t3_rows()]
    ex = _parse(_zero_report(lines, t4=t4))
    assert ex.cells["t4.review.total"].value == 0
    assert any(i.kind == "long_row" for i in ex.issues)


def test_ocr_glyphs_are_repaired_and_label_debris_is_not_a_value():
    doc = _zero_report([_row_line(r, [0] * 7) for r in _t3_rows()])
    doc = Document(name="t.txt", kind="txt", text=doc.text.replace("行政处罚\t0", "行政处罚 O").replace(
        "行政强制\t0", "行政强制\t7 政强制 0"))
    ex = _parse(doc)
    assert ex.cells["t2.punishment.decisions"].value == 0
    assert ex.cells["t2.punishment.decisions"].raw == "O"
    assert ex.cells["t2.coercion.decisions"].value == 0
    kinds = {(i.kind, tuple(i.keys)) for i in ex.issues}
    assert ("ocr_repair", ("t2.punishment.decisions",)) in kinds
    assert ("ocr_repair", ("t2.coercion.decisions",)) in kinds


def test_every_cell_has_a_span_pointing_at_its_digits():
    lines = [_row_line(r, [0] * 7) for r in _t3_rows()]
    doc = _zero_report(lines)
    ex = _parse(doc)
    for k, c in ex.cells.items():
        assert c.span is not None, k
        assert doc.text[c.span.start:c.span.end] == c.raw


def test_2019_template_rows_are_read():
    t2 = ("二、主动公开政府信息情况\n第二十条第（一）项\n信息内容\t本年新制作数量\t本年新公开数量\t对外公开总数量\n"
          "规章\t1\t2\t3\n规范性文件\t4\t5\t6\n第二十条第（五）项\n信息内容\t上一年项目数量\t本年增/减\t处理决定数量\n"
          "行政许可\t7\t-1\t9\n其他对外管理服务事项\t0\t0\t0\n行政处罚\t0\t0\t0\n行政强制\t0\t0\t0\n"
          "第二十条第（八）项\n行政事业性收费\t2\t0\n第二十条第（九）项\n信息内容\t采购项目数量\t采购总金额\n政府集中采购\t35\t8403.5\n")
    lines = [_row_line(r, [0] * 7) for r in _t3_rows("2019")]
    text = ("某某县2020年政府信息公开工作年度报告\n一、总体情况\n" + t2 + T3_HEADER + "\n".join(lines)
            + "\n四、政府信息公开行政复议、行政诉讼情况\n" + "\t".join(["0"] * 15) + "\n五、存在的主要问题及改进情况\n无\n")
    doc = Document(name="t.txt", kind="txt", text=text)
    meta = read_meta(doc)
    assert meta.template == "2019" and meta.year == 2020
    ex = parse_tables(doc, meta)
    assert ex.cells["t2.licensing.change"].value == -1
    assert ex.cells["t2.procurement.amount_wan"].value == 8403.5
    assert ex.cells["t2.normative_doc.total_published"].value == 6
    assert ex.cells["t3.other_processing.total"].value == 0


def _crawled_2019(t2: str) -> Document:
    """A 2019-template report as a crawler gives it: table 二 glued into one line of digit runs."""
    lines = [_row_line(r, [0] * 7) for r in _t3_rows("2019")]
    text = ("某某县2020年政府信息公开工作年度报告\n一、总体情况\n二、主动公开政府信息情况" + t2 + "\n" + T3_HEADER
            + "\n".join(lines) + "\n四、政府信息公开行政复议、行政诉讼情况\n" + "\t".join(["0"] * 15)
            + "\n五、存在的主要问题及改进情况\n无\n")
    return Document(name="t.txt", kind="txt", text=text)


def test_2019_glued_rows_read_a_minus_as_the_change_column_sign():
    """`行政许可24-20`: the minus after 24 starts the 本年增/减 cell (24, -2, 0); it is not a date."""
    t2 = ("第二十条第（一）项信息内容本年新制作数量本年新公开数量对外公开总数量规章123规范性文件456"
          "第二十条第（五）项信息内容上一年项目数量本年增/减处理决定数量行政许可24-20其他对外管理服务事项71-100"
          "第二十条第（六）项信息内容上一年项目数量本年增/减处理决定数量行政处罚000行政强制000")
    doc = _crawled_2019(t2)
    meta = read_meta(doc)
    ex = parse_tables(doc, meta)
    assert meta.template == "2019"
    got = {k: ex.cells[k].value for k in ("t2.licensing.prev_year_items", "t2.licensing.change",
                                          "t2.licensing.decisions")}
    assert got == {"t2.licensing.prev_year_items": 24, "t2.licensing.change": -2, "t2.licensing.decisions": 0}
    assert [ex.cells[f"t2.other_admin_service.{c}"].value for c in ("prev_year_items", "change", "decisions")] \
        == [71, -10, 0]


def test_2019_rows_printed_in_the_2021_wording_are_found_whole():
    """A 2019-template report that prints 行政规范性文件 (the 2021 wording): the row before it keeps its
    digits (规章777 is 7, 7, 7), and 行政 is not text glued to them."""
    t2 = ("第二十条第（一）项信息内容本年新制作数量本年新公开数量对外公开总数量规章777行政规范性文件004"
          "第二十条第（五）项信息内容上一年项目数量本年增/减处理决定数量行政许可000其他对外管理服务事项000")
    doc = _crawled_2019(t2)
    ex = parse_tables(doc, read_meta(doc))
    assert [ex.cells[f"t2.regulation.{c}"].value for c in ("new_made", "new_published", "total_published")] \
        == [7, 7, 7]


def test_values_printed_above_their_label_are_given_to_it():
    """PDF text often puts a multi-line label's numbers on the line above it (vertically centred)."""
    lines = []
    for r in _t3_rows():
        vals = {"new_received": [5, 0, 0, 0, 0, 0, 5], "denied.state_secret": [2, 0, 0, 0, 0, 0, 2],
                "unable.not_held": [3, 0, 0, 0, 0, 0, 3], "total_processed": [5, 0, 0, 0, 0, 0, 5]}.get(
            r.row, [0] * 7)
        if r.row in ("denied.state_secret", "unable.not_held"):
            lines.append(" ".join(map(str, vals)))
            lines.append(r.label)
            if r.parent:
                lines.append(r.parent)
        else:
            lines.append(r.label + " " + " ".join(map(str, vals)))
    ex = _parse(_zero_report(lines))
    assert ex.cells["t3.denied.state_secret.natural_person"].value == 2
    assert ex.cells["t3.unable.not_held.total"].value == 3
    assert ex.cells["t3.partially_granted.total"].value == 0
    assert ex.cells["t3.denied.law_prohibited.total"].value == 0


def test_a_row_whose_label_was_lost_takes_the_surplus_and_is_reported():
    lines = []
    for r in _t3_rows():
        if r.row == "denied.third_party":
            lines[-1] += "\t" + "\t".join(["1", "0", "0", "0", "0", "0", "1"])
            continue
        vals = [1, 0, 0, 0, 0, 0, 1] if r.row in ("new_received", "total_processed") else [0] * 7
        lines.append(_row_line(r, vals))
    ex = _parse(_zero_report(lines))
    assert ex.cells["t3.denied.third_party.total"].value == 1
    assert ex.cells["t3.denied.security_stability.total"].value == 0
    moved = [i for i in ex.issues if i.kind == "moved_values"]
    assert moved and "t3.denied.third_party.total" in moved[0].keys


def test_an_ambiguous_digit_run_is_settled_by_the_narrative():
    from nianbao.models import Claim
    from nianbao.rules import run_rules

    lines = []
    for r in _t3_rows():
        if r.row in ("new_received", "granted", "total_processed"):
            lines.append(r.label + "110000011")  # 11,0,…,11 or 1,10,0,…,11: both hold every identity
        else:
            lines.append(_row_line(r, [0] * 7))
    ex = _parse(_zero_report(lines))
    assert "t3.new_received.natural_person" in ex.uncertain
    assert "t3.new_received.total" not in ex.uncertain  # 11 in every reading
    ex.facts = [Claim(value=1, unit="件", kind="application", quote="自然人申请 1 件", subject="natural_person")]
    settled = [f for f in run_rules(None, ex) if f.rule == "narrative.settle"]  # the settle stage applies it
    assert settled and settled[0].fill["t3.new_received.natural_person"] == 1
    assert ex.cells["t3.new_received.natural_person"].value == 1
    assert ex.cells["t3.new_received.business"].value == 10
    assert "t3.new_received.natural_person" not in ex.uncertain


def test_long_digit_runs_with_ocr_glyphs_split_all_the_way():
    lines = []
    for r in _t3_rows():
        if r.row == "new_received":
            lines.append(r.label + "15881317178")  # 158 8 1 3 1 7 178
        elif r.row == "carried_over":
            lines.append(r.label + "O000000")
        elif r.row == "denied.security_stability":
            lines.append(r.label + "0000011")  # the label ends in a closing quote
        elif r.row in ("granted", "total_processed"):
            lines.append(_row_line(r, [158, 8, 1, 3, 1, 7, 178] if r.row == "granted" else [158, 8, 1, 3, 1, 8, 179]))
        else:
            lines.append(_row_line(r, [0] * 7))
    ex = _parse(_zero_report(lines))
    assert [ex.cells[f"t3.new_received.{c}"].value for c in ("natural_person", "other_org", "total")] == [158, 7, 178]
    assert ex.cells["t3.carried_over.total"].value == 0
    assert ex.cells["t3.denied.security_stability.other_org"].value == 1


def test_an_ocr_glyph_in_a_run_right_after_a_closing_bracket_or_quote_is_repaired():
    """`（二）部分公开（…不计其他情形）2541I3337` and `“三安全一稳定”40l0005`: the bracket or quote glued
    to the run is punctuation, not part of the number, so the I and the l are read as 1."""
    lines = []
    for r in _t3_rows():
        if r.row == "partially_granted":
            lines.append(r.label + "2541I3337")  # 25 4 1 1 3 3 37
        elif r.row == "denied.security_stability":
            lines.append(r.label.replace("“", '"').replace("”", '"') + "40l0005")  # 4 0 1 0 0 0 5, ASCII quotes
        elif r.row in ("new_received", "total_processed"):
            lines.append(_row_line(r, [29, 4, 2, 1, 3, 3, 42]))
        else:
            lines.append(_row_line(r, [0] * 7))
    ex = _parse(_zero_report(lines))
    assert [ex.cells[f"t3.partially_granted.{c}"].value for c in T3_COLUMNS] == [25, 4, 1, 1, 3, 3, 37]
    assert [ex.cells[f"t3.denied.security_stability.{c}"].value for c in T3_COLUMNS] == [4, 0, 1, 0, 0, 0, 5]
    repaired = [i for i in ex.issues if i.kind == "ocr_repair" and not getattr(i, "stray", False)]
    assert {k for i in repaired for k in i.keys} >= {"t3.partially_granted.research",
                                                     "t3.denied.security_stability.research"}


def test_a_signed_change_with_an_ocr_glyph_is_repaired_with_its_sign():
    """2019 table 二 `行政处罚 5 -l4 9`: the l is a 1, and the minus stays the change's sign."""
    t2 = ("第二十条第（五）项信息内容 上一年项目数量 本年增/减 处理决定数量 行政许可 0 0 0 其他对外管理服务事项 0 0 0 "
          "第二十条第（六）项信息内容 上一年项目数量 本年增/减 处理决定数量 行政处罚 5 -l4 9 行政强制 0 0 0")
    doc = _crawled_2019(t2)
    ex = parse_tables(doc, read_meta(doc))
    assert [ex.cells[f"t2.punishment.{c}"].value for c in ("prev_year_items", "change", "decisions")] == [5, -14, 9]
    assert any(i.kind == "ocr_repair" and "t2.punishment.change" in i.keys for i in ex.issues)


def test_a_glyph_in_a_cut_run_is_named_at_the_cell_it_was_cut_into():
    """`二、上年结转…000O011` is cut 0/0/0/O/0/1/1: the O is 社会公益组织's, and the finding says so (it
    named the row's first cell, 自然人, and a second glyph in the same run was not reported)."""
    from nianbao.app.pipeline import process_document

    lines = []
    for r in _t3_rows():
        if r.row == "carried_over":
            lines.append(r.label + "000O011")
        elif r.row == "denied.state_secret":
            lines.append(r.label + "0O0o000")
        elif r.row in ("carried_forward", "new_received"):
            lines.append(_row_line(r, [0, 0, 0, 0, 0, 1, 1] if r.row == "carried_forward" else [0] * 7))
        else:
            lines.append(_row_line(r, [0] * 7))
    ex = process_document(_zero_report(lines))
    repairs = [f.message for f in ex.findings if f.rule == "ocr.repair"]
    assert any("上年结转" in m and "社会公益组织：印作“000O011”" in m for m in repairs), repairs
    secret = [m for m in repairs if "国家秘密" in m]
    assert len(secret) == 2 and any("商业企业" in m for m in secret) and any("社会公益组织" in m for m in secret)


def test_a_number_with_a_space_inside_one_cell_is_one_number():
    lines = []
    for r in _t3_rows():
        if r.row == "new_received":
            lines.append(r.label + "\t1 4\t0\t0\t0\t2\t19")  # 14 printed "1 4", other_org (3) lost
        elif r.row in ("granted", "total_processed"):
            lines.append(_row_line(r, [14, 0, 0, 0, 2, 3, 19]))
        else:
            lines.append(_row_line(r, [0] * 7))
    doc = _zero_report(lines)
    doc = Document(name="t.txt", kind="txt", text=doc.text.replace("行政事业性收费\t0", "行政事业性收费\t54. 5"))
    ex = _parse(doc)
    assert ex.cells["t3.new_received.natural_person"].value == 14
    assert ex.cells["t2.admin_fee.amount_wan"].value == 54.5


def test_rows_without_a_sum_keep_a_lost_cell_uncertain():
    doc = _zero_report([_row_line(r, [0] * 7) for r in _t3_rows()])
    doc = Document(name="t.txt", kind="txt", text=doc.text.replace("行政规范性文件\t0\t0\t0", "行政规范性文件\t4\t3"))
    ex = _parse(doc)
    assert {"t2.normative_doc.repealed", "t2.normative_doc.in_force"} <= set(ex.uncertain)
    assert any(i.kind == "short_row" and "t2.normative_doc.in_force" in i.keys for i in ex.issues)


def test_a_garbled_two_character_label_matches_only_the_row_expected_next():
    lines = [_row_line(r, [1, 0, 0, 0, 0, 0, 1] if r.row in ("new_received", "granted") else [0] * 7)
             if r.row != "total_processed" else "（七）总汁\t1\t0\t0\t0\t0\t0\t1" for r in _t3_rows()]
    ex = _parse(_zero_report(lines))
    assert ex.cells["t3.total_processed.total"].value == 1
    assert ex.cells["t3.other_processing.other.total"].value == 0


def test_a_contradiction_resting_on_an_uncertain_cell_is_only_info():
    from nianbao.app.pipeline import check

    lines = []
    for r in _t3_rows():
        if r.row in ("new_received", "granted", "total_processed"):
            lines.append(r.label + "110000011")
        else:
            lines.append(_row_line(r, [0] * 7))
    doc = _zero_report(lines)
    ex = _parse(doc)
    assert "t3.new_received.natural_person" in ex.uncertain
    ex.cells["t3.total_processed.natural_person"].value = 99  # now column identities fail
    ex = check(doc, ex)
    shaky = [f for f in ex.findings if f.category == "arithmetic" and "t3.new_received.natural_person" in f.keys]
    assert shaky and all(f.severity == "info" and "读法不确定" in f.message for f in shaky)

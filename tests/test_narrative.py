"""Narrative claims and facts: recall/precision against the gold, and the cases that must not count."""

from __future__ import annotations

import json
import re

import pytest
from conftest import EXAMPLES, load_gold, seed_names

from nianbao.document import Document
from nianbao.extract.narrative.claims import extract_claims, extract_facts
from nianbao.models import Claim, Extraction


def _doc(text: str, name: str = "t.txt") -> Document:
    return Document(name=name, kind="txt", text=text)


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _overlap(gold: str, pred: str) -> bool:
    """The independent scorer's rule: one quote inside the other, or most of gold's characters."""
    a, b = _squash(gold), _squash(pred)
    if a in b or b in a:
        return True
    return sum(1 for ch in set(a) if ch in b) / max(len(set(a)), 1) >= 0.6


def _match(gold: list[dict], pred: list[Claim]) -> dict[int, int]:
    """gold index → pred index, one to one: value equal and quotes overlap."""
    used: dict[int, int] = {}
    for gi, g in enumerate(gold):
        for pi, p in enumerate(pred):
            if pi not in used.values() and float(p.value) == float(g["value"]) and _overlap(g["quote"], p.quote):
                used[gi] = pi
                break
    return used


def _values(text: str) -> list[int | float]:
    return [c.value for c in extract_claims(_doc(text))]


# --- against the gold -------------------------------------------------------------------------

@pytest.mark.parametrize("name", seed_names())
def test_seed_recall_precision_kind_parent(name: str) -> None:
    gold = load_gold(name)["narrative"]
    text = (EXAMPLES / f"{name}.txt").read_text(encoding="utf-8")
    pred = extract_claims(_doc(text, name))
    m = _match(gold, pred)
    assert len(m) / len(gold) >= 0.95, [g["quote"] for i, g in enumerate(gold) if i not in m]
    assert len(m) / len(pred) >= 0.9, [p.quote for i, p in enumerate(pred) if i not in m.values()]
    for gi, pi in m.items():
        assert pred[pi].kind == gold[gi]["kind"], pred[pi].quote
        g_parent = gold[gi]["parent"]
        assert pred[pi].parent == (m.get(g_parent) if g_parent is not None else None), pred[pi].quote


@pytest.mark.slow
def test_real_pdf_narratives(shared_dir) -> None:
    """The three real PDFs (text as pdfplumber reads it): unseen-like wording, wrapped lines."""
    pdfplumber = pytest.importorskip("pdfplumber")
    matched = gold_n = pred_n = 0
    for gold_path in sorted((shared_dir / "reports" / "pdf").glob("*.gold.json")):
        gold = json.loads(gold_path.read_text(encoding="utf-8"))["narrative"]
        with pdfplumber.open(gold_path.with_name(gold_path.name.replace(".gold.json", ".pdf"))) as pdf:
            text = "\n".join(page.extract_text() or "" for page in pdf.pages)
        pred = extract_claims(_doc(text, gold_path.name))
        m = _match(gold, pred)
        matched, gold_n, pred_n = matched + len(m), gold_n + len(gold), pred_n + len(pred)
        for gi, pi in m.items():
            assert pred[pi].kind == gold[gi]["kind"], pred[pi].quote
            g_parent = gold[gi]["parent"]
            assert pred[pi].parent == (m.get(g_parent) if g_parent is not None else None), pred[pi].quote
    assert matched / gold_n >= 0.95 and matched / pred_n >= 0.9, (matched, gold_n, pred_n)


# --- what is not a claim ----------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "2023年1月1日至2023年12月31日，本机关工作正常开展。",
    "对主动公开的文件20个工作日内网上发布。",
    "在收到申请之日起15个工作日内予以答复，延期不超过3个月。",
    "按照《国务院办公厅关于印发〈政府信息公开信息处理费管理办法〉的通知》（国办函〔2020〕109 号）规定执行。",
    "依据《条例》第二十条第（一）项、第 20 条、第3次会议、第 2 期的规定公开。",
    "网站合格率为100%，考核得分提高 5 个百分点。",
    "投入资金 50 万元用于平台建设，购置设备 3000 元。",
    "服务热线12345全天候受理，电话：0517-83605210。",
])
def test_not_claims(text: str) -> None:
    assert _values(text) == []


def test_table_rows_are_skipped_without_the_parser() -> None:
    text = ("全年发布信息 12 条。\n"
            "行政处罚\t6\t0\t2\n"
            "规章 1 0 11\n"
            "予以公开\n5\n0\n0\n"
            "一、本年新收政府信息公开申请数量 | 6 | 0 | 0 | 0 | 0 | 0 | 6 |\n")
    assert _values(text) == [12]


def test_parser_table_sections_are_skipped() -> None:
    text = "全年发布信息 12 条。\n表格说明：本年受理 5 件。\n"
    start = text.index("表格")
    ex = Extraction(report="t", sections={"table:t3": (start, len(text))})
    assert [c.value for c in extract_claims(_doc(text), ex)] == [12]


# --- what a claim looks like ------------------------------------------------------------------

def test_quotes_are_exact_substrings_with_spans() -> None:
    text = "一、总体情况\n2023 年，我局全年共发布信息 1359 条。其中通过网站发布 806 条，通过微信发布 553 条。"
    doc = _doc(text)
    claims = extract_claims(doc)
    assert [c.value for c in claims] == [1359, 806, 553]
    for c in claims:
        assert c.span is not None and doc.text[c.span.start:c.span.end] == c.quote
        assert c.quote.endswith("条") and "2023" not in c.quote
    assert claims[0].quote == "我局全年共发布信息 1359 条"


def test_total_with_parts_and_nested_list() -> None:
    text = ("全年共发布信息 1359 条。其中通过微信公众平台发布信息 553 条。通过政府网站发布信息 806 条，"
            "其中概况信息 4 条，公告公示 34 条，村居信息 647 条。\n在便民服务大厅设立 10 个服务窗口。")
    claims = extract_claims(_doc(text))
    assert [(c.value, c.parent) for c in claims] == [
        (1359, None), (553, 0), (806, 0), (4, 2), (34, 2), (647, 2), (10, None)]
    assert [c.kind for c in claims[:6]] == ["published"] * 6
    assert claims[6].kind == "other" and claims[6].quote.endswith("服务窗口")


def test_parts_stop_at_another_total_and_at_另有() -> None:
    text = ("全市共受理政府信息公开申请 3119 件，答复 3050 件（含上年度结转申请 34 件，另有 103 件顺延到下年度答复）。"
            "政府信息公开行政复议 351 件，其中结果维持 72 件，结果纠正 64 件，其他结果 178 件，尚未审结 37 件；"
            "政府信息公开行政诉讼 46 件，其中结果维持 25 件，尚未审结 21 件。")
    claims = extract_claims(_doc(text))
    got = [(c.value, c.parent, c.kind, c.subject) for c in claims]
    assert got == [
        (3119, None, "application", "new_received"), (3050, None, "application", "total_processed"),
        (34, 1, "application", "carried_over"), (103, None, "application", "carried_forward"),
        (351, None, "other", "review"), (72, 4, "other", None), (64, 4, "other", None),
        (178, 4, "other", None), (37, 4, "other", None),
        (46, None, "other", "suit"), (25, 9, "other", None), (21, 9, "other", None),
    ]


def test_breakdowns_in_brackets_and_across_counting_units() -> None:
    text = ("全年主动公开政府信息2,345条，其中：规范性文件12件，政策解读35篇。"
            "本年度共收到政府信息公开申请15件（其中，自然人申请13件，法人或其他组织申请2件），上年结转2件。"
            "办理结果：予以公开8件，无法提供4件。")
    got = [(c.value, c.parent, c.kind, c.subject) for c in extract_claims(_doc(text))]
    assert got == [
        (2345, None, "published", None), (12, 0, "published", None), (35, 0, "published", None),
        (15, None, "application", "new_received"), (13, 3, "application", "natural_person"),
        (2, 3, "application", "legal_person"), (2, None, "application", "carried_over"),
        (8, None, "application", "granted"), (4, None, "application", "unable")]


def test_a_list_under_one_verb_shares_its_kind() -> None:
    text = "主动公开行政规范性文件 42 件，人事任免文件 106 件、其他文件 113 件。设立服务窗口 10 个。"
    claims = extract_claims(_doc(text))
    assert [(c.value, c.kind) for c in claims] == [
        (42, "published"), (106, "published"), (113, "published"), (10, "other")]
    assert claims[2].quote == "其他文件 113 件"


def test_a_part_in_another_unit_is_not_a_part() -> None:
    claims = extract_claims(_doc("共召开新闻发布会 3 场，其中发布信息 20 条。"))
    assert [(c.value, c.parent) for c in claims] == [(3, None), (20, None)]


def test_approximations_and_multipliers() -> None:
    claims = extract_claims(_doc("市政府网站主动公开各类政府信息 5500 余条，转载信息 1.2万条，开展培训近 30 次。"))
    assert [(c.value, c.unit) for c in claims] == [(5500, "条"), (1.2, "万条"), (30, "次")]
    assert isinstance(claims[0].value, int)
    assert all(c.confidence < 1 for c in claims[:1] + claims[2:]) and claims[1].confidence == 1


def test_a_multiplier_stays_in_the_unit_as_printed() -> None:
    """The gold writes 5.1万余人 as 5.1 万人 and 阅读量达106万 as 106 万 (d06, d14, d16 of the dev set)."""
    text = ("我厅微博、微信关注总量达5.1万余人，分享量达4万次，阅读量达106万，单篇阅读量最高达2万人次以上。"
            "接听电话总时长为3.6万小时。投入资金 50 万元，新建道路 3 万平方米，须在24小时内答复。")
    got = [(c.value, c.unit) for c in extract_claims(_doc(text))]
    assert got == [(5.1, "万人"), (4, "万次"), (106, "万"), (2, "万人次"), (3.6, "万小时")]


def test_a_clock_time_or_a_number_a_paragraph_away_from_its_unit_is_not_a_claim() -> None:
    """d02: 时间：2023-02-20 15:07 on the line above 本报告根据… is not 7 本."""
    text = "来源：平潭县人民政府 时间：2023-02-20 15:07\n本报告根据《条例》编制。全年发布信息 12 条。"
    assert _values(text) == [12]


def test_a_digit_run_is_never_a_count() -> None:
    """A flattened table can leave hundreds of digits before a unit: not a claim, never Infinity."""
    run = "1" * 500
    assert _values(f"主动公开信息{run}条，另发布信息 5 条。") == [5]
    assert _values("发布信息 1000000000001 条。") == []


def test_full_width_digits_and_line_wraps() -> None:
    text = "本年度主动公开政府信息１２３条，受理政府信息公开申请\n２１件。"
    doc = _doc(text)
    claims = extract_claims(doc)
    assert [(c.value, c.kind) for c in claims] == [(123, "published"), (21, "application")]
    assert claims[0].quote == "本年度主动公开政府信息１２３条"
    wrapped = _doc("2024 年，全市共受理政府信息公开申请 3119 件，答\n复 3050 件（含上年度结转申请 34 件）。")
    assert [_squash(c.quote) for c in extract_claims(wrapped)][1] == "答复3050件"


def test_subjects_from_the_template_vocabulary() -> None:
    text = ("本年度新收政府信息公开申请 12 件，其中自然人申请 10 件，法人或其他组织申请 2 件；"
            "予以公开 5 件，部分公开 3 件，不予公开 1 件，无法提供 2 件，不予处理 1 件。"
            "全年制发规范性文件 4 件，现行有效规范性文件 30 件，公开规章制度信息 3 条，行政处罚 6 件。")
    subjects = [(c.value, c.subject) for c in extract_claims(_doc(text))]
    assert subjects == [
        (12, "new_received"), (10, "natural_person"), (2, "legal_person"), (5, "granted"),
        (3, "partially_granted"), (1, "denied"), (2, "unable"), (1, "not_handled"),
        (4, "normative_issued"), (30, "normative_in_force"), (3, None), (6, "punishment")]


# --- facts ------------------------------------------------------------------------------------

def _facts(text: str) -> list[tuple[str | None, int | float, str]]:
    return [(f.subject, f.value, f.unit) for f in extract_facts(_doc(text))]


def test_zero_statements() -> None:
    assert _facts("2020年，我镇未收到政府信息公开申请，无依申请公开信息。") == [("new_received", 0, "件")]
    assert _facts("本年度未发生行政复议、行政诉讼情况。") == [("review", 0, "件"), ("suit", 0, "件")]
    assert _facts("本机关未被申请行政复议。") == [("review", 0, "件")]
    assert _facts("本年度未发生政府信息公开工作责任追究情况。") == []


def test_fee_statements_keep_which_fee() -> None:
    doc = _doc("2023 年未收取信息处理费。本年度没有产生行政事业性收费。全年收取政府信息公开信息处理费 3940 元。")
    facts = [f for f in extract_facts(doc) if f.subject == "fee"]
    assert [(f.value, f.unit) for f in facts] == [(0, "元"), (0, "元"), (3940, "元")]
    assert "信息处理费" in facts[0].quote and "行政事业性收费" in facts[1].quote
    for f in facts:
        assert doc.text[f.span.start:f.span.end] == f.quote
    # the table row 申请人逾期未按收费通知要求缴纳费用 is not a statement about fees
    assert _facts("2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请") == []


def test_handled_claims_need_applications_nearby() -> None:
    assert _facts("规范依申请公开程序，明确受理主体方式，全部按期办结。") == [("claims_handled", 1, "")]
    assert _facts("便民服务大厅各类事项均已办结。") == []
    # the applications are two paragraphs away: this 办结 is about the hotline
    text = "二是规范办理依申请公开。我局未收到政府信息公开申请。\n三是回应关切。办理热线工单 47 件，已全部办结。"
    assert [s for s, _, _ in _facts(text)] == ["new_received"]


def test_other_applications_are_not_disclosure_applications() -> None:
    assert _facts("全年未收到行政许可申请；全年未接到信息公开申请。") == [("new_received", 0, "件")]
    assert _facts("本年度未收到申请。") == [("new_received", 0, "件")]


def test_percentages_with_their_base() -> None:
    facts = extract_facts(_doc("本年度受理申请 6 件，予以公开 5 件，占 83.3%。网站合格率为 100%。"))
    pct = [(f.subject, f.value, f.unit) for f in facts if f.unit == "%"]
    assert pct == [("granted", 83.3, "%")]


def test_facts_reuse_the_extractions_claims() -> None:
    doc = _doc("予以公开 5 件，占 50%。")
    ex = Extraction(report="t", narrative=[Claim(value=5, unit="件", kind="application", quote="予以公开 5 件",
                                                 span=doc.span(0, 9), subject="granted")])
    assert [(f.subject, f.value) for f in extract_facts(doc, ex)] == [("granted", 50)]


def test_rules_backend_fills_claims_and_facts() -> None:
    from nianbao.extract import get_backend, read_document

    ex = get_backend("rules").extract(read_document(EXAMPLES / "004_6f1ea477f42cf686.txt"))
    assert len(ex.narrative) == len(load_gold("004_6f1ea477f42cf686")["narrative"])
    assert {f.subject for f in ex.facts} >= {"claims_handled", "fee"}
    # the parser's table spans hold no claim
    tables = [v for k, v in ex.sections.items() if k.startswith("table:")]
    assert all(not (s <= c.span.start < e) for c in ex.narrative for s, e in tables)


def test_long_clause_quotes_stay_short() -> None:
    text = "组织召开了“" + "春节前后服务企业用工专项活动" * 5 + "”等新闻发布会 12 场。"
    (claim,) = extract_claims(_doc(text))
    assert claim.value == 12 and len(claim.quote) <= 45 and claim.quote.endswith("新闻发布会 12 场")


def test_其中_far_from_a_claim_opens_nothing() -> None:
    text = ("全年共受理申请 5 件。加强队伍建设。其中重点培训 3 件。\n"
            "全年共发布信息 100 条。\n其中网站发布 60 条。")
    assert [(c.value, c.parent) for c in extract_claims(_doc(text))] == [(5, None), (3, None), (100, None), (60, None)]


def test_其中_reaches_back_to_the_whole_in_its_unit() -> None:
    text = "全年共举办 30 场新闻发布活动，领导出席发布会 12 人次。其中，专题发布会 8 场。"
    assert [(c.value, c.parent) for c in extract_claims(_doc(text))] == [(30, None), (12, None), (8, 0)]


def test_answering_other_requests_is_not_an_application_count() -> None:
    text = "全年答复网民留言 256 条，办结 12345 热线工单 47 件；答复政府信息公开申请 20 件。"
    got = [(c.value, c.kind, c.subject) for c in extract_claims(_doc(text))]
    assert got == [(256, "other", None), (47, "other", None), (20, "application", "total_processed")]


def test_ocr_look_alikes_inside_numbers() -> None:
    doc = _doc("全年发布信息 1O5 条，受理申请 2l 件。")
    claims = extract_claims(doc)
    assert [(c.value, c.confidence < 1) for c in claims] == [(105, True), (21, True)]
    assert claims[0].quote == "全年发布信息 1O5 条"  # the quote stays what the report prints


@pytest.mark.slow
def test_claims_survive_real_ocr(shared_dir) -> None:
    """Page 1 of a real report read by the bundled PP-OCR models: its gold claims are all found."""
    pdfium = pytest.importorskip("pypdfium2")
    rapidocr = pytest.importorskip("rapidocr_onnxruntime")
    gold_path = shared_dir / "reports" / "pdf" / "huaian_hongzequ_2023.gold.json"
    pdf = pdfium.PdfDocument(str(gold_path.with_name("huaian_hongzequ_2023.pdf")))
    result, _ = rapidocr.RapidOCR()(pdf[0].render(scale=2).to_pil())
    text = "\n".join(r[1] for r in result or [])
    on_page = [g for g in json.loads(gold_path.read_text(encoding="utf-8"))["narrative"]
               if _squash(g["quote"]) in _squash(text)]
    assert on_page, "the page should hold some of the gold claims"
    pred = extract_claims(_doc(text, "scan"))
    m = _match(on_page, pred)
    assert len(m) == len(on_page) and len(pred) == len(on_page), [p.quote for p in pred]
    assert all(pred[pi].kind == on_page[gi]["kind"] for gi, pi in m.items())


def test_a_bracket_after_a_count_breaks_it_down_unless_it_compares() -> None:
    text = "予以公开6件，不予公开1件（属于三类内部事务信息1件），无法提供5件。受理申请 5 件（较上年增加 2 件）。"
    got = [(c.value, c.parent, c.kind) for c in extract_claims(_doc(text))]
    assert got == [(6, None, "application"), (1, None, "application"), (1, 1, "application"),
                   (5, None, "application"), (5, None, "application"), (2, None, "application")]


def test_quotes_leave_out_a_leading_year() -> None:
    quotes = [c.quote for c in extract_claims(_doc("2023 年全区受理政府信息公开申请 21 件。\n2024年1-12月史庄镇发布信息 5 条。"))]
    assert quotes == ["全区受理政府信息公开申请 21 件", "史庄镇发布信息 5 条"]


def test_a_count_of_a_modified_noun_keeps_the_noun() -> None:
    """d15: 有 1 件涉及政府信息公开工作的行政复议 counts 行政复议, so the quote (and its subject) keeps it."""
    text = "2024 年市科委有 1 件涉及政府信息公开工作的行政复\n议，该行政复议件未被复议审查机关纠错。涉及的行政诉讼数为\n0 件。\n"
    claims = extract_claims(_doc(text))
    assert [(c.value, c.subject) for c in claims] == [(1, "review"), (0, "suit")]
    assert claims[0].quote.endswith("行政复\n议")
    assert [c.quote for c in extract_claims(_doc("发布信息 5 条涉及民生领域，另有 3 条。"))][0] == "发布信息 5 条"


# --- the prose settles table-二 digit runs (rules/settle.py, the settle stage) ---------------------------

_T2_ROW = ["t2.normative_doc.issued", "t2.normative_doc.repealed", "t2.normative_doc.in_force"]


def _cuts(run: str, parts: int = 3) -> list[list[int]]:
    """Every reading of a digit run as `parts` cells (no leading zeros), as the parser offers them."""
    if parts == 1:
        return [[int(run)]] if run and (run == "0" or run[0] != "0") else []
    return [[int(run[:i]), *rest] for i in range(1, len(run)) if run[:i] == "0" or run[0] != "0"
            for rest in _cuts(run[i:], parts - 1)]


def _settle(prose: str, run: str):
    from nianbao.models import CellReading, Meta, issue
    from nianbao.rules import apply_fills, run_rules

    doc = _doc(prose)
    options = _cuts(run)
    ex = Extraction(report="t", meta=Meta(year=2022, template="2021"))
    ex.cells = {k: CellReading(key=k, value=v) for k, v in zip(_T2_ROW, options[0], strict=True)}
    ex.uncertain = list(_T2_ROW)
    ex.issues = [issue("ambiguous_split", keys=list(_T2_ROW), detail="行政规范性文件",
                            row_keys=list(_T2_ROW), options=options)]
    ex.narrative = extract_claims(doc, ex)
    ex.facts = extract_facts(doc, ex)
    apply_fills(ex, run_rules(doc, ex))
    return [ex.cells[k].value for k in _T2_ROW], ex.uncertain


def test_the_prose_settles_a_table_two_run_d01() -> None:
    """d01: '8855698' has 15 cuts; 现行有效行政规范性文件698件 and 制发的规范性文件88件 leave 88/55/698."""
    prose = "设立规范性文件库，集中公开现行有效行政规范性文件698件，动态更新本年度制发的规范性文件88件。"
    assert _settle(prose, "8855698") == ([88, 55, 698], [])


def test_a_claim_no_reading_agrees_with_settles_nothing_but_the_others_still_do_d03() -> None:
    """d03: the prose says 现行有效 393 (no cut of '77132470' gives it) and 制发 77: 77 is settled, the rest stays open."""
    prose = "清理并集中发布现行有效行政规范性文件393件，动态更新本年度制发的规范性文件77件。"
    values, uncertain = _settle(prose, "77132470")
    assert values[0] == 77 and uncertain == _T2_ROW[1:]
    # the cells still open come from a reading the prose leaves, so the row is still one cut of its run
    # (settling 77 over the reading 7/7/132470 used to print 77/7/132470, nine digits from eight)
    assert "".join(str(v) for v in values) == "77132470"


def test_a_list_under_one_verb_names_the_cell_of_each_item_d16() -> None:
    """d16: 全年主动公开市政府规章 22 件、…行政规范性文件 34 件、人事任免文件 196 件: 公开 heads every item."""
    text = ("全年主动公开市政府规章 22 件、市政府及市政府办公厅行\n政规范性文件 34 件、人事任免文件 196 件、"
            "其他文件 84 件；召开新闻发布会 42 场。")
    got = [(c.value, c.subject) for c in extract_claims(_doc(text))]
    assert got == [(22, "regulation_issued"), (34, "normative_issued"), (196, None), (84, None), (42, None)]


def test_a_double_spaced_export_wraps_across_its_blank_lines() -> None:
    """Some PDF and Word exports put a blank line after every line: a sentence wrapped there is still one."""
    lines = ["（一）主动公开方面", "全年主动公开市政府规章 22 件、市政府及市政府办公厅行", "政规范性文件 34 件、人事任免文件 196 件。",
             "召开市政府新闻发布会 42 场，新闻通气会 19 场，有效增强政策", "发布的权威性。"] + [f"第{i}行说明文字。" for i in range(6)]
    claims = extract_claims(_doc("\n\n".join(lines) + "\n"))
    assert [(c.value, c.subject) for c in claims][:3] == [(22, "regulation_issued"), (34, "normative_issued"), (196, None)]
    assert claims[1].quote.startswith("市政府及市政府办公厅行")
    # the same two lines with single line breaks elsewhere: a blank line stays a paragraph break
    single = "\n".join(lines[:1] + lines[5:]) + "\n\n" + lines[1] + "\n\n" + lines[2] + "\n"
    assert [c.subject for c in extract_claims(_doc(single))][:2] == ["regulation_issued", None]


def test_a_number_alone_on_a_wrapped_line_keeps_the_unit_that_closes_its_clause() -> None:
    """d15 wrapped at a page width: `其中原创文章⏎ 294⏎篇，…` and `累计观看量 1924252⏎ 次，…` are counts; a unit that
    closes its clause does not open a paragraph. A unit word opening the next paragraph still parts them."""
    text = ("“上海科技”微信公众号共编发文章 1640 篇，其中原创文章\n 294\n篇，微信公众号目前关注人数达 1016823 人；"
            "累计观看量 1924252\n 次，粉丝数较多。\n")
    assert [c.value for c in extract_claims(_doc(text))] == [1640, 294, 1016823, 1924252]
    assert [c.value for c in extract_claims(_doc("本年度共召开会议 12\n\n次日起施行新的制度。\n"))] == []


def test_an_item_with_a_verb_of_its_own_keeps_its_own_cell() -> None:
    text = "本年制发规章 2 件、规范性文件 5 件，废止规范性文件 3 件、规章 1 件。"
    got = [(c.value, c.subject) for c in extract_claims(_doc(text))]
    assert got == [(2, "regulation_issued"), (5, "normative_issued"), (3, "normative_repealed"),
                   (1, "regulation_repealed")]


def test_a_part_of_a_cleanup_list_settles_the_repealed_cell_d09() -> None:
    """d09: '1153' with 对53件规范性文件进行清理，其中…1件予以废止或宣布失效 → 1/1/53."""
    prose = "对53件文件规范性文件进行清理，其中49件保留、3件列入限期修改、1件予以废止或宣布失效。"
    assert _settle(prose, "1153") == ([1, 1, 53], [])


@pytest.mark.parametrize("prose", [
    "本年制发政策性文件 8 件，现行有效政策性文件 11 件。",  # 政策性文件 is not 行政规范性文件
    "全年更新科技法律法规、政策解读、规范性文件20余件。",  # an approximate figure pins nothing
    "清理党内规范性文件 8 件。",
])
def test_words_that_are_not_the_cell_settle_nothing(prose: str) -> None:
    values, uncertain = _settle(prose, "81153")
    assert uncertain == _T2_ROW


def test_two_subjects_joined_by_及_are_one_claim_about_both() -> None:
    """d03/d16: 予以公开及部分公开 42 件 counts 予以公开 + 部分公开 (the table's two rows)."""
    text = "办结依申请公开81件，其中予以公开及部分公开42件，不予公开5件，无法提供31件。"
    got = [(c.value, c.subject) for c in extract_claims(_doc(text))]
    assert got == [(81, "total_processed"), (42, "granted+partially_granted"), (5, "denied"), (31, "unable")]


def test_a_statement_about_outcomes_is_not_a_zero_count() -> None:
    """d16: 全年未发生因依申请公开被行政复议纠错或行政诉讼败诉情形 — there were 55 reviews, none lost."""
    text = "其他处理 319 件。全年未发生因依申请公开被行政复议纠错或\n行政诉讼败诉情形。"
    assert [c for c in extract_facts(_doc(text)) if c.value == 0] == []
    zero = extract_facts(_doc("2019年未发生涉及政府信息公开的行政复议、行政诉讼案件。"))
    assert sorted(c.subject for c in zero) == ["review", "suit"]


# --- one-line reports: tables are character spans, not lines ------------------------------------

ONE_LINE = ("一、总体情况 2022年全区共主动公开政府信息14571条。收到政府信息公开申请75件，涉及自然人72件、商业企业3件。"
            " 二、主动公开政府信息情况第二十条第（一）项 信息内容 本年制发件数 规章000行政规范性文件8855698"
            "第二十条第（八）项行政事业性收费9116.36 三、收到和处理政府信息公开申请情况 一、本年新收政府信息公开申请数量"
            " 713000074 四、行政复议 0 1 1 0 2 1 0 0 0 1 0 0 0 0 0 五、存在的主要问题及改进情况 全年共组织4次检查通报，"
            "推进3轮督促整改工作。")


def test_a_one_line_report_is_read_around_its_table_spans() -> None:
    """d01/d03: the whole body is one line; the parser's table span (set by hand here) is skipped, the rest read."""
    start = ONE_LINE.index("二、主动公开")
    end = ONE_LINE.index(" 五、")
    ex = Extraction(report="t", sections={"table:t2": (start, ONE_LINE.index(" 三、")),
                                          "table:t3": (ONE_LINE.index(" 三、") + 1, ONE_LINE.index(" 四、")),
                                          "table:t4": (ONE_LINE.index(" 四、") + 1, end)})
    claims = extract_claims(_doc(ONE_LINE), ex)
    assert [c.value for c in claims] == [14571, 75, 72, 3, 4, 3]
    assert all(not (start <= c.span.start < end) for c in claims if c.span)


def test_without_the_parser_only_the_number_runs_of_a_prose_line_are_table() -> None:
    """A prose line is never masked whole: the claims before and after a spaced number run survive."""
    values = _values(ONE_LINE)
    assert values[:4] == [14571, 75, 72, 3] and values[-2:] == [4, 3]
    text = "全年发布信息 12 条，行政复议 0 1 1 0 2 1 0 0 0 1 0 0 0 0 0 件，另发布通知 3 条。"
    assert _values(text) == [12, 3]


def test_parts_after_涉及_and_after_a_closed_percentage_bracket() -> None:
    """d01: 收到申请75件，涉及自然人72件、商业企业3件; d15: …纠错。涉及的行政诉讼数为 0 件 opens nothing."""
    got = [(c.value, c.parent) for c in extract_claims(_doc("全区收到政府信息公开申请75件，涉及自然人72件、商业企业3件。"))]
    assert got == [(75, None), (72, 0), (3, 0)]
    text = "有 1 件涉及政府信息公开工作的行政复议，该复议件未被纠错。涉及的行政诉讼数为 0 件。"
    assert [(c.value, c.parent) for c in extract_claims(_doc(text))] == [(1, None), (0, None)]


def test_a_其中_list_after_a_bracketed_含_part_and_a_hard_wrap_d16() -> None:
    """d16 (PDF text): 办结 1191 件（含上年结转 189 件）…其中，予以公开及部\\n分公开 208 件（17.46%），不予公开 20 件…
    The 其中 list is the breakdown of 1191 (208 + 20 + 564 + 80 + 319 = 1191); 189 overlaps it."""
    text = ("市政府共受理政府信息公开申请 1295 件，办结 1191 件（含\n上年结转 189 件），均在法定期限内答复。其中，予以公开及部\n"
            "分公开 208 件（17.46%），不予公开 20 件（1.68%），因本机关\n不掌握等原因无法提供 564 件（47.36%），属信访、重复申请等\n"
            "不予处理 80 件（6.72%），其他处理 319 件（26.78%）。\n")
    got = [(c.value, c.parent) for c in extract_claims(_doc(text))]
    assert got == [(1295, None), (1191, None), (189, None), (208, 1), (20, 1), (564, 1), (80, 1), (319, 1)]

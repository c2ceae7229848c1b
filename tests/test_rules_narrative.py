"""Prose against the tables and against itself."""

from __future__ import annotations

from rules_support import extraction, gold, run

from nianbao.document import Document
from nianbao.models import Claim
from nianbao.rules.narrative import subject_keys


def _claim(value, subject, quote, unit="件", kind="application"):
    return Claim(value=value, unit=unit, kind=kind, quote=quote, subject=subject)


def test_subject_patterns_expand_per_template():
    assert subject_keys("other_processing", "2019") == ["t3.other_processing.total"]
    assert subject_keys("other_processing", "2021") == [
        "t3.other_processing.no_correction.total", "t3.other_processing.unpaid_fee.total",
        "t3.other_processing.other.total"]
    assert len(subject_keys("denied", "2021")) == 8
    assert subject_keys("regulation_issued", "2019") == ["t2.regulation.new_made"]
    assert subject_keys("regulation_issued", "2021") == ["t2.regulation.issued"]


def test_claim_matching_its_cells_is_silent_and_a_contradiction_is_flagged_once():
    ex = extraction(gold("004_6f1ea477f42cf686"))
    ex.narrative.append(_claim(6, "new_received", "新收政府信息公开申请数量 6 件"))
    assert not [f for f in run(ex) if f.category == "narrative_mismatch"]
    ex.narrative.append(_claim(8, "new_received", "共受理申请8件"))
    ex.narrative.append(_claim(8, "new_received", "共受理申请8件"))
    fs = [f for f in run(ex) if f.category == "narrative_mismatch"]
    assert len(fs) == 1 and fs[0].keys == ["t3.new_received.total"]
    assert (fs[0].expected, fs[0].found) == (6, 8) and "共受理申请8件" in fs[0].message


def test_sub_rows_legal_persons_and_table_two_and_four():
    ex = extraction(gold("004_6f1ea477f42cf686"))
    ex.narrative += [
        _claim(1, "unable", "无法提供1件"),  # 1 = sum of the three 无法提供 sub-rows
        _claim(6, "natural_person", "自然人申请6件"),
        _claim(0, "legal_person", "法人或其他组织申请0件"),
        _claim(6, "punishment", "行政处罚6件", kind="published"),
    ]
    assert not [f for f in run(ex) if f.category == "narrative_mismatch"]
    ex.narrative += [_claim(2, "review", "行政复议2件", kind="other"),
                     _claim(3, "licensing", "行政许可3件", kind="published")]
    fs = [f for f in run(ex) if f.category == "narrative_mismatch"]
    assert sorted(k for f in fs for k in f.keys) == ["t2.licensing.decisions", "t4.review.total"]


def test_suit_claim_adds_both_suit_groups():
    ex = extraction(gold("001_2343b6edbc9db73c"))
    ex.cells["t4.suit_direct.upheld"].value = ex.cells["t4.suit_direct.total"].value = 2
    ex.cells["t4.suit_after_review.pending"].value = ex.cells["t4.suit_after_review.total"].value = 1
    ex.narrative.append(_claim(3, "suit", "行政诉讼3件", kind="other"))
    assert not [f for f in run(ex) if f.category == "narrative_mismatch"]


def test_approximate_claims_allow_their_slack():
    ex = extraction(gold("004_6f1ea477f42cf686"))
    ex.cells["t2.punishment.decisions"].value = 5520
    ex.narrative.append(_claim(5500, "punishment", "行政处罚5500余件", kind="published"))
    assert not [f for f in run(ex) if f.category == "narrative_mismatch"]
    ex.cells["t2.punishment.decisions"].value = 5400
    assert [f.rule for f in run(ex) if f.category == "narrative_mismatch"] == ["narrative.table"]


def test_zero_statements_against_nonzero_tables():
    ex = extraction(gold("004_6f1ea477f42cf686"))
    ex.facts.append(_claim(0, "new_received", "未收到政府信息公开申请"))
    fs = [f for f in run(ex) if f.category == "narrative_mismatch"]
    assert len(fs) == 1 and "未发生/没有" in fs[0].message and fs[0].expected == 6
    ex = extraction(gold("000_6ca0fa42e399edc3"))
    ex.facts.append(_claim(0, "new_received", "未收到政府信息公开申请"))
    ex.facts.append(_claim(0, "review", "未发生行政复议", kind="other"))
    assert not [f for f in run(ex) if f.category == "narrative_mismatch"]


def test_processing_fee_is_not_compared_with_table_two_fee():
    ex = extraction(gold("004_6f1ea477f42cf686"))
    ex.cells["t2.admin_fee.amount_wan"].value = 96171.6
    ex.facts.append(_claim(0, "fee", "全年收取政府信息公开信息处理费0元", unit="元", kind="other"))
    assert not [f for f in run(ex) if f.category == "narrative_mismatch"]
    ex.facts.append(_claim(0, "fee", "本年度未收取行政事业性收费", unit="万元", kind="other"))
    assert [f.keys for f in run(ex) if f.category == "narrative_mismatch"] == [["t2.admin_fee.amount_wan"]]


def test_percentages_against_their_base():
    ex = extraction(gold("004_6f1ea477f42cf686"))  # granted 5 of 6 handled
    ex.facts.append(_claim(83.3, "granted", "予以公开占83.3%", unit="%"))
    assert not [f for f in run(ex) if f.rule == "narrative.percent"]
    ex.facts.append(_claim(50, "granted", "予以公开率50%", unit="%"))
    fs = [f for f in run(ex) if f.rule == "narrative.percent"]
    assert len(fs) == 1 and fs[0].expected == 83.3 and "5 / 6" in fs[0].message


def test_handled_claim_with_no_applications():
    ex = extraction(gold("000_6ca0fa42e399edc3"))
    ex.facts.append(_claim(1, "claims_handled", "全部按期办结"))
    fs = [f for f in run(ex) if f.rule == "narrative.handled_without_applications"]
    assert len(fs) == 1 and fs[0].category == "narrative_mismatch"
    ex = extraction(gold("004_6f1ea477f42cf686"))
    ex.facts.append(_claim(1, "claims_handled", "全部按期办结"))
    assert not [f for f in run(ex) if f.rule == "narrative.handled_without_applications"]


def test_parts_that_miss_their_whole():
    fs = [f for f in run(extraction(gold("004_6f1ea477f42cf686"))) if f.category == "narrative_sum"]
    assert len(fs) == 1 and (fs[0].expected, fs[0].found) == (806, 771)
    assert "13 项" in fs[0].message


def _family(whole, parts, text=None):
    ex = extraction(gold("001_2343b6edbc9db73c"))
    ex.narrative = [Claim(value=whole, unit="条", kind="published", quote=f"共发布{whole}条")]
    ex.narrative += [Claim(value=v, unit="条", kind="published", quote=f"类{i} {v} 条", parent=0)
                     for i, v in enumerate(parts)]
    doc = Document(name="r", kind="txt", text=text) if text else None
    return [f for f in run(ex, doc) if f.category == "narrative_sum"]


def test_parts_more_than_whole_always_fire_less_only_when_listed_as_complete():
    assert _family(10, [6, 5])  # more than the whole
    assert _family(10, [3, 4, 1])  # a long list read as the whole's breakdown
    assert not _family(10, [3])  # one part alone: 其中 A 3 条
    assert not _family(10, [3, 4])  # two main channels named: 其中网站3条、微信4条
    assert not _family(10, [4, 6])
    assert not _family(10, [4, 5, 1])
    text = "共发布10条，其中类0 3 条、类1 4 条、类2 1 条等。"
    assert not _family(10, [3, 4, 1], text)  # a list ending in 等 is open


def test_gold_narrative_of_every_seed_raises_no_sum_finding_but_004():
    from rules_support import gold_names
    hits = {n for n in gold_names() if [f for f in run(extraction(gold(n))) if f.category == "narrative_sum"]}
    assert hits == {"004_6f1ea477f42cf686"}


def test_a_part_under_a_whole_of_the_same_subject_is_not_compared_as_the_total():
    ex = extraction(gold("001_2343b6edbc9db73c"))
    ex.cells["t4.review.upheld"].value = 72
    ex.cells["t4.review.other"].value = 279
    ex.cells["t4.review.total"].value = 351
    ex.narrative = [_claim(351, "review", "政府信息公开行政复议351件", kind="other"),
                    Claim(value=72, unit="件", kind="other", quote="其中结果维持72件", parent=0, subject="review")]
    assert not [f for f in run(ex) if f.category == "narrative_mismatch"]


def test_fee_claim_in_yuan_is_compared_in_wan():
    ex = extraction(gold("004_6f1ea477f42cf686"))
    ex.cells["t2.admin_fee.amount_wan"].value = 38.6
    ex.facts.append(_claim(386000, "fee", "收取行政事业性收费386000元", unit="元", kind="other"))
    assert not [f for f in run(ex) if f.category == "narrative_mismatch"]
    ex.cells["t2.admin_fee.amount_wan"].value = 40
    fs = [f for f in run(ex) if f.category == "narrative_mismatch"]
    assert len(fs) == 1 and fs[0].found == 38.6


def test_two_subjects_joined_count_together():
    """d16: 予以公开及部分公开 208 件 is 予以公开 + 部分公开, not 部分公开 alone."""
    ex = extraction(gold("004_6f1ea477f42cf686"))
    granted = ex.cells["t3.granted.total"].value
    ex.cells["t3.partially_granted.total"].value = 2
    both = granted + 2
    ex.narrative.append(_claim(both, "granted+partially_granted", f"予以公开及部分公开 {both} 件"))
    assert not [f for f in run(ex) if f.category == "narrative_mismatch"]
    ex.narrative[-1] = _claim(both + 5, "granted+partially_granted", f"予以公开及部分公开 {both + 5} 件")
    fs = [f for f in run(ex) if f.category == "narrative_mismatch"]
    assert len(fs) == 1 and fs[0].keys == ["t3.granted.total", "t3.partially_granted.total"]
    assert "予以公开及部分公开" in fs[0].message and fs[0].expected == both


def test_a_multiplied_claim_is_not_compared_unscaled():
    """1.2万件 (value 1.2, unit 万件) against a table of 12000 agrees."""
    ex = extraction(gold("004_6f1ea477f42cf686"))
    ex.cells["t2.punishment.decisions"].value = 12000
    ex.narrative.append(_claim(1.2, "punishment", "行政处罚1.2万件", unit="万件", kind="published"))
    assert not [f for f in run(ex) if f.category == "narrative_mismatch"]
    ex.cells["t2.punishment.decisions"].value = 12345  # 1.2万 is a rounded figure: ±500
    assert not [f for f in run(ex) if f.category == "narrative_mismatch"]
    ex.cells["t2.punishment.decisions"].value = 1200
    assert [f.found for f in run(ex) if f.category == "narrative_mismatch"] == [12000]

"""Fills the identities force, blanks they don't, and the bounds every count respects."""

from __future__ import annotations

from rules_support import extraction, gold, run

from nianbao.app.pipeline import check
from nianbao.models import issue


def _missing(ex, key, note="missing"):
    ex.cells[key].value = None
    ex.cells[key].note = note


def test_missing_cell_is_filled_when_identities_agree_and_the_finding_says_so():
    ex = extraction(gold("003_9e368bcf3916d1f1"))
    _missing(ex, "t3.carried_forward.total")
    fs = [f for f in run(ex) if f.rule == "fill.identity"]
    assert len(fs) == 1 and fs[0].fill == {"t3.carried_forward.total": 0}
    assert "已补入" in fs[0].message and "一+二=三+四" in fs[0].message and "各申请人列之和=总计" in fs[0].message
    assert fs[0].severity == "info"


def test_pipeline_check_writes_the_fill_into_cells():
    ex = extraction(gold("004_6f1ea477f42cf686"))
    _missing(ex, "t3.total_processed.natural_person")
    check(None, ex)
    cell = ex.cells["t3.total_processed.natural_person"]
    assert cell.value == 6 and cell.note == "filled by fill.identity" and cell.reader == "identity"


def test_fills_cascade_through_a_row_with_two_missing_cells():
    ex = extraction(gold("004_6f1ea477f42cf686"))
    _missing(ex, "t3.granted.natural_person")
    _missing(ex, "t3.granted.total")
    fills = {k: v for f in run(ex) if f.fill for k, v in f.fill.items()}
    assert fills == {"t3.granted.natural_person": 5, "t3.granted.total": 5}


def test_identities_that_disagree_hide_a_contradiction_and_fill_nothing():
    ex = extraction(gold("004_6f1ea477f42cf686"))
    _missing(ex, "t3.granted.natural_person")
    ex.cells["t3.granted.total"].value = 4  # row says 4, 自然人 column says 5
    fs = run(ex)
    assert not [f for f in fs if f.fill]
    conflict = [f for f in fs if f.rule == "fill.conflict"]
    assert len(conflict) == 1 and conflict[0].severity == "error"
    assert "t3.granted.natural_person" in conflict[0].keys and "矛盾" in conflict[0].message


def test_blank_no_identity_fixes_stays_null_with_info():
    ex = extraction(gold("001_2343b6edbc9db73c"))
    # a 2×2 square of blanks: every row and column identity through them has two unknowns
    square = [f"t3.{r}.{c}" for r in ("granted", "partially_granted") for c in ("business", "research")]
    for k in square:
        _missing(ex, k, "blank")
        ex.cells[k].raw = "/"
    ex.issues.append(issue("blank_cell", keys=square))
    fs = run(ex)
    assert not [f for f in fs if f.fill]
    blank = [f for f in fs if f.rule == "fill.blank"]
    assert len(blank) == 2 and {f.severity for f in blank} == {"info"} and "不按 0 计" in blank[0].message
    assert sorted(k for f in blank for k in f.keys) == sorted(square)
    assert "/" in blank[0].message
    check(None, ex)
    assert ex.cells["t3.granted.business"].value is None


def test_single_blank_is_filled_when_the_identities_fix_it():
    ex = extraction(gold("004_6f1ea477f42cf686"))
    _missing(ex, "t3.unable.not_held.natural_person", "blank")
    fs = run(ex)
    fills = [f for f in fs if f.fill]
    assert [f.fill for f in fills] == [{"t3.unable.not_held.natural_person": 1}]
    assert not [f for f in fs if f.rule == "fill.blank"]
    # "/" means none, yet the identities force 1: the fill is a warning, not mere documentation
    assert fills[0].severity == "warning" and "不符" in fills[0].message
    ex = extraction(gold("004_6f1ea477f42cf686"))
    _missing(ex, "t3.granted.research", "blank")
    assert [f.severity for f in run(ex) if f.fill] == ["info"]


def test_table_two_blank_is_never_filled():
    ex = extraction(gold("001_2343b6edbc9db73c"))
    _missing(ex, "t2.licensing.decisions", "blank")
    fs = run(ex)
    assert not [f for f in fs if f.fill]
    assert [f.keys for f in fs if f.rule == "fill.blank"] == [["t2.licensing.decisions"]]


def test_results_beyond_applications_break_the_bound_even_without_the_balance():
    ex = extraction(gold("004_6f1ea477f42cf686"))
    _missing(ex, "t3.carried_forward.total", "unreadable")
    _missing(ex, "t3.carried_forward.natural_person", "unreadable")
    for k in ("t3.total_processed.natural_person", "t3.total_processed.total", "t3.granted.natural_person",
              "t3.granted.total"):
        ex.cells[k].value += 3
    fs = [f for f in run(ex) if f.rule == "bounds.total_processed"]
    assert {f.keys[0] for f in fs} == {"t3.total_processed.natural_person", "t3.total_processed.total"}
    assert "大于可办理的申请数" in fs[0].message and fs[0].expected == 6 and fs[0].found == 9


def test_carried_forward_bound():
    ex = extraction(gold("001_2343b6edbc9db73c"))
    ex.cells["t3.carried_forward.other_org"].value = 2
    fs = [f for f in run(ex) if f.rule == "bounds.carried_forward"]
    assert [f.keys[0] for f in fs] == ["t3.carried_forward.other_org"]


def test_negative_and_fractional_counts():
    ex = extraction(gold("001_2343b6edbc9db73c"))
    ex.cells["t2.punishment.decisions"].value = -3
    ex.cells["t4.review.pending"].value = 1.5
    fs = {f.keys[0]: f for f in run(ex) if f.rule == "bounds.count"}
    assert set(fs) == {"t2.punishment.decisions", "t4.review.pending"}
    assert "负数" in fs["t2.punishment.decisions"].message and "整数" in fs["t4.review.pending"].message


def test_2019_change_may_be_negative_but_not_the_running_total():
    data = gold("002_17b0dc41428b3418")
    ex = extraction(data)
    ex.cells["t2.licensing.prev_year_items"].value = 5
    ex.cells["t2.licensing.change"].value = -2
    assert not [f for f in run(ex) if f.rule.startswith("bounds.")]
    ex.cells["t2.licensing.change"].value = -7
    fs = [f for f in run(ex) if f.rule.startswith("bounds.")]
    assert [f.rule for f in fs] == ["bounds.change"] and fs[0].found == -2


def test_fee_amount_may_be_decimal():
    ex = extraction(gold("001_2343b6edbc9db73c"))
    ex.cells["t2.admin_fee.amount_wan"].value = 96171.6
    assert not [f for f in run(ex) if f.rule == "bounds.count"]


def test_new_documents_cannot_outnumber_those_in_force_and_repealed():
    ex = extraction(gold("004_6f1ea477f42cf686"))
    ex.cells["t2.normative_doc.issued"].value = 3  # in force 2, repealed 0
    fs = [f for f in run(ex) if f.rule == "bounds.t2_in_force"]
    assert len(fs) == 1 and fs[0].keys[0] == "t2.normative_doc.issued" and fs[0].expected == 2
    ex.cells["t2.normative_doc.repealed"].value = 1
    assert not [f for f in run(ex) if f.rule == "bounds.t2_in_force"]


def test_procurement_money_needs_items():
    ex = extraction(gold("002_17b0dc41428b3418"))  # 35 items, 8403 万元
    assert not [f for f in run(ex) if f.rule == "bounds.amount_without_items"]
    ex.cells["t2.procurement.items"].value = 0
    fs = [f for f in run(ex) if f.rule == "bounds.amount_without_items"]
    assert len(fs) == 1 and fs[0].keys == ["t2.procurement.items", "t2.procurement.amount_wan"]


def test_a_missing_table_is_one_finding_not_a_blank_per_row():
    ex = extraction(gold("001_2343b6edbc9db73c"))
    for k, c in ex.cells.items():
        if k.startswith("t4."):
            c.value, c.note = None, "missing"
    ex.issues.append(issue("missing_table", table="t4"))
    fs = run(ex)
    assert not [f for f in fs if f.rule == "fill.blank"]
    assert [f.rule for f in fs if f.severity != "info"] == ["structure.missing_table"]


def test_a_fill_survives_a_round_trip_through_json():
    from nianbao.models import Extraction

    ex = extraction(gold("003_9e368bcf3916d1f1"))
    _missing(ex, "t3.carried_forward.total")
    check(None, ex)
    again = Extraction.from_contract(ex.to_contract())
    check(None, again)
    assert again.cells["t3.carried_forward.total"].value == 0
    kept = [f for f in again.findings if f.rule == "fill.kept"]
    assert [f.keys for f in kept] == [["t3.carried_forward.total"]] and "补入" in kept[0].message

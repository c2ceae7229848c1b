"""The identities: each fails loudly on a crafted error, stays silent on gold, and names its cells."""

from __future__ import annotations

import pytest
from rules_support import all_golds, allowed_categories, extraction, gold, run, serious

from nianbao.identities import identities


def _bump(data: dict, key: str, by: float = 1) -> object:
    ex = extraction(data)
    ex.cells[key].value = (ex.cells[key].value or 0) + by
    return ex


@pytest.mark.parametrize("data", all_golds(), ids=lambda d: d["report"])
def test_gold_raises_nothing_outside_expected_or_acceptable(data):
    cats = allowed_categories(data)
    bad = [f"{f.category}:{f.rule}:{f.message}" for f in serious(run(extraction(data))) if f.category not in cats]
    assert bad == []


def test_balance_names_the_column_and_states_the_arithmetic():
    ex = _bump(gold("004_6f1ea477f42cf686"), "t3.carried_over.natural_person")
    ex.cells["t3.carried_over.total"].value = 1  # keep the row sum true: only the column breaks
    fs = [f for f in run(ex) if f.rule == "arithmetic.balance"]
    assert [f.keys[0] for f in fs] == ["t3.new_received.natural_person", "t3.new_received.total"]
    assert "自然人列" in fs[0].message and "= 7" in fs[0].message and "= 6" in fs[0].message
    assert fs[0].severity == "error" and (fs[0].expected, fs[0].found) == (7, 6)


def test_row_sum_once_per_row_not_per_cell():
    data = gold("004_6f1ea477f42cf686")
    ex = _bump(data, "t3.granted.total", 2)
    fs = [f for f in run(ex) if f.rule == "arithmetic.row_sum"]
    assert len(fs) == 1 and "t3.granted.total" in fs[0].keys
    assert "予以公开" in fs[0].message


def test_result_sum_states_total_line():
    ex = _bump(gold("004_6f1ea477f42cf686"), "t3.total_processed.natural_person")
    ex.cells["t3.total_processed.total"].value = 7
    fs = [f for f in run(ex) if f.rule == "arithmetic.result_sum"]
    # one finding per failing column: 自然人 and 总计
    assert sorted(f.keys[-1] for f in fs) == ["t3.total_processed.natural_person", "t3.total_processed.total"]
    msg = fs[0].message
    assert "各办理结果之和" in msg and "表中（七）总计为 7" in msg and "其余 19 项均为 0" in msg


def test_t4_group_total_printed_zero_is_caught():
    ex = extraction(gold("001_2343b6edbc9db73c"))
    ex.cells["t4.review.upheld"].value = 10
    ex.cells["t4.review.corrected"].value = 1
    fs = [f for f in run(ex) if f.rule == "arithmetic.t4_sum"]
    assert len(fs) == 1 and fs[0].expected == 11 and fs[0].found == 0
    assert "行政复议" in fs[0].message


def test_split_cell_is_structure_not_arithmetic():
    ex = extraction(gold("001_2343b6edbc9db73c"))
    # a row printed 2|0 in two cells whose total reads 20: one two-digit number split in two
    ex.cells["t3.new_received.natural_person"].value = 2
    ex.cells["t3.new_received.total"].value = 20
    fs = run(ex)
    assert not [f for f in fs if f.rule == "arithmetic.row_sum"]
    split = [f for f in fs if f.rule == "structure.split_cell_sum"]
    assert len(split) == 1 and split[0].category == "structure"
    assert split[0].keys == ["t3.new_received.natural_person", "t3.new_received.business"]


def test_blank_on_one_side_cannot_rescue_an_overshoot():
    ex = extraction(gold("001_2343b6edbc9db73c"))
    ex.cells["t3.granted.natural_person"].value = 3
    ex.cells["t3.granted.business"].value = None  # a blank on the parts side
    fs = [f for f in run(ex) if f.rule == "arithmetic.blank_bound"]
    assert fs and all(f.severity == "error" for f in fs)
    assert any("t3.granted.total" in f.keys for f in fs)


@pytest.mark.slow
@pytest.mark.parametrize("data", all_golds(), ids=lambda d: d["report"])
@pytest.mark.parametrize("delta", [1, -1])
def test_injected_error_in_any_table_three_or_four_cell_is_caught(data, delta):
    missed = []
    for key in data["cells"]:
        ex = extraction(data)
        ex.cells[key].value = (ex.cells[key].value or 0) + delta
        if not any(key in f.keys and f.severity in ("error", "warning") for f in run(ex)):
            missed.append(key)
    identity_keys = {k for i in identities(data["meta"]["template"]) for k in i.keys}
    assert [k for k in missed if k in identity_keys] == []
    # table 二 has no identities: only bounds (and -1 on a zero) catch its cells
    assert all(k.startswith("t2.") for k in missed)
    if delta == -1:
        zeros = [k for k, v in data["cells"].items() if v == 0]
        assert not set(zeros) & set(missed)

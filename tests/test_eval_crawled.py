"""The crawled forms of the generated corpus and the independent judge of what their runs settle.

The judge (eval/ambiguity.py) is checked on the runs of the real dev reports, whose readings the
hand labels record (../shared/reports/dev/MANIFEST.tsv), and on generated reports, whose truth the
generator knows: the truth is always one of the readings it keeps, a cell it calls certain has one.
"""

from __future__ import annotations

import random
import re

import pytest

from nianbao.eval import ambiguity
from nianbao.eval.ambiguity import Verdict, cuts
from nianbao.eval.crawled import CRAWLED_LAYOUTS
from nianbao.eval.synth import SynthOptions, generate, make_report
from nianbao.eval.tables import random_cells
from nianbao.spec import T3_COLUMNS, t3_rows


def test_cuts_follow_each_cells_grammar():
    assert cuts("000", ["int"] * 3) == [(0, 0, 0)]
    assert cuts("0056", ["int"] * 3) == [(0, 0, 56)]  # no leading zeros: the first two are zeros
    assert (0, 34, 636) in cuts("0+34636", ["int", "signed", "int"])
    assert all(r[0] == 0 for r in cuts("0+34636", ["int", "signed", "int"]))  # the sign starts the change
    assert cuts("5-2", ["int", "signed"]) == [(5, -2)]
    amounts = cuts("102339.45", ["int", "decimal"])  # d06: 10 items, 2339.45 万元, or 102 and 339.45, …
    assert (10, 2339.45) in amounts and len(amounts) == 4 and all("." in str(r[1]) for r in amounts)
    assert cuts("12", ["int"] * 3) == []
    with pytest.raises(ValueError):
        cuts("1" * 200, ["int"] * 3)


def test_table2_runs_of_the_dev_reports():
    """d01 '8855698' is settled by the prose (88 issued, 698 in force); d07 '81153' has no prose: 3 keys open;
    d06 '0+34636' keeps 0 before the sign and leaves the change and the decisions open."""
    keys = ["t2.normative_doc.issued", "t2.normative_doc.repealed", "t2.normative_doc.in_force"]
    v = Verdict()
    ambiguity.table2_row(keys, "8855698", ["int"] * 3,
                         {"t2.normative_doc.issued": 88, "t2.normative_doc.in_force": 698}, v)
    assert v.uncertain == set()
    v = Verdict()
    ambiguity.table2_row(keys, "81153", ["int"] * 3, {}, v)
    assert v.uncertain == set(keys) and 53 in v.options["t2.normative_doc.in_force"]
    v = Verdict()
    ambiguity.table2_row(keys, "1153", ["int"] * 3, {"t2.normative_doc.repealed": 1}, v)  # d09: 1件予以废止
    assert v.uncertain == set()
    other = ["t2.other_admin_service.prev_year_items", "t2.other_admin_service.change",
             "t2.other_admin_service.decisions"]
    v = Verdict()
    ambiguity.table2_row(other, "0+34636", ["int", "signed", "int"], {}, v)
    assert v.uncertain == set(other[1:])
    assert v.options["t2.other_admin_service.change"] == [3, 34, 346, 3463]


def _zero_runs(template: str) -> dict[str, str]:
    return {r: "0" * len(T3_COLUMNS) for r in t3_rows(template)}


def test_table3_runs_the_column_identities_settle():
    """d01's rows: '713000074' alone could be 71|3|…|74 or 7|13|…; with every identity only one reading holds."""
    runs = _zero_runs("2021")
    runs.update(new_received="713000074", carried_over="1000001", granted="210000021",
                partially_granted="8100009", total_processed="723000075")
    runs["unable.not_held"] = "370000037"
    runs["other_processing.no_correction"] = "2000002"
    runs["other_processing.other"] = "0200002"
    runs["denied.internal_affairs"] = "1000001"
    runs["denied.process_info"] = "2000002"
    runs["denied.enforcement_file"] = "1000001"
    v = Verdict()
    ambiguity.table3("2021", runs, {}, v)
    assert v.uncertain == set() and not v.unreadable


def test_table3_run_left_open_when_no_identity_decides():
    """A row 一 whose run reads two ways that both balance the table, nothing in the prose: uncertain."""
    runs = _zero_runs("2021")
    run = "101000011"  # 10,1,0,0,0,0,11 or 1,0,10,0,0,0,11
    assert len([r for r in cuts(run, ["int"] * 7) if sum(r[:-1]) == r[-1]]) == 2
    runs["new_received"] = runs["total_processed"] = runs["granted"] = run
    v = Verdict()
    ambiguity.table3("2021", runs, {}, v)
    assert "t3.new_received.natural_person" in v.uncertain
    assert v.options["t3.new_received.natural_person"] == [1, 10]
    assert "t3.new_received.total" not in v.uncertain  # every reading agrees on the total
    # the prose's stated total is only a tie-breaker: it cannot pick between readings with the same total
    v2 = Verdict()
    ambiguity.table3("2021", runs, {"t3.new_received.total": 11}, v2)
    assert v2.uncertain == v.uncertain


def test_table3_printed_error_makes_the_row_unreadable():
    """d08's (七)总计 '20000011': no cut adds up."""
    runs = _zero_runs("2021")
    runs["total_processed"] = "20000011"
    v = Verdict()
    ambiguity.table3("2021", runs, {}, v)
    assert {f"t3.total_processed.{c}" for c in T3_COLUMNS} <= v.unreadable


def test_table4_runs():
    v = Verdict()
    ambiguity.table4("110024001510102", v)  # d03: 1,1,0,0,2 | 4,0,0,1,5 | 1,0,1,0,2
    assert not v.uncertain and not v.unreadable
    v = Verdict()
    ambiguity.table4("0" * 15, v)
    assert not v.uncertain
    v = Verdict()
    ambiguity.table4("1" * 200, v)  # too long to enumerate: all open, and it returns at once
    assert len(v.uncertain) == 15


@pytest.mark.slow
@pytest.mark.parametrize("layout", CRAWLED_LAYOUTS)
def test_crawled_gold_is_honest(layout):
    """Truth among the kept readings of every open cell; quotes in the text; no number broken across lines."""
    reports = generate(SynthOptions(n=60, seed=11, layouts=(layout,)))
    opened = 0
    for r in reports:
        g = r.gold
        for key, values in g["synth"].get("options", {}).items():
            assert key in g["uncertain"] and len(values) > 1
            assert g["cells"][key] in values, (r.name, key)
            opened += 1
        for claim in g["narrative"]:
            assert claim["quote"] in r.text, (r.name, claim["quote"])
        if layout == "pdf_md":
            assert not re.search(r"\d\n\d", r.text)
    if layout in ("crawl_line", "csv_cell"):
        assert opened  # some runs have several readings
    if layout == "dropped":
        assert all(all(v is None for v in r.gold["cells"].values()) for r in reports)


def test_prose_settles_the_runs_it_states():
    """A 规范性文件 run whose cells the prose states is certain; the same run unstated is not."""
    cells = random_cells("2021", random.Random(3))
    cells.update({"t2.normative_doc.issued": 8, "t2.normative_doc.repealed": 11, "t2.normative_doc.in_force": 53})
    meta = {"agency": "测试县城关镇", "year": 2023, "template": "2021"}
    seen = {True: 0, False: 0}
    for seed in range(40):
        rep = make_report("x", cells, meta, "crawl_line", random.Random(seed), features=set())
        stated = {c["value"] for c in rep.gold["narrative"] if "规范性文件" in c["quote"]}
        both = {8, 53} <= stated
        keys = {"t2.normative_doc.issued", "t2.normative_doc.repealed", "t2.normative_doc.in_force"}
        if both:
            assert not keys & set(rep.gold["uncertain"])
        elif not stated:
            assert keys <= set(rep.gold["uncertain"])
        seen[both] += 1
    assert seen[True] and seen[False]


def test_signed_change_in_2019_runs():
    cells = random_cells("2019", random.Random(5))
    cells.update({"t2.other_admin_service.prev_year_items": 0, "t2.other_admin_service.change": 34,
                  "t2.other_admin_service.decisions": 636})
    meta = {"agency": "测试县城关镇", "year": 2020, "template": "2019"}
    rep = make_report("x", cells, meta, "csv_cell", random.Random(1), features=set(), style={"t2_framed": False})
    assert "0+34636" in rep.text
    assert {"t2.other_admin_service.change", "t2.other_admin_service.decisions"} <= set(rep.gold["uncertain"])
    assert "t2.other_admin_service.prev_year_items" not in rep.gold["uncertain"]

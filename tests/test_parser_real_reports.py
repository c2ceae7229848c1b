"""The template parser on real published reports (../shared/reports/dev, third-party, read in place).

Each test is named after the real case a mechanism serves; the corpus-wide test holds the parser to
every hand-labelled cell, so a change that helps one layout and breaks another fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nianbao.extract import read_document
from nianbao.extract.narrative.meta import read_meta
from nianbao.extract.parse.template_parser import parse_tables


def _dev(shared_dir: Path) -> Path:
    return shared_dir / "reports" / "dev"


def _parse(path: Path):
    doc = read_document(path)
    return doc, parse_tables(doc, read_meta(doc))


def _gold(shared_dir: Path, stem: str) -> dict:
    return json.loads((_dev(shared_dir) / "gold" / f"{stem}.gold.json").read_text(encoding="utf-8"))


def _raw(shared_dir: Path, stem: str) -> Path:
    return next((_dev(shared_dir) / "raw").glob(stem + ".*"))


def _checked(path: Path):
    """The parser's reading with the identities' fills applied (what the contract's cells hold), no prose."""
    from nianbao.app.pipeline import check

    doc, ex = _parse(path)
    return check(doc, ex)


def _offered(ex, key: str, want) -> bool:
    """The parser's value, or — where it reported the row as ambiguous — one of its options."""
    if ex.cells[key].value == want:
        return True
    for issue in ex.issues:
        if issue.kind == "ambiguous_split" and key in issue.row_keys:
            i = issue.row_keys.index(key)
            if any(opt[i] == want for opt in issue.options):
                return True
    return False


def test_every_labelled_cell_of_the_real_dev_corpus(shared_dir):
    """Every cell a person could pin down is read, or offered among the options of an ambiguous run
    (a table-二 run only the prose can settle)."""
    missed = []
    for gold_path in sorted((_dev(shared_dir) / "gold").glob("*.gold.json")):
        stem = gold_path.name[: -len(".gold.json")]
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        ex = _checked(_raw(shared_dir, stem))
        skip = set(gold.get("uncertain") or [])
        for key, want in gold["cells"].items():
            if key not in skip and not _offered(ex, key, want):
                missed.append(f"{stem} {key}: gold {want}, read {ex.cells[key].value}")
    assert not missed, "\n".join(missed)


def test_d01_crawler_body_on_one_line_with_tables_flattened_into_digit_runs(shared_dir):
    doc, ex = _parse(_raw(shared_dir, "d01_pingtan_2022"))
    assert doc.text.count("\n") < 15  # the whole body is one line
    assert [ex.cells[f"t3.new_received.{c}"].value for c in ("natural_person", "business", "total")] == [71, 3, 74]
    # 00000002.其他法律…: the run ends before the next row's ordinal
    assert ex.cells["t3.unable.not_held.total"].value == 37
    assert [ex.cells[f"t4.review.{c}"].value for c in ("upheld", "corrected", "other", "pending", "total")] == \
        [0, 1, 1, 0, 2]
    assert {"table:t2", "table:t3", "table:t4"} <= set(ex.sections)
    t3 = ex.sections["table:t3"]
    assert doc.text[t3[0]:t3[0] + 8].startswith("一、本年新收") and doc.text[t3[1] - 7:t3[1]] == "0000000"


def test_d08_a_total_printed_wrong_stays_wrong(shared_dir):
    """（七）总计 printed `20000011`: no cut adds up, so the published 2 … 11 is kept for the rules to flag."""
    _, ex = _parse(_raw(shared_dir, "d08_hebei_kejiting_2022"))
    assert [ex.cells[f"t3.total_processed.{c}"].value for c in ("natural_person", "other_org", "total")] == [2, 0, 11]


def test_d07_a_row_that_prints_no_value_stays_null_and_is_reported(shared_dir):
    _, ex = _parse(_raw(shared_dir, "d07_hebei_kejiting_2021"))
    assert ex.cells["t2.coercion.decisions"].value is None
    assert any(i.kind == "short_row" and i.keys == ["t2.coercion.decisions"] for i in ex.issues)


def test_d06_table_two_runs_without_identities_are_uncertain_with_every_cut(shared_dir):
    """2019 table 二 `201956` (上一年项目数量, 本年增/减, 处理决定数量): no identity, no prose: all cuts stay."""
    _, ex = _parse(_raw(shared_dir, "d06_hebei_kejiting_2020"))
    issue = next(i for i in ex.issues if i.kind == "ambiguous_split" and "t2.licensing.decisions" in i.row_keys)
    assert [2, 0, 1956] in issue.options and len(issue.options) > 2
    assert "t2.licensing.decisions" in ex.uncertain
    assert ex.cells["t2.regulation.new_made"].value is None  # 规章 prints nothing before 规范性文件


@pytest.mark.parametrize("stem", ["d05_hebei_kejiting_2019", "d10_hebei_renshe_2019", "d12_hebei_renshe_2021"])
def test_tables_the_crawler_dropped_are_missing_not_invented(shared_dir, stem):
    _, ex = _parse(_raw(shared_dir, stem))
    assert not ex.tables_found
    assert {i.table for i in ex.issues if i.kind == "missing_table"} == {"t2", "t3", "t4"}
    assert all(c.value is None for c in ex.cells.values())


def test_d15_rows_torn_from_their_labels_are_read_in_template_order(shared_dir):
    """PDF→markdown: labels and numbers printed apart; the numbers keep the template's row order."""
    _, ex = _parse(_raw(shared_dir, "d15_shanghai_kewei_2024"))
    gold = _gold(shared_dir, "d15_shanghai_kewei_2024")
    t3 = {k: v for k, v in gold["cells"].items() if k.startswith("t3.") and k != "t3.carried_forward.total"}
    assert {k: ex.cells[k].value for k in t3} == t3
    assert any(i.kind == "moved_values" for i in ex.issues)
    # table 二's rows printed after the others (规章, 规范性文件 under their own markdown table)
    assert [ex.cells[f"t2.normative_doc.{c}"].value for c in ("issued", "repealed", "in_force")] == [13, 0, 55]
    assert [ex.cells[f"t2.regulation.{c}"].value for c in ("issued", "repealed", "in_force")] == [0, 0, 0]


def test_d16_page_marks_inside_a_table_are_not_values(shared_dir):
    path = _raw(shared_dir, "d16_shanghai_szfbgt_2025")
    assert "— 5 —" in path.read_text(encoding="utf-8")
    _, ex = _parse(path)
    assert [ex.cells[f"t3.other_processing.unpaid_fee.{c}"].value for c in ("natural_person", "total")] == [0, 0]
    assert ex.cells["t4.suit_after_review.total"].value == 22


def test_d16_a_torn_column_is_settled_by_the_list_the_prose_prints(shared_dir):
    """d16 tears table 二's 废止 column off its rows; 全年主动公开…规章 22 件、…行政规范性文件 34 件 says
    what was issued, which leaves the torn 55 to 废止. The cells the prose does not name stay uncertain."""
    from nianbao.app.pipeline import process_file

    ex = process_file(_raw(shared_dir, "d16_shanghai_szfbgt_2025"))  # the prose too, then the rules' fills
    row = [ex.cells[f"t2.normative_doc.{c}"].value for c in ("issued", "repealed", "in_force")]
    assert row == [34, 55, 189]
    assert "t2.normative_doc.issued" not in ex.uncertain
    assert {"t2.normative_doc.repealed", "t2.normative_doc.in_force"} <= set(ex.uncertain)


def test_d03_a_run_that_stays_ambiguous_is_not_called_uniquely_split(shared_dir):
    from nianbao.app.pipeline import process_file

    ex = process_file(_raw(shared_dir, "d03_pingtan_2023"))
    merged = {tuple(f.keys): f.message for f in ex.findings if f.rule == "structure.merged_digits"}
    normative = merged[("t2.normative_doc.issued", "t2.normative_doc.repealed", "t2.normative_doc.in_force")]
    assert "77132470" in normative and "不唯一" in normative and "唯一拆分" not in normative


def test_d05_a_heading_glued_to_the_heading_before_it_is_still_a_heading(shared_dir):
    """`二、主动公开政府信息情况三、收到和处理…`: section 二 is empty, 三 starts at its ordinal."""
    doc, ex = _parse(_raw(shared_dir, "d05_hebei_kejiting_2019"))
    start, end = ex.sections["二"]
    assert doc.text[start:end].startswith("二、主动公开政府信息情况") and doc.text[end:end + 2] == "三、"


def test_d08_wrapped_at_a_page_width_an_ordinal_parted_from_its_label_is_no_value(shared_dir, tmp_path):
    """Wrapped at 30 characters, d08's crawler line breaks as `…禁止公开00000003.⏎危及“三安全一稳定”…`:
    the 3. belongs to the next label; it is neither a cell nor a surplus value to warn about."""
    from nianbao.eval.variants import write_variants

    raw = tmp_path / "raw"
    raw.mkdir()
    src = _raw(shared_dir, "d08_hebei_kejiting_2022")
    (raw / src.name).write_bytes(src.read_bytes())
    folder = write_variants(raw, _dev(shared_dir) / "gold", tmp_path / "v", ["wrapped"])["wrapped"]
    wrapped = folder / src.name
    assert "00000003.\n危及" in wrapped.read_text(encoding="utf-8")
    _, ex = _parse(wrapped)
    gold = _gold(shared_dir, "d08_hebei_kejiting_2022")["cells"]
    t3 = [k for k in gold if k.startswith("t3.")]
    assert [ex.cells[k].value for k in t3] == [gold[k] for k in t3]
    assert not [i for i in ex.issues if i.kind in ("long_row", "ocr_repair") and any(k.startswith("t3.") for k in i.keys)]

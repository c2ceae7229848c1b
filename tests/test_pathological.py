"""Issue 12's pathological inputs finish, bounded, and say what they did (their CPU times are in
docs/benchmarks.md, from `nianbao eval bench`; here only that they end and what they report)."""

from __future__ import annotations

import resource

import pytest

from nianbao.app.pipeline import process_file
from nianbao.eval.bench import pathological_text


def _run(tmp_path, case: str):
    path = tmp_path / f"{case}.txt"
    path.write_text(pathological_text(case), encoding="utf-8")
    return process_file(path)


def _rules(ex) -> set[str]:
    return {f.rule for f in ex.findings}


@pytest.mark.parametrize("case", ["t3_run_200", "t4_run_200"])
def test_a_digit_run_longer_than_any_row_is_one_clear_finding(tmp_path, case):
    ex = _run(tmp_path, case)
    found = [f for f in ex.findings if f.rule == "structure.row_cells" and "位数字" in f.message]
    assert found, [f.message for f in ex.findings if f.category == "structure"]
    table = "t3" if case.startswith("t3") else "t4"
    assert table in ex.tables_found
    keys = found[0].keys
    # nothing read from the run (a value may only come from an identity, which says so)
    assert keys and all(ex.cells[k].value is None or ex.cells[k].reader == "identity" for k in keys)
    assert all(ex.cells[k].value is None or ex.cells[k].value < 10**12 for k in ex.cells)


def test_table_four_with_thirteen_spaced_two_digit_cells_is_read_and_says_how(tmp_path):
    ex = _run(tmp_path, "t4_spaced_k13")
    assert all(ex.cells[k].value is not None for k in ex.cells if k.startswith("t4."))
    assert "structure.split_cell" in _rules(ex)


@pytest.mark.slow
def test_a_megabyte_of_prose_in_section_one_still_reads_the_tables(tmp_path):
    ex = _run(tmp_path, "section1_1m")
    assert {"t2", "t3", "t4"} <= set(ex.tables_found)
    assert "structure.truncated" in _rules(ex)  # thousands of counts: read up to the limit, and said


@pytest.mark.slow
def test_two_hundred_reports_in_one_file_end(tmp_path):
    ex = _run(tmp_path, "concat_200")
    assert "t3" in ex.tables_found


@pytest.mark.slow
def test_a_50_megabyte_one_line_text_is_read_up_to_the_limit_and_says_so(tmp_path):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ex = _run(tmp_path, "oneline_50mb")
    assert "ingest.text_truncated" in _rules(ex)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 600

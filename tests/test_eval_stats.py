"""`nianbao eval stats` / `nianbao eval DIR --unlabelled`: label-free figures per report and in total,
each report read in its own process so a bad file is one line, not the end of the run."""

from __future__ import annotations

import json

import pytest
from conftest import load_gold, seed_names
from typer.testing import CliRunner

from nianbao.app.cli import app
from nianbao.eval.stats import ReportStats, collect, totals
from nianbao.eval.synth import render_gold

runner = CliRunner()


def _folder(tmp_path):
    gold = load_gold(seed_names()[-1])  # a 2021 seed
    clean = render_gold(gold, "tab")
    flat = render_gold(gold, "dropped")
    (tmp_path / "clean.txt").write_text(clean.text, encoding="utf-8")
    (tmp_path / "dropped.txt").write_text(flat.text, encoding="utf-8")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "binary.pdf").write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8)
    (tmp_path / "notes.gold.json").write_text("{}", encoding="utf-8")  # gold files are not reports
    return gold


def test_stats_per_report_and_totals(tmp_path):
    gold = _folder(tmp_path)
    res = runner.invoke(app, ["eval", "stats", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    per = {r["name"]: r for r in data["reports"]}
    assert set(per) == {"clean.txt", "dropped.txt", "empty.txt", "binary.pdf"}
    ok = per["clean.txt"]
    assert ok["clean"] and ok["tables"] == ["t2", "t3", "t4"] and ok["rows_read"] == ok["rows_total"]
    assert ok["identities_fail"] == 0 and ok["identities_open"] == 0 and ok["identities_hold"] > 30
    assert ok["year"] == gold["meta"]["year"] and ok["agency"]
    lost = per["dropped.txt"]
    assert not lost["clean"] and lost["tables"] == [] and lost["rows_read"] == 0 and lost["structure"] >= 1
    assert per["empty.txt"]["failure"] and "empty" in per["empty.txt"]["failure"]
    assert per["binary.pdf"]["failure"]
    t = data["totals"]
    assert t["reports"] == 4 and t["failed"] == 2 and t["clean"] == 1 and t["all_tables"] == 1
    assert t["identities_hold"] == ok["identities_hold"] + lost["identities_hold"]
    assert "empty.txt" in res.stderr  # each unreadable file gets its one line


def test_unlabelled_flag_and_table(tmp_path):
    _folder(tmp_path)
    res = runner.invoke(app, ["eval", str(tmp_path), "--unlabelled"])
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "clean.txt" in out and "dropped.txt" in out and "read cleanly" in out
    assert "4 reports: 1 read cleanly, 1 to check, 2 not read" in out
    res = runner.invoke(app, ["eval", "stats", str(tmp_path), "--problems"])
    assert "clean.txt" not in res.stdout.split("4 reports")[0] and "dropped.txt" in res.stdout


def test_report_text_is_not_markup(tmp_path):
    """A report's name with rich markup in it is printed as text."""
    gold = load_gold(seed_names()[-1])
    (tmp_path / "[bold]a.txt").write_text(render_gold(gold, "tab").text, encoding="utf-8")
    res = runner.invoke(app, ["eval", "stats", str(tmp_path)])
    assert res.exit_code == 0 and "[bold]a" in res.stdout


def test_no_reports_is_an_error(tmp_path):
    res = runner.invoke(app, ["eval", "stats", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "nowhere" in res.stderr


@pytest.mark.slow
def test_workers_keep_the_order(tmp_path):
    _folder(tmp_path)
    files = sorted(p for p in tmp_path.iterdir() if not p.name.endswith(".gold.json"))
    one = collect(files, workers=1)
    two = collect(files, workers=2)
    assert [s.name for s in one] == [p.name for p in files] == [s.name for s in two]
    assert [s.clean for s in one] == [s.clean for s in two]
    assert totals(one)["cells_read"] == totals(two)["cells_read"]


def test_a_run_split_one_way_only_is_a_note_not_a_flag(tmp_path):
    """A crawler's flattened tables (d01, d09): every run the identities split one way only is documented
    as an info note; the report is still read cleanly, so a supervisor is not sent to check it."""
    from nianbao.eval.stats import read_stats

    path = tmp_path / "digits.txt"
    path.write_text(render_gold(load_gold(seed_names()[-1]), "digits").text, encoding="utf-8")
    figures = read_stats(str(path))
    assert figures["notes"] >= 20 and figures["structure"] == 0 and figures["uncertain"] == 0
    stats = ReportStats(name="digits.txt", **{k: v for k, v in figures.items() if k in ReportStats.__dataclass_fields__})
    assert stats.clean


def test_clean_needs_every_check():
    s = ReportStats(name="x", tables=["t2", "t3", "t4"], agency="某县", year=2023)
    assert s.clean
    for change in ({"uncertain": 1}, {"structure": 1}, {"identities_fail": 1}, {"agency": None},
                   {"tables": ["t2", "t3"]}, {"failure": "ValueError"}):
        assert not ReportStats(**{**s.__dict__, **change}).clean, change

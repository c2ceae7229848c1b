"""`nianbao eval` end to end: JSON shape, gates, baseline deltas, synth command, bench section."""

from __future__ import annotations

import json

from conftest import EXAMPLES, FIXTURES, ROOT
from typer.testing import CliRunner

from nianbao.cli import app
from nianbao.eval.bench import END, START, render_section, run_bench, write_section

runner = CliRunner()


def _json(*args):
    res = runner.invoke(app, ["eval", str(EXAMPLES), "--gold", str(FIXTURES), "--json", *args])
    return res, json.loads(res.stdout) if res.stdout.strip().startswith("{") else None


def test_json_has_the_contracted_figures():
    res, data = _json()
    assert res.exit_code == 0, res.output
    rules = data["backends"]["rules"]
    for k in ("cell_accuracy", "narrative_precision", "narrative_recall", "finding_recall", "false_positives",
              "seconds_per_report"):
        assert k in rules
    assert 0 <= rules["cell_accuracy"] <= 1 and rules["cells_total"] == 998
    assert set(data["reports"]["rules"]) == {p.stem for p in EXAMPLES.glob("*.txt")}


def test_fail_under_gates(tmp_path):
    res, data = _json("--fail-under", "cell_accuracy=0.5")
    ok = data["backends"]["rules"]["cell_accuracy"] >= 0.5
    assert res.exit_code == (0 if ok else 1)
    res, _ = _json("--fail-under", "cell_accuracy=1.01")
    assert res.exit_code == 1 and "cell_accuracy" in res.stderr
    res, _ = _json("--fail-under", "false_positives=-1")
    assert res.exit_code == 1
    res = runner.invoke(app, ["eval", str(EXAMPLES), "--gold", str(FIXTURES), "--fail-under", "cell_accuracy"])
    assert res.exit_code == 2 and "NAME=NUMBER" in res.stderr


def test_baseline_flags_a_drop(tmp_path):
    _, data = _json()
    better = json.loads(json.dumps(data))
    better["backends"]["rules"]["cell_accuracy"] = 1.5  # a baseline nothing can reach
    path = tmp_path / "base.json"
    path.write_text(json.dumps(better), encoding="utf-8")
    res = runner.invoke(app, ["eval", str(EXAMPLES), "--gold", str(FIXTURES), "--baseline", str(path)])
    assert res.exit_code == 1 and "cell_accuracy dropped" in res.stderr
    assert "cell accuracy" in res.stdout and "(-" in res.stdout
    same = tmp_path / "same.json"
    same.write_text(json.dumps(data), encoding="utf-8")
    res = runner.invoke(app, ["eval", str(EXAMPLES), "--gold", str(FIXTURES), "--baseline", str(same)])
    assert res.exit_code == 0, res.stderr


def test_committed_baseline_is_valid():
    data = json.loads((ROOT / "eval" / "baselines" / "seeds-rules.json").read_text(encoding="utf-8"))
    assert 0 <= data["backends"]["rules"]["cell_accuracy"] <= 1


def test_no_gold_is_one_clear_line(tmp_path):
    (tmp_path / "a.txt").write_text("nothing", encoding="utf-8")
    (tmp_path / "b.txt").write_text("x", encoding="utf-8")
    (tmp_path / "b.gold.json").write_text("{not json", encoding="utf-8")
    res = runner.invoke(app, ["eval", str(tmp_path)])
    assert res.exit_code == 2
    assert "b.gold.json" in res.stderr and "no report with a gold fixture" in res.stderr


def test_synth_then_eval(tmp_path):
    res = runner.invoke(app, ["eval", "synth", "--n", "6", "--seed", "3", "--damage", "0.05", "--inject", "2",
                              "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert len(list(tmp_path.glob("*.gold.json"))) == 6
    res = runner.invoke(app, ["eval", str(tmp_path), "--json"])
    data = json.loads(res.stdout)
    assert data["backends"]["rules"]["reports"] == 6
    assert data["backends"]["rules"]["findings_by_category"]["arithmetic"]["expected"] == 2
    res = runner.invoke(app, ["eval", "synth", "--n", "2", "--layout", "nope", "-o", str(tmp_path)])
    assert res.exit_code == 2 and "nope" in res.stderr


def test_bench_rewrites_only_its_section(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n<!-- ocr-bench:start -->\nOCR numbers\n<!-- ocr-bench:end -->\n", "utf-8")
    result = run_bench(n=12, workers=2)
    assert result.one_core_rate > 0 and result.peak_rss_mb > 0 and len(result.by_size) == 4
    write_section(doc, render_section(result))
    write_section(doc, render_section(result))
    text = doc.read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1
    assert "OCR numbers" in text and "reports/second" in text and result.machine["cpu"] in text


def test_folder_of_gold_finds_reports_in_a_sibling_folder(tmp_path):
    from nianbao.eval.harness import find_cases

    (tmp_path / "fixtures").mkdir()
    (tmp_path / "seeds").mkdir()
    for p in sorted(FIXTURES.glob("*.gold.json"))[:2]:
        (tmp_path / "fixtures" / p.name).write_bytes(p.read_bytes())
        stem = p.name[: -len(".gold.json")]
        (tmp_path / "seeds" / f"{stem}.txt").write_bytes((EXAMPLES / f"{stem}.txt").read_bytes())
    (tmp_path / "fixtures" / "lost.gold.json").write_text('{"report": "lost.txt", "meta": {}, "cells": {}}', "utf-8")
    cases, problems = find_cases([tmp_path / "fixtures"])
    assert len(cases) == 2 and all(c.path.parent.name == "seeds" for c in cases)
    assert len(problems) == 1 and "lost.txt" in problems[0]

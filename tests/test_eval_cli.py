"""`nianbao eval` end to end: JSON shape, gates, baseline deltas, synth command, bench section."""

from __future__ import annotations

import json
import re

import pytest
from conftest import EXAMPLES, FIXTURES, ROOT
from typer.testing import CliRunner

from nianbao.app.cli import app
from nianbao.eval.bench import (
    END,
    START,
    Pathological,
    pathological_text,
    render_section,
    run_bench,
    run_pathological,
    write_section,
)
from nianbao.eval.isolate import Outcome

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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_bench_rewrites_only_its_section(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n<!-- ocr-bench:start -->\nOCR numbers\n<!-- ocr-bench:end -->\n", "utf-8")
    result = run_bench(n=12, workers=2, repeats=2, pathological=False)
    assert result.repeats == 2 and len(result.cpu_ms.values) == 2
    assert result.cpu_ms.min <= result.cpu_ms.median <= result.cpu_ms.max and result.floor_ms.min > 0
    assert result.ratio.median == pytest.approx(result.cpu_ms.median / result.floor_ms.median, rel=0.5)
    assert result.rate.median > 0 and result.peak_rss_mb > 0 and len(result.by_size) == 4
    assert result.by_layout and set(result.by_layout) <= set(result.layouts)
    write_section(doc, render_section(result))
    write_section(doc, render_section(result))
    text = doc.read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1
    assert "OCR numbers" in text and "CPU ms per report" in text and "ratio rules / floor" in text
    assert result.machine["cpu"] in text


def test_pathological_inputs_are_what_they_say():
    base = pathological_text("t4_run_24")
    run = max(re.findall(r"\d+", base), key=len)
    assert len(run) == 24
    assert any(len(r) == 200 for r in re.findall(r"\d+", pathological_text("t4_run_200")))
    t3 = pathological_text("t3_run_200")
    assert re.search(r"一、本年新收[^\t\n]*\t\d{200}\n", t3)
    spaced = pathological_text("t4_spaced_k13")
    assert len(re.findall(r"(?<![\d ])\d \d(?![\d ])", spaced)) == 13
    assert len(pathological_text("section1_1m")) > 1_000_000
    assert pathological_text("concat_200").count("二、") >= 200
    with pytest.raises(ValueError):
        pathological_text("nope")


def test_pathological_case_reports_over_limit_or_what_it_read():
    """Under a 1 s CPU limit the case either finishes (and says what it read) or is reported over the limit."""
    (p,) = run_pathological(only={"t4_run_200"}, cpu_limit=1)
    assert p.outcome.over_limit == "cpu" or p.outcome.value.startswith("tables")
    assert p.outcome.cpu_seconds > 0
    over = Pathological("x", "what", 10, Outcome(over_limit="cpu", cpu_seconds=1.0), 1.0)
    assert over.result == "over limit (> 1 s CPU)"


def test_bench_command_checks_its_options(tmp_path):
    res = runner.invoke(app, ["eval", "bench", "--layout", "nope", "--no-write"])
    assert res.exit_code == 2 and "nope" in res.stderr


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


class _SlowNetworkBackend:
    """The rules reading after a wait, run in threads like an LLM backend on a slow local server."""

    name = "slow-endpoint"

    def __init__(self, rules) -> None:
        self.rules = rules

    def extract(self, doc):
        import time

        time.sleep(1.5)
        return self.rules.extract(doc)


@pytest.mark.slow
def test_timeout_is_the_users_for_backends_slower_than_a_minute(tmp_path, monkeypatch):
    # Gemma 3 270M on one thread takes minutes per report: under the fixed 60 s limit every `llm`
    # report was stopped and scored as zero. `--timeout` sets it as for `extract` (0: none).
    import shutil

    import nianbao.extract

    name = "004_6f1ea477f42cf686"
    shutil.copy(EXAMPLES / f"{name}.txt", tmp_path / f"{name}.txt")
    shutil.copy(FIXTURES / f"{name}.gold.json", tmp_path / f"{name}.gold.json")
    slow = _SlowNetworkBackend(nianbao.extract.get_backend("rules"))
    monkeypatch.setattr(nianbao.extract, "get_backend", lambda n, **o: slow)

    def run(*args):
        res = runner.invoke(app, ["eval", str(tmp_path), "-b", "slow-endpoint", "--json", *args])
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)["backends"]["slow-endpoint"]

    assert run("--timeout", "0.5")["cell_accuracy"] == 0  # stopped: a score of zero
    assert run("--timeout", "0")["cell_accuracy"] > 0.9
    res = runner.invoke(app, ["eval", str(tmp_path), "--timeout", "-1"])
    assert res.exit_code == 2 and "--timeout" in res.stderr

"""The eval scorer: its figures agree with the independent ../shared/tools/score.py, and by hand."""

from __future__ import annotations

import copy
import json
import random
import subprocess
import sys

import pytest
from conftest import EXAMPLES, FIXTURES, load_gold, seed_names

from nianbao.eval.harness import find_cases, run_backend, score_predictions
from nianbao.eval.prices import load_prices
from nianbao.eval.score import score_report, summarise


def _perturbed(gold: dict, rng: random.Random) -> dict:
    """A plausible wrong prediction: some cells off, claims dropped or moved, findings odd."""
    pred = copy.deepcopy(gold)
    for k in rng.sample(sorted(pred["cells"]), 7):
        pred["cells"][k] = rng.choice((None, 1, 7, "x", (pred["cells"][k] or 0) + 1))
    pred["narrative"] = [c for c in pred["narrative"] if rng.random() < 0.7]
    pred["narrative"].append({"value": 42, "unit": "条", "kind": "other", "quote": "发布信息42条", "parent": None})
    pred["findings"] = [{"category": f["category"], "rule": "r", "severity": "error", "keys": f.get("keys", [])}
                        for f in gold["findings"]["expected"] if rng.random() < 0.5]
    pred["findings"] += [{"category": "arithmetic", "rule": "fp", "severity": "warning", "keys": ["t3.x"]},
                         {"category": "template", "rule": "info", "severity": "info", "keys": []}]
    if rng.random() < 0.5:
        pred["meta"] = {**pred["meta"], "year": pred["meta"]["year"] - 1}
    return pred


def test_figures_agree_with_independent_scorer(tmp_path, shared_dir):
    rng = random.Random(3)
    preds = {}
    for name in seed_names():
        preds[name] = _perturbed(load_gold(name), rng)
        (tmp_path / f"{name}.json").write_text(json.dumps(preds[name], ensure_ascii=False), "utf-8")
    out = subprocess.run([sys.executable, str(shared_dir / "tools" / "score.py"), str(FIXTURES), str(tmp_path),
                          "--json"], capture_output=True, text=True, check=True)
    theirs = json.loads(out.stdout)
    cases, _ = find_cases([EXAMPLES], FIXTURES)
    ours = score_predictions(cases, preds)
    for s in ours:
        t = theirs["reports"][s.name]
        assert (s.cells_right, s.cells_total) == (t["cells_right"], t["cells_total"])
        assert sorted(w.key for w in s.wrong) == sorted(t["cells_wrong"])
        assert (s.meta_right, s.narr_matched, s.narr_gold, s.narr_pred) == (
            t["meta_right"], t["narr_matched"], t["narr_gold"], t["narr_pred"])
        assert (s.find_hit, s.find_expected, len(s.false_pos)) == (t["find_hit"], t["find_expected"], t["false_pos"])
    tot = theirs["total"]
    summary = summarise(ours)
    assert summary["cell_accuracy"] == pytest.approx(tot["cells_right"] / tot["cells_total"])
    assert summary["narrative_recall"] == pytest.approx(tot["narr_matched"] / tot["narr_gold"])
    assert summary["narrative_precision"] == pytest.approx(tot["narr_matched"] / tot["narr_pred"])
    assert summary["false_positives"] == tot["false_pos"]


def test_rules_backend_figures_agree_with_independent_scorer(tmp_path, shared_dir):
    cases, _ = find_cases([EXAMPLES], FIXTURES)
    run = run_backend("rules", cases, load_prices())
    for name, pred in run.predictions.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(pred, ensure_ascii=False), "utf-8")
    out = subprocess.run([sys.executable, str(shared_dir / "tools" / "score.py"), str(FIXTURES), str(tmp_path),
                          "--json"], capture_output=True, text=True, check=True)
    tot = json.loads(out.stdout)["total"]
    assert run.summary["cells_right"] == tot["cells_right"]
    assert run.summary["narrative_matched"] == tot["narr_matched"]
    assert run.summary["findings_hit"] == tot["find_hit"]
    assert run.summary["false_positives"] == tot["false_pos"]


def test_one_report_scored_by_hand():
    gold = {
        "meta": {"agency": "承留镇", "year": 2023, "template": "2021"},
        "cells": {"t2.a": 0, "t3.b": 5, "t3.c": None, "t3.d": 2, "t4.e": 1},
        "uncertain": ["t3.d"],
        "narrative": [{"value": 10, "quote": "发布信息10条"}, {"value": 3, "quote": "其中网站3条"},
                      {"value": 3, "quote": "微信3条"}],
        "findings": {"expected": [{"category": "arithmetic", "keys": ["t3.b"]},
                                  {"category": "ocr", "keys": ["t2.a"]}],
                     "acceptable": [{"category": "structure", "keys": []}]},
    }
    pred = {
        "meta": {"agency": "河南省承留镇人民政府", "year": 2023, "template": "2019"},
        # t2.a right; t3.b wrong; t3.c right (null = null); t3.d skipped (uncertain); t4.e wrong (missing)
        "cells": {"t2.a": 0, "t3.b": 6, "t3.c": None, "t3.d": 99},
        # 10 matches; the first 3 takes the first gold 3 (its quote overlaps); 7 matches nothing
        "narrative": [{"value": 10, "quote": "全年发布信息10条"}, {"value": 3, "quote": "网站3条"},
                      {"value": 7, "quote": "微信3条"}],
        "findings": [{"category": "arithmetic", "severity": "error", "keys": ["t3.b", "t3.x"]},
                     {"category": "ocr", "severity": "warning", "keys": ["t2.z"]},
                     {"category": "structure", "severity": "warning", "keys": []},
                     {"category": "stale_year", "severity": "warning", "keys": []},
                     {"category": "template", "severity": "info", "keys": []}],
    }
    s = score_report("r", gold, pred)
    assert (s.cells_right, s.cells_total) == (2, 4)
    assert sorted(w.key for w in s.wrong) == ["t3.b", "t4.e"]
    assert s.by_table == {"t2": [1, 1], "t3": [1, 2], "t4": [0, 1]}
    assert (s.meta_right, s.meta_wrong) == (2, ["template"])
    assert (s.narr_matched, s.narr_gold, s.narr_pred) == (2, 3, 3)
    assert (s.find_hit, s.find_expected) == (1, 2)  # ocr names t2.z, not t2.a
    assert s.false_pos == ["stale_year:None"]  # structure is acceptable, template is only info
    summary = summarise([s])
    assert summary["narrative_precision"] == pytest.approx(2 / 3)
    assert summary["narrative_f1"] == pytest.approx(2 / 3)
    assert summary["findings_by_category"]["ocr"] == {"hit": 0, "expected": 1, "recall": 0.0, "false_positives": 0}


def test_cost_from_price_table(tmp_path):
    from nianbao.eval.prices import cost_of, price_for

    table = load_prices()
    assert price_for("gpt-4o-mini-2024-07-18", table) == table["gpt-4o-mini"]
    usage = {"model": "gpt-4o-mini", "prompt_tokens": 2000, "completion_tokens": 1000}
    assert cost_of(usage, table) == pytest.approx(2 * 0.00015 + 0.0006)
    own = tmp_path / "prices.toml"
    own.write_text('[models."gpt-4o-mini"]\nprompt = 1.0\ncompletion = 2.0\n', encoding="utf-8")
    assert cost_of({**usage, "cost_usd": 0.5}, load_prices(own), prefer_table=True) == pytest.approx(4.0)
    assert cost_of({**usage, "cost_usd": 0.5}, load_prices(own)) == pytest.approx(0.5)
    assert cost_of({"model": "local-gguf", "prompt_tokens": 10}, table) == 0.0

"""Issue 2's robustness: the seeds' gold re-rendered in every layout parses to the same cells (or says
which are uncertain), and an arithmetic error injected in any cell is caught by a finding naming it."""

from __future__ import annotations

import random

import pytest
from conftest import load_gold, seed_names

from nianbao.eval.synth import render_gold
from nianbao.identities import identities
from nianbao.pipeline import process_file

LAYOUTS = ("pipe", "tab", "cells", "html", "markdown", "wrapped", "paged", "digits", "dropblank")


def _read(tmp_path, report):
    path = tmp_path / (report.name + report.suffix)
    path.write_text(report.text, encoding="utf-8")
    return process_file(path, "rules")


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", seed_names())
def test_layout_parses_to_gold_cells(tmp_path, name, layout):
    gold = load_gold(name)
    report = render_gold(gold, layout)
    ex = _read(tmp_path, report)
    skip = set(report.gold["uncertain"]) | set(ex.uncertain)
    got = ex.values()
    wrong = {k: (v, got.get(k)) for k, v in report.gold["cells"].items()
             if k not in skip and got.get(k) != v}
    assert not wrong, f"{layout}: {len(wrong)} cells differ, e.g. {list(wrong.items())[:5]}"
    assert ex.meta.template == gold["meta"]["template"]


def _identity_keys(template: str) -> list[str]:
    return sorted({k for ident in identities(template) for k in ident.keys})


@pytest.mark.parametrize("name", seed_names())
def test_injected_error_is_caught_naming_the_cell(tmp_path, name):
    gold = load_gold(name)
    keys = _identity_keys(gold["meta"]["template"])
    rng = random.Random(name)
    missed = []
    for key in rng.sample(keys, 12):
        changed = {**gold, "cells": {**gold["cells"], key: (gold["cells"][key] or 0) + rng.choice((1, 3, 10))}}
        ex = _read(tmp_path, render_gold(changed, "tab"))
        if not any(key in f.keys for f in ex.findings if f.severity in ("error", "warning")):
            missed.append(key)
    assert not missed, f"no finding names {missed}"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["002_17b0dc41428b3418", "004_6f1ea477f42cf686"])  # one per template
def test_every_cell_injected_is_caught(tmp_path, name):
    gold = load_gold(name)
    missed = []
    for key in _identity_keys(gold["meta"]["template"]):
        changed = {**gold, "cells": {**gold["cells"], key: (gold["cells"][key] or 0) + 2}}
        ex = _read(tmp_path, render_gold(changed, "pipe"))
        if not any(key in f.keys for f in ex.findings if f.severity in ("error", "warning")):
            missed.append(key)
    assert not missed, f"{len(missed)} injected errors not named by any finding, e.g. {missed[:5]}"

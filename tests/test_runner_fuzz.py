"""`nianbao eval fuzz`: the same seed gives the same variants, every damage changes the bytes, and a
small text run goes through the runner with no unexpected exception."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from conftest import ROOT, SHARED
from typer.testing import CliRunner

from nianbao.app.cli import app
from nianbao.eval.fuzz import DAMAGES, damage, make_variants, seed_files


def test_variants_are_seeded_and_damaged(tmp_path: Path) -> None:
    seeds = seed_files(ROOT, SHARED)
    kinds = {p.suffix for p in seeds}
    assert {".txt", ".docx", ".pdf", ".html"} <= kinds and any(p.name.endswith(".scan.pdf") for p in seeds)
    a = make_variants(seeds, 12, 7, tmp_path / "a")
    b = make_variants(seeds, 12, 7, tmp_path / "b")
    assert [p.name for p in a] == [p.name for p in b]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b, strict=True))
    data = (ROOT / "examples" / "reports" / "000_6ca0fa42e399edc3.txt").read_bytes()
    for how in DAMAGES:
        assert damage(data, how, random.Random(1), data[::-1]) != data, how


@pytest.mark.slow
def test_a_small_fuzz_run_has_no_unexpected_exception(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["eval", "fuzz", "--n", "8", "--seed", "3", "--kind", "txt", "--kind", "html",
                                 "--json", "--keep", str(tmp_path)])
    assert r.exit_code == 0, r.output
    figures = json.loads(r.stdout)
    assert figures["variants"] == 8 and figures["unexpected_exceptions"] == 0 and figures["limit_overruns"] == 0
    assert figures["read"] + figures["refused_one_line"] == 8
    assert len(list(tmp_path.iterdir())) == 8

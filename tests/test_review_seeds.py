"""The seeds through the whole flow into the review page: real parser, real rules, real server."""

from __future__ import annotations

import re

import httpx
import pytest
from conftest import EXAMPLES
from review_server import live_server

from nianbao import __version__
from nianbao.review.batch import run_batch
from nianbao.review.store import RunSettings, Store
from nianbao.rules import registry

pytestmark = pytest.mark.slow  # the five seeds stored and served through the real review server


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("seeds") / "n.db")
    res = run_batch(store, sorted(EXAMPLES.glob("*.txt")), RunSettings(version=__version__), workers=1)
    assert res.done == 5 and not res.errors
    return store


def _doc(store: Store, prefix: str):
    return next(d for d in store.documents() if d.name.startswith(prefix))


def test_every_stored_cell_span_points_at_its_printed_characters(seeded: Store) -> None:
    for doc in seeded.documents():
        for c in seeded.cells(doc.id):
            if c["span_start"] is not None and c["raw"]:
                assert doc.text[c["span_start"]:c["span_end"]].strip(), (doc.name, c["key"])


def test_narrative_sum_finding_has_its_quotes_highlighted(seeded: Store) -> None:
    if "narrative" not in registry.RULE_MODULES:
        pytest.skip("the narrative rules are not on this branch yet")
    doc = _doc(seeded, "004_")
    (f,) = [f for f in seeded.findings(doc.id) if f["category"] == "narrative_sum"]
    assert (f["expected"], f["found"]) in ((806, 771), (771, 806)) and len(f["spans"]) >= 2
    with live_server(seeded) as base:
        page = httpx.get(f"{base}/report/{doc.id}").text
    quoted = re.findall(rf'<span class="[^"]*\bquote\b[^"]*"[^>]*data-findings="[^"]*{f["id"]}[^"]*"[^>]*>([^<]*)</span>',
                        page)
    text = "".join(quoted)
    assert "806" in text and "647" in text  # the whole and a part, highlighted where they are printed
    assert f'id="finding-{f["id"]}"' in page


def test_filled_cell_shows_its_explanation(seeded: Store) -> None:
    if "fills" not in registry.RULE_MODULES:
        pytest.skip("the fill rules are not on this branch yet")
    doc = _doc(seeded, "003_")
    fills = [f for f in seeded.findings(doc.id) if f["fill"]]
    assert fills
    key, value = next(iter(fills[0]["fill"].items()))
    with live_server(seeded) as base:
        page = httpx.get(f"{base}/report/{doc.id}").text
    cell = re.search(rf'<td id="cell-{re.escape(key)}"[^>]*>.*?</td>', page, re.S).group(0)
    assert f">{value}</span>" in cell and "由检查规则补出" in cell and "filled by" in cell  # the id in its tooltip
    assert "由勾稽关系填入" in page and fills[0]["message"] in page.replace("&#34;", '"').replace("&#39;", "'")


def test_rerunning_the_seeds_after_review_keeps_every_decision(tmp_path) -> None:
    """Review every finding of the seeds, correct a cell, run the batch again: nothing is lost."""
    store = Store(tmp_path / "n.db")
    files = sorted(EXAMPLES.glob("*.txt"))
    settings = RunSettings(version=__version__)
    run_batch(store, files, settings, workers=1)
    findings = store.findings()
    if not findings:
        pytest.skip("no rules on this branch raise findings on the seeds")
    decided = {}
    for i, f in enumerate(findings):
        action = "confirm" if i % 2 == 0 else "dismiss"
        store.decide(f["document_id"], f["id"], action, "审核员", "" if action == "confirm" else "核对原件无误")
        decided[f["id"]] = "confirmed" if action == "confirm" else "dismissed"
    doc = _doc(store, "001_")
    key = "t2.licensing.decisions"
    store.correct(doc.id, key, 42, "审核员", "原件为 42")
    res = run_batch(store, files, settings, workers=1, force=True)
    assert res.done == 5
    now = {f["id"]: f["status"] for f in store.findings()}
    assert {fid: now.get(fid) for fid in decided} == decided
    assert store.current(doc.id).cells[key].value == 42
    assert len([d for d in store.decisions() if d["action"] != "correct"]) == len(decided)

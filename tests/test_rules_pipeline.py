"""The rules on what the real parser reads from the seeds: every expected finding, no false alarm.

The narrative extractor is a separate component; test A gives the rules the gold narrative so the
rules are judged on their own, test B runs the whole real pipeline and asks only for no false alarm.
"""

from __future__ import annotations

import pytest
from rules_support import EXAMPLES, allowed_categories, extraction, gold, gold_names

from nianbao.app.pipeline import check
from nianbao.extract import get_backend, read_document


def _hit(expected: dict, findings: list) -> bool:
    """The scorer's notion of a hit: same category, and keys overlap when both name keys."""
    for f in findings:
        if f.category != expected["category"]:
            continue
        if expected.get("keys") and f.keys and not set(expected["keys"]) & set(f.keys):
            continue
        return True
    return False


def _extract(name: str):
    doc = read_document(EXAMPLES / f"{name}.txt")
    return doc, get_backend("rules").extract(doc)


@pytest.mark.parametrize("name", gold_names())
def test_real_cells_with_gold_narrative(name):
    data = gold(name)
    doc, ex = _extract(name)
    ex.narrative = extraction(data).narrative
    check(doc, ex)
    missed = [e["note"] for e in data["findings"]["expected"] if not _hit(e, ex.findings)]
    assert missed == []
    cats = allowed_categories(data)
    false = [f"{f.category}:{f.message}" for f in ex.findings
             if f.severity in ("error", "warning") and f.category not in cats]
    assert false == []


@pytest.mark.parametrize("name", gold_names())
def test_whole_pipeline_raises_no_false_alarm(name):
    data = gold(name)
    doc, ex = _extract(name)
    check(doc, ex)
    cats = allowed_categories(data)
    assert [f.message for f in ex.findings if f.severity in ("error", "warning") and f.category not in cats] == []

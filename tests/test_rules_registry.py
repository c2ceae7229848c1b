"""Every rule is registered, documented, and gives the same findings every time, once each."""

from __future__ import annotations

import importlib
from typing import get_args

from rules_support import extraction, gold, run

from nianbao.models import Category, Severity, issue
from nianbao.rules import RULES
from nianbao.rules.registry import RULE_MODULES, _load


def test_every_module_registers_documented_rules_with_contract_categories():
    _load()
    by_module: dict[str, int] = {}
    for r in RULES.values():
        assert r.doc, r.id
        assert r.category in get_args(Category) and r.severity in get_args(Severity)
        by_module[r.func.__module__] = by_module.get(r.func.__module__, 0) + 1
    for name in RULE_MODULES:
        assert by_module.get(importlib.import_module(f"nianbao.rules.{name}").__name__, 0) >= 1, name


def test_findings_use_their_rules_id_prefix_and_are_stable_and_deduplicated():
    ex = extraction(gold("004_6f1ea477f42cf686"))
    ex.cells["t3.granted.total"].value = 9
    repair = issue("ocr_repair", keys=["t2.punishment.decisions"], raw="O", value=0)
    ex.issues += [repair.model_copy()]
    first, second = run(ex), run(ex)
    assert [f.model_dump() for f in first] == [f.model_dump() for f in second]
    sigs = [(f.rule, tuple(f.keys), f.message) for f in first]
    assert len(sigs) == len(set(sigs))
    assert len([f for f in first if f.rule == "ocr.repair"]) == 1
    assert all(f.category in get_args(Category) for f in first)


def test_every_issue_kind_survives_a_compact_round_trip():
    """The store packs extractions without defaults; each issue must still come back as its kind."""
    from nianbao.models import ISSUE_TYPES, Extraction

    ex = extraction(gold("004_6f1ea477f42cf686"))
    ex.issues = [issue(kind) for kind in ISSUE_TYPES]
    back = Extraction.model_validate_json(ex.model_dump_json(exclude_defaults=True))
    assert [type(i) for i in back.issues] == [type(i) for i in ex.issues]
    assert [i.kind for i in back.issues] == list(ISSUE_TYPES)

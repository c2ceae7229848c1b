"""Findings that share one cause become one card (review/causes.py), on reports read by the real parser."""

from __future__ import annotations

import random

from store_helpers import consistent_values, template_text

from nianbao.app.pipeline import process_document
from nianbao.document import Document
from nianbao.review.causes import group


def _findings(values: dict) -> list[dict]:
    text = template_text("甲镇", 2023, values)
    ex = process_document(Document(name="甲镇.txt", kind="txt", text=text))
    return [{"id": f"{i:016x}", "rule": f.rule, "category": f.category, "severity": f.severity, "keys": f.keys,
             "status": "open", "message": f.message} for i, f in enumerate(ex.findings)]


def test_one_wrong_number_is_one_card_listing_every_rule_that_saw_it() -> None:
    v = consistent_values(random.Random(3))
    v["t3.granted.business"] += 4
    fs = _findings(v)
    assert len({f["rule"] for f in fs if "t3.granted.business" in f["keys"]}) >= 2
    cards = group(fs)
    (card,) = [c for c in cards if "t3.granted.business" in c.keys]
    assert card.cause == "t3.granted.business" and len(card.rules) >= 2
    assert {f["id"] for f in fs if "t3.granted.business" in f["keys"]} == set(card.ids)


def test_two_independent_errors_stay_two_cards() -> None:
    v = consistent_values(random.Random(4))
    v["t3.granted.business"] += 4
    v["t4.review.upheld"] += 1
    cards = group(_findings(v))
    causes = {c.cause for c in cards}
    assert {"t3.granted.business", "t4.review.upheld"} <= causes | {k for c in cards for k in c.keys if c.cause is None}
    assert not any("t3.granted.business" in c.keys and "t4.review.upheld" in c.keys for c in cards)


def test_notes_of_one_rule_make_one_card_and_open_cards_come_first() -> None:
    notes = [{"id": f"{i:016x}", "rule": "structure.merged_digits", "category": "structure", "severity": "info",
              "keys": [f"t3.row{i}.total"], "status": "open", "message": ""} for i in range(3)]
    done = {"id": "f" * 16, "rule": "arithmetic.row_sum", "category": "arithmetic", "severity": "error",
            "keys": ["t3.x.total"], "status": "dismissed", "message": ""}
    cards = group([*notes, done])
    assert [len(c.findings) for c in cards] == [3, 1]
    assert cards[0].status == "open" and cards[1].status == "dismissed"

"""Findings that share one cause become one card.

One wrong number breaks every identity it takes part in: a row sum, its column's balance, the
result sum, perhaps a bound. Each is a finding of its own, but a reviewer decides once. Within a
report, the cell that the most findings involve is taken as a cause and every finding involving
it joins its card; this repeats while some cell is shared by two findings. What is left stands
alone, except that notes (info) of the same rule, which describe how the report was printed
rather than an error in it, make one card per report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
STATUS_ORDER = {"open": 0, "confirmed": 1, "corrected": 2, "dismissed": 3}


@dataclass
class Card:
    """What a reviewer decides on: one or more findings of one report with one likely cause."""

    findings: list[dict[str, Any]]
    cause: str | None = None  # the cell key they share, when they were grouped by one
    rules: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.lead["id"]

    @property
    def lead(self) -> dict[str, Any]:
        """The finding that speaks for the card: the most severe, open before decided."""
        return min(self.findings, key=lambda f: (SEVERITY_ORDER.get(f["severity"], 9),
                                                 STATUS_ORDER.get(f["status"], 9)))

    @property
    def severity(self) -> str:
        return self.lead["severity"]

    @property
    def status(self) -> str:
        """Open while any finding in it is open; otherwise the lead's decision."""
        if any(f["status"] == "open" for f in self.findings):
            return "open"
        return self.lead["status"]

    @property
    def keys(self) -> list[str]:
        out: list[str] = []
        for f in self.findings:
            out.extend(k for k in f["keys"] if k not in out)
        return out

    @property
    def ids(self) -> list[str]:
        return [f["id"] for f in self.findings]


def group(findings: Iterable[dict[str, Any]]) -> list[Card]:
    """One report's findings as cards, most severe and open first."""
    left = list(findings)
    cards: list[Card] = []
    while True:
        shared = Counter(k for f in left for k in set(f["keys"]))
        if not shared:
            break
        key, n = min(shared.items(), key=lambda kv: (-kv[1], kv[0]))
        if n < 2:
            break
        members = [f for f in left if key in f["keys"]]
        common = set.intersection(*(set(f["keys"]) for f in members))
        # a cell is named as the cause only where it is the one cell all these findings share
        cards.append(Card(members, cause=key if common == {key} else None))
        left = [f for f in left if key not in f["keys"]]
    notes: dict[str, Card] = {}
    for f in left:
        if f["severity"] == "info":
            if f["rule"] in notes:
                notes[f["rule"]].findings.append(f)
                continue
            notes[f["rule"]] = Card([f])
            cards.append(notes[f["rule"]])
        else:
            cards.append(Card([f]))
    for c in cards:
        c.findings.sort(key=lambda f: (SEVERITY_ORDER.get(f["severity"], 9), f["rule"]))
        c.rules = list(dict.fromkeys(f["rule"] for f in c.findings))
    cards.sort(key=lambda c: (c.status != "open", SEVERITY_ORDER.get(c.severity, 9), c.id))
    return cards

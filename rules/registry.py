"""Rule registration and the loop that runs them.

A rule is a function `(ctx: RuleContext) -> Iterable[Finding]` registered with `@rule(...)`.
Rule modules are listed in RULE_MODULES and imported on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from nianbao.data import load
from nianbao.document import Document
from nianbao.models import Category, Extraction, Finding, Number, Severity
from nianbao.spec import resolve_template

# modules of nianbao.rules, imported in this order; rules run in registration order
RULE_MODULES: list[str] = ["settle", "prose_fills", "arithmetic", "fills", "bounds", "structure", "ocr",
                           "narrative", "consistency"]
# fills that rest on what the prose states where the report prints no value: the cell is marked as
# read from the prose and listed as uncertain
PROSE_FILLS: frozenset[str] = frozenset({"fill.prose"})
# fills that pick one of the readings the parser left open: the cell is no longer uncertain
SETTLING: frozenset[str] = frozenset({"narrative.settle"})
STAGES = ("settle", "check")  # settle-stage rules propose values first; check-stage rules see them


@dataclass(frozen=True)
class Rule:
    id: str
    category: Category
    severity: Severity
    func: Callable[[RuleContext], Iterable[Finding]]
    doc: str = ""
    stage: str = "check"


@dataclass
class RuleContext:
    doc: Document | None
    extraction: Extraction
    values: dict[str, Number | None] = field(default_factory=dict)

    @property
    def template(self) -> str:
        return resolve_template(self.extraction.meta.template)


RULES: dict[str, Rule] = {}


def rule(id: str, category: Category, severity: Severity, stage: str = "check") -> Callable:
    """Register a rule function under a stable id. Settle-stage rules propose values for cells the
    reading left open (the prose settling a digit run, a table replaced by a statement of none); they
    are applied before the check-stage rules judge the table."""

    def wrap(func: Callable[[RuleContext], Iterable[Finding]]) -> Callable[[RuleContext], Iterable[Finding]]:
        RULES[id] = Rule(id, category, severity, func, (func.__doc__ or "").strip(), stage)
        return func

    return wrap


def _load() -> None:
    for name in RULE_MODULES:
        importlib.import_module(f"nianbao.rules.{name}")


def run_rules(doc: Document | None, extraction: Extraction) -> list[Finding]:
    """Every registered rule's findings, in stage and rule order. Rules never change a cell: the
    values settle-stage rules propose are written by apply_fills, the one step that does, before the
    check stage runs; the check stage's own fills are applied by the caller."""
    _load()
    out: list[Finding] = []
    seen: set[tuple] = set()
    for stage in STAGES:
        ctx = RuleContext(doc, extraction, extraction.values())
        found = []
        for r in RULES.values():
            if r.stage != stage:
                continue
            for f in r.func(ctx):
                sig = (f.category, f.rule, tuple(sorted(f.keys)), f.message)
                if sig not in seen:  # stable and deduplicated: the same finding once, in rule order
                    seen.add(sig)
                    found.append(f)
        if stage == "settle":
            apply_fills(extraction, found)
        out.extend(found)
    uncertain = set(extraction.uncertain)
    return [_hedge(f, uncertain) for f in out] if uncertain else out


HEDGED = ("arithmetic", "narrative_mismatch")  # claims that a number is wrong, which need a sure reading


def _hedge(f: Finding, uncertain: set[str]) -> Finding:
    """A contradiction resting on a cell the parser could not pin down is not proven: say so, as info."""
    if f.category not in HEDGED or f.severity == "info" or not uncertain & set(f.keys):
        return f
    shaky = "、".join(sorted(uncertain & set(f.keys))[:3])
    return f.model_copy(update={"severity": "info",
                                "message": f"{f.message}（涉及读法不确定的单元格 {shaky}，可能源于读取，请核对原文）"})


def _settled_confidence() -> float:
    return float(load("rules")["ocr"]["settled_confidence"])


def apply_fills(extraction: Extraction, findings: list[Finding]) -> None:
    """The one step that writes values rules propose: an identity's forced value or the prose's into a
    cell that was missing, the prose's choice into a cell the reading left uncertain. Each cell says
    who filled it; its finding says why."""
    for f in findings:
        for key, value in (f.fill or {}).items():
            cell = extraction.cells.get(key)
            if cell is None:
                continue
            if f.rule in SETTLING:
                if key in extraction.uncertain:
                    cell.value = value
                    if key in f.keys:  # the prose settles it
                        cell.note = f"settled by {f.rule}"
                        cell.confidence = max(cell.confidence, _settled_confidence())
                        extraction.uncertain.remove(key)
                    else:  # still open: the likeliest reading the prose leaves, so the row stays one reading
                        cell.note = f"re-read by {f.rule}"
                continue
            if cell.value is None:
                cell.value = value
                cell.note = f"filled by {f.rule}"
                cell.reader = "prose" if f.rule in PROSE_FILLS else "identity"
                if f.rule in PROSE_FILLS and key not in extraction.uncertain:
                    extraction.uncertain.append(key)

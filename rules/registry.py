"""Rule registration and the loop that runs them.

A rule is a function `(ctx: RuleContext) -> Iterable[Finding]` registered with `@rule(...)`.
Rule modules are listed in RULE_MODULES and imported on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from nianbao.document import Document
from nianbao.models import Category, Extraction, Finding, Number, Severity

# modules of nianbao.rules, imported in this order; rules run in registration order
RULE_MODULES: list[str] = ["arithmetic", "fills", "bounds", "structure", "ocr", "narrative", "prose_fills",
                           "consistency"]
# fills that rest on what the prose states rather than on an identity: the report prints no value,
# so the cell is marked as read from the prose and listed as uncertain
PROSE_FILLS: frozenset[str] = frozenset({"fill.prose"})


@dataclass(frozen=True)
class Rule:
    id: str
    category: Category
    severity: Severity
    func: Callable[[RuleContext], Iterable[Finding]]
    doc: str = ""


@dataclass
class RuleContext:
    doc: Document | None
    extraction: Extraction
    values: dict[str, Number | None] = field(default_factory=dict)

    @property
    def template(self) -> str:
        return self.extraction.meta.template or "2021"


RULES: dict[str, Rule] = {}


def rule(id: str, category: Category, severity: Severity) -> Callable:
    """Register a rule function under a stable id."""

    def wrap(func: Callable[[RuleContext], Iterable[Finding]]) -> Callable[[RuleContext], Iterable[Finding]]:
        RULES[id] = Rule(id, category, severity, func, (func.__doc__ or "").strip())
        return func

    return wrap


def _load() -> None:
    for name in RULE_MODULES:
        importlib.import_module(f"nianbao.rules.{name}")


def run_rules(doc: Document | None, extraction: Extraction) -> list[Finding]:
    """Every registered rule's findings, in rule order; cells are read, never changed, here."""
    _load()
    ctx = RuleContext(doc, extraction, extraction.values())
    out: list[Finding] = []
    seen: set[tuple] = set()
    for r in RULES.values():
        for f in r.func(ctx):
            sig = (f.category, f.rule, tuple(sorted(f.keys)), f.message)
            if sig not in seen:  # stable and deduplicated: the same finding once, in rule order
                seen.add(sig)
                out.append(f)
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


def apply_fills(extraction: Extraction, findings: list[Finding]) -> None:
    """Write the values an identity forced, or the prose settled, into cells that were missing,
    noting who filled them."""
    for f in findings:
        for key, value in (f.fill or {}).items():
            cell = extraction.cells.get(key)
            if cell is not None and cell.value is None:
                cell.value = value
                cell.note = f"filled by {f.rule}"
                cell.reader = "prose" if f.rule in PROSE_FILLS else "identity"
                if f.rule in PROSE_FILLS and key not in extraction.uncertain:
                    extraction.uncertain.append(key)

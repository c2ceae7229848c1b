"""Settle readings the identities left open with what the prose says (a rule of the settle stage).

A digit run such as `8855698` for table 二's 行政规范性文件 row (本年制发 / 本年废止 / 现行有效) splits
many ways, and table 二 has no identity to choose; when the prose says 现行有效行政规范性文件698件 and
本年度制发的规范性文件88件, only 88/55/698 agrees. A claim settles a cell when its subject
(nianbao/data/subjects.json) names exactly that one cell in the report's template and its figure is
exact (not 20余件, not 1.2万). Options that disagree with such a claim are dropped, unless none agrees:
then the claim contradicts the table (a finding for the rules), and is no evidence about the split.
A cell is settled when every remaining option gives it the same value; the others stay uncertain.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from nianbao.data import load
from nianbao.extract.narrative.prose import lexicon
from nianbao.models import AmbiguousSplit, Claim, Finding
from nianbao.rules.common import cell_label, fmt
from nianbao.rules.registry import RuleContext, rule
from nianbao.spec import keys as spec_keys


@cache
def subject_cells() -> dict[str, list[str]]:
    data = load("subjects")
    return {k: v["cells"] for k, v in data["subjects"].items()}


def _exact(c: Claim) -> bool:
    """A figure that can pin a cell: exact, a count (not %, not money), printed without 万/亿."""
    lex = lexicon()
    return (c.confidence >= 1.0 and c.unit != "%" and c.unit not in lex["money_units"]
            and not any(c.unit.startswith(m) for m in lex["multipliers"]))


def stated_cells(claims: list[Claim], template: str) -> dict[str, set[float]]:
    """Cell key → the values the prose states for exactly that cell."""
    present = set(spec_keys(template))
    out: dict[str, set[float]] = {}
    for c in claims:
        cells = [k for k in subject_cells().get(c.subject or "", []) if k in present]
        if len(cells) == 1 and _exact(c):
            out.setdefault(cells[0], set()).add(float(c.value))
    return out


def _narrow(keys: list[str], options: list[list], stated: dict[str, set[float]]) -> list[list]:
    for j, key in enumerate(keys):
        values = stated.get(key)
        if not values:
            continue
        kept = [o for o in options if j < len(o) and o[j] is not None and float(o[j]) in values]
        if kept:  # no option agrees: the prose contradicts the table, which says nothing about the split
            options = kept
    return options


def narrowed_options(issue: AmbiguousSplit, stated: dict[str, set[float]]) -> list[list]:
    """The options of an ambiguous row that agree with every figure the prose states for its cells."""
    return _narrow(issue.row_keys, [list(o) for o in issue.options], stated)


@rule("narrative.settle", "structure", "info", stage="settle")
def settle(ctx: RuleContext) -> Iterator[Finding]:
    """A row the identities left open whose options the prose narrows: the cells every remaining option
    agrees on take that value (a fill applied before the checks run), and the finding says which."""
    ex = ctx.extraction
    stated = stated_cells(list(ex.narrative) + list(ex.facts), ctx.template)
    if not stated:
        return
    for issue in ex.issues:
        if issue.kind != "ambiguous_split" or not issue.options:
            continue
        narrowed = narrowed_options(issue, stated)
        if len(narrowed) == len(issue.options):
            continue
        fill: dict[str, float | int] = {}
        reread: dict[str, float | int] = {}  # cells still open, moved to the likeliest reading left
        likeliest = narrowed[0]
        for j, key in enumerate(issue.row_keys):
            if key not in ex.uncertain:
                continue
            values = {o[j] for o in narrowed if j < len(o)}
            if len(values) == 1 and None not in values:
                fill[key] = values.pop()
            elif j < len(likeliest) and likeliest[j] is not None and key in ex.cells and \
                    ex.cells[key].value is not None and ex.cells[key].value != likeliest[j]:
                reread[key] = likeliest[j]  # a cell the reading left unread stays unread
        if not fill:
            continue
        shown = "、".join(f"{cell_label(k, ctx.template)} {fmt(v)}" for k, v in fill.items())
        message = f"{issue.label or '该行'}：连写的数字有多种读法，正文所述数字确定了 {shown}"
        if reread:
            message += "；其余格仍不确定，改按与正文相符的读法取值（" + "、".join(
                f"{cell_label(k, ctx.template)} {fmt(v)}" for k, v in reread.items()) + "）"
        # keys: the cells the prose settles; fill also carries the re-read ones (apply_fills keeps them uncertain)
        yield Finding(category="structure", rule="narrative.settle", severity="info", keys=list(fill),
                      message=message, fill=fill | reread, spans=[issue.span] if issue.span else [])

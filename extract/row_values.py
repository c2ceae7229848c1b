"""Candidate readings of one row's printed values when their count is not the row's width.

A row may print fewer tokens than cells (blank cells that vanished, a digit run such as
`230100024` for seven cells, a dropped cell) or more (a doubled cell, a number split in two by a
stray separator, `2|0` for 20). Every reading that could have produced the printed tokens is
generated with a prior; the row's own sums and, later, the table's column identities choose.
A reading never shifts values silently: whatever is chosen is reported by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

from nianbao.extract.tokens import Token

MAX_CANDIDATES = 4000


@dataclass
class Slot:
    value: int | float | None
    token: Token | None
    how: str = ""  # "", "missing", "blank", "split", "merged"


@dataclass
class Candidate:
    slots: list[Slot]
    prior: float
    kind: str  # "exact", "split", "short", "long", "merged"
    dropped: list[Token] = field(default_factory=list)

    def values(self) -> list[int | float | None]:
        return [s.value for s in self.slots]


SumGroups = list[tuple[tuple[int, ...], int]]  # (part positions, total position)


def feasible(values: list[int | float | None], groups: SumGroups) -> bool:
    """Could non-negative values in the unknown cells make every sum hold?"""
    for parts, total in groups:
        t = values[total]
        known = [values[i] for i in parts if values[i] is not None]
        unknown = len(parts) - len(known)
        s = sum(known)
        if t is None:
            continue
        if unknown == 0 and abs(s - t) > 1e-6:
            return False
        if unknown > 0 and s > t + 1e-6:
            return False
    return True


def complete(values: list[int | float | None], groups: SumGroups) -> list[int | float | None]:
    """Fill cells the sums force (one unknown, or unknowns that must all be 0)."""
    out = list(values)
    for parts, total in groups:
        unknown = [i for i in parts if out[i] is None]
        t = out[total]
        known = sum(out[i] for i in parts if out[i] is not None)
        if t is None:
            if not unknown:
                out[total] = known
            continue
        rest = t - known
        if len(unknown) == 1:
            out[unknown[0]] = rest
        elif unknown and abs(rest) < 1e-9:
            for i in unknown:
                out[i] = 0
    return out


def _digit_splits(text: str, k: int) -> list[list[int]]:
    """Ways to cut a digit string into k numbers without leading zeros."""
    n = len(text)
    out = []
    for cuts in combinations(range(1, n), k - 1):
        bounds = (0, *cuts, n)
        parts = [text[bounds[i]:bounds[i + 1]] for i in range(k)]
        if all(p == "0" or not p.startswith("0") for p in parts):
            out.append([int(p) for p in parts])
    return out


def _slot(t: Token) -> Slot:
    if t.kind == "blank":
        return Slot(None, t, "blank")
    return Slot(t.value, t, "")


def _splittable(t: Token) -> bool:
    return t.kind == "num" and t.text.isdigit() and len(t.text) >= 2


def _short_candidates(tokens: list[Token], n: int) -> list[Candidate]:
    """Fewer tokens than cells: split digit runs and/or leave cells missing."""
    options: list[list[tuple[list[Slot], int]]] = []  # per token: (slots, number of extra cuts)
    for t in tokens:
        opts = [([_slot(t)], 0)]
        if _splittable(t):
            for k in range(2, min(len(t.text), n) + 1):
                for parts in _digit_splits(t.text, k):
                    opts.append(([Slot(v, t, "split") for v in parts], k - 1))
        options.append(opts)
    out: list[Candidate] = []

    def rec(i: int, acc: list[Slot], cuts: int) -> None:
        if len(out) >= MAX_CANDIDATES or len(acc) > n:
            return
        if i == len(options):
            m = len(acc)
            missing = n - m
            for pos in combinations(range(n), m):
                slots = [Slot(None, None, "missing") for _ in range(n)]
                for p, s in zip(pos, acc, strict=True):
                    slots[p] = s
                prior = -0.6 * cuts - 1.0 * missing
                if missing and pos and pos[-1] == n - 1:
                    prior += 0.3  # the last printed value is most likely the total
                prior -= 0.002 * sum(pos)  # vanished blanks are more often on the right
                kind = "split" if cuts and not missing else "short"
                out.append(Candidate(slots, prior, kind))
                if len(out) >= MAX_CANDIDATES:
                    return
            return
        for slots, c in options[i]:
            rec(i + 1, acc + slots, cuts + c)

    rec(0, [], 0)
    return out


def _long_candidates(tokens: list[Token], n: int) -> list[Candidate]:
    """More tokens than cells: merge split numbers (2|0 → 20) or drop extra cells."""
    extra = len(tokens) - n
    out: list[Candidate] = []
    # merges of adjacent digit tokens: a number split by a stray separator (2|0 → 20, 1 234 → 1234)
    pairs = [i for i in range(len(tokens) - 1)
             if tokens[i].kind == "num" and tokens[i + 1].kind == "num"
             and tokens[i].text.isdigit() and tokens[i + 1].text.isdigit()
             and len(tokens[i].text) <= 3 and tokens[i].text != "0"]
    for chosen in combinations(pairs, extra):
        if any(b - a < 2 for a, b in zip(chosen, chosen[1:], strict=False)):
            continue
        slots, i = [], 0
        while i < len(tokens):
            if i in chosen:
                a, b = tokens[i], tokens[i + 1]
                slots.append(Slot(int(a.text + b.text), a, "merged"))
                i += 2
            else:
                slots.append(_slot(tokens[i]))
                i += 1
        out.append(Candidate(slots, -1.0 * extra, "merged"))
    for drop in combinations(range(len(tokens)), extra):
        kept = [_slot(t) for i, t in enumerate(tokens) if i not in drop]
        out.append(Candidate(kept, -1.5 * extra - 0.001 * sum(drop), "long", [tokens[i] for i in drop]))
        if len(out) >= MAX_CANDIDATES:
            break
    return out


def candidates(tokens: list[Token], n: int, groups: SumGroups) -> list[Candidate]:
    """Readings of a row, feasible ones first, best prior first."""
    if len(tokens) == n:
        return [Candidate([_slot(t) for t in tokens], 0.0, "exact")]
    if not tokens:
        return [Candidate([Slot(None, None, "missing") for _ in range(n)], -9.0, "short")]
    cands = _short_candidates(tokens, n) if len(tokens) < n else _long_candidates(tokens, n)
    ok = [c for c in cands if feasible(c.values(), groups)]
    pool = ok or cands
    pool.sort(key=lambda c: -c.prior)
    return pool

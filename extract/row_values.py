"""Candidate readings of one row's printed values when their count is not the row's width.

A row may print fewer tokens than cells (blank cells that vanished, a digit run such as
`230100024` for seven cells, a dropped cell) or more (a doubled cell, a number split in two by a
stray separator, `2|0` for 20). Every reading that could have produced the printed tokens is
generated with a prior; the row's own sums and, later, the table's column identities choose.
A reading never shifts values silently: whatever is chosen is reported by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations

from nianbao.extract.tokens import Token

MAX_CANDIDATES = 4000
MAX_KEPT = 300  # readings handed to the table-level choice
PRIOR_REACH = 3.0  # how much less likely than the best a reading may be and still be considered


@dataclass(frozen=True)
class Slot:
    value: int | float | None
    token: Token | None
    how: str = ""  # "", "missing", "blank", "split", "merged"


MISSING = Slot(None, None, "missing")  # shared: slots are never changed once made


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


@lru_cache(maxsize=4096)
def _split_sum(text: str, k: int, target: int) -> tuple[tuple[int, ...], ...]:
    """Ways to cut text into k numbers (no leading zeros) that add up to target."""
    if k == 1:
        ok = (text == "0" or text[0] != "0") and int(text) == target
        return ((target,),) if ok else ()
    out = []
    for i in range(1, len(text) - k + 2):
        head = text[:i]
        if len(head) > 1 and head[0] == "0":
            break
        v = int(head)
        if v > target:
            break
        out.extend((v, *rest) for rest in _split_sum(text[i:], k - 1, target - v))
    return tuple(out)


def _splits_holding_sum(text: str, n: int) -> list[list[int]]:
    """A whole row glued into one run: its n cells, the last the total of the others."""
    out = []
    for lt in range(1, len(text) - n + 2):
        suffix = text[-lt:]
        if len(suffix) > 1 and suffix[0] == "0":
            continue
        total = int(suffix)
        out.extend([*parts, total] for parts in _split_sum(text[:-lt], n - 1, total))
    return out


def _slot(t: Token) -> Slot:
    if t.kind == "blank":
        return Slot(None, t, "blank")
    return Slot(t.value, t, "")


def _splittable(t: Token) -> bool:
    return len(t.digits) >= 2


def _short_candidates(tokens: list[Token], n: int, verifiable: bool, groups: SumGroups | None = None) -> list[Candidate]:
    """Fewer tokens than cells: split digit runs and/or leave cells missing.

    Splitting a run is cheap only where a row sum can verify it; elsewhere a missing cell is the
    more honest reading, except for runs of zeros (`000`), which split only one way.
    """
    costs = [(1.0 if verifiable or set(t.digits) == {"0"} else 2.5) if _splittable(t) else None for t in tokens]
    cache: dict[tuple[int, int], list[list[Slot]]] = {}

    def ways(i: int, k: int) -> list[list[Slot]]:
        """Token i read as k numbers (k = 1: as printed), built only when a reading needs it."""
        if (i, k) not in cache:
            t = tokens[i]
            if k == 1:
                cache[i, k] = [[_slot(t)]]
            elif len(tokens) == 1 and k == n and groups == [(tuple(range(n - 1)), n - 1)]:
                # the row sum prunes the cutting itself (a 19-digit run has 18,564 cuts, few hold)
                cache[i, k] = [[Slot(v, t, "split") for v in parts] for parts in _splits_holding_sum(t.digits, n)]
            else:
                cache[i, k] = [[Slot(v, t, "split") for v in parts] for parts in _digit_splits(t.digits, k)]
        return cache[i, k]

    def counts(i: int) -> range:
        return range(1, min(len(tokens[i].digits), n) + 1) if costs[i] is not None else range(1, 2)

    out: list[Candidate] = []

    def rec(i: int, acc: list[Slot], cuts: float, full_only: bool) -> None:
        if len(out) >= MAX_CANDIDATES or len(acc) > n:
            return
        if i == len(tokens):
            m = len(acc)
            missing = n - m
            if full_only and missing:
                return
            for pos in combinations(range(n), m):
                slots = [MISSING] * n
                for p, s in zip(pos, acc, strict=True):
                    slots[p] = s
                prior = -0.6 * cuts - 1.0 * missing
                if cuts and missing:
                    prior -= 2.0  # runs are glued whole rows; a split that still leaves gaps is unlikely
                if verifiable and missing and pos and pos[-1] == n - 1:
                    prior += 0.3  # the last printed value is most likely the total
                prior -= 0.002 * sum(pos)  # vanished blanks are more often on the right
                kind = "split" if cuts and not missing else "short"
                out.append(Candidate(slots, prior, kind))
                if len(out) >= MAX_CANDIDATES:
                    return
            return
        rest = len(tokens) - i - 1  # every later token takes at least one cell
        for k in counts(i):
            if len(acc) + k + rest > n or (full_only and i == len(tokens) - 1 and len(acc) + k != n):
                continue
            for slots in ways(i, k):
                rec(i + 1, acc + slots, cuts + (k - 1) * (costs[i] or 0), full_only)

    # readings that fill every cell first (a digit run split all the way); a complete reading that
    # satisfies the row's sums makes readings with invented gaps moot
    rec(0, [], 0, True)
    glued = len(tokens) <= n // 2  # a crawler's run of digits, not a row that lost a cell
    if not (glued and verifiable and any(feasible(c.values(), groups) for c in out)):
        rec(0, [], 0, False)
    seen: set[tuple] = set()
    unique = []
    for c in out:
        key = (tuple(c.values()), c.kind)
        if key not in seen:
            seen.add(key)
            unique.append(c)
    return unique


def _long_candidates(tokens: list[Token], n: int, verifiable: bool) -> list[Candidate]:
    """More tokens than cells: merge split numbers (2|0 → 20) or drop extra cells.

    A merge is preferred only where a row sum can confirm it; a doubled cell (the same value
    twice in a row) is the likelier extra otherwise.
    """
    extra = len(tokens) - n
    out: list[Candidate] = []
    # merges of adjacent digit tokens: a number split by a stray separator (2|0 → 20, 1 234 → 1234)
    pairs = [i for i in range(len(tokens) - 1)
             if tokens[i].kind == "num" and tokens[i + 1].kind == "num"
             and tokens[i].digits and tokens[i + 1].digits
             and len(tokens[i].digits) <= 3 and tokens[i].digits != "0"]
    for chosen in combinations(pairs, extra):
        if any(b - a < 2 for a, b in zip(chosen, chosen[1:], strict=False)):
            continue
        slots, i = [], 0
        while i < len(tokens):
            if i in chosen:
                a, b = tokens[i], tokens[i + 1]
                slots.append(Slot(int(a.digits + b.digits), a, "merged"))
                i += 2
            else:
                slots.append(_slot(tokens[i]))
                i += 1
        joined = sum(1 for i in chosen if tokens[i].joined_next)
        base = -1.0 * extra if verifiable else -1.5 * extra
        out.append(Candidate(slots, base + 0.8 * joined, "merged"))
    for drop in combinations(range(len(tokens)), extra):
        kept = [_slot(t) for i, t in enumerate(tokens) if i not in drop]
        doubled = sum(0.2 for i in drop if any(0 <= j < len(tokens) and j != i and tokens[j].text == tokens[i].text
                                               for j in (i - 1, i + 1)))
        out.append(Candidate(kept, -1.5 * extra + doubled + 0.001 * sum(drop), "long", [tokens[i] for i in drop]))
        if len(out) >= MAX_CANDIDATES:
            break
    return out


def candidates(tokens: list[Token], n: int, groups: SumGroups) -> list[Candidate]:
    """Readings of a row, feasible ones first, best prior first."""
    if len(tokens) == n:
        exact = Candidate([_slot(t) for t in tokens], 0.0, "exact")
        if not groups or feasible(exact.values(), groups) or not any(t.joined_next for t in tokens):
            return [exact]
        # the sum fails, and two numbers shared a cell: read them as one number, a cell missing
        alt: list[Candidate] = []
        for i, t in enumerate(tokens[:-1]):
            if not t.joined_next or not (t.digits and tokens[i + 1].digits):
                continue
            merged = Token("num", t.text + tokens[i + 1].text, t.start, tokens[i + 1].end, t.line,
                           int(t.digits + tokens[i + 1].digits), t.repaired or tokens[i + 1].repaired)
            for c in _short_candidates(tokens[:i] + [merged] + tokens[i + 2:], n, True, groups):
                if feasible(c.values(), groups):
                    c.prior -= 0.5
                    c.kind = "merged"
                    alt.append(c)
        alt.sort(key=lambda c: -c.prior)
        return alt + [exact] if alt else [exact]
    if not tokens:
        return [Candidate([MISSING] * n, -9.0, "short")]
    verifiable = bool(groups)
    cands = (_short_candidates(tokens, n, verifiable, groups) if len(tokens) < n
             else _long_candidates(tokens, n, verifiable))
    ok = [c for c in cands if feasible(c.values(), groups)]
    pool = ok or cands
    pool.sort(key=lambda c: -c.prior)
    # readings far less likely than the best cannot win on identities they merely tie on
    best = pool[0].prior
    return [c for c in pool if c.prior >= best - PRIOR_REACH][:MAX_KEPT]

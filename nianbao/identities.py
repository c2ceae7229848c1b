"""The template's own arithmetic (勾稽关系) as linear identities over cell keys.

Both the parser (to split digit runs and place short rows) and the rules (to flag and fill) need
the same identities, so they live here, derived from the spec rather than listed by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from nianbao.readings import Number, Reading, SumGroup, complete, forced, holds
from nianbao.spec import T3_COLUMNS, T3_PART_COLUMNS, T4_COLUMNS, T4_GROUPS, t3_rows

NON_RESULT_ROWS = ("new_received", "carried_over", "total_processed", "carried_forward")


@dataclass(frozen=True)
class Identity:
    """Σ lhs = Σ rhs."""

    id: str
    kind: str  # "row_sum", "balance", "result_sum", "t4_sum"
    lhs: tuple[str, ...]
    rhs: tuple[str, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return self.lhs + self.rhs

    def residual(self, cells: Mapping[str, float | None]) -> float | None:
        """lhs − rhs, or None when a cell is missing."""
        vals = [cells.get(k) for k in self.keys]
        if any(v is None for v in vals):
            return None
        return sum(cells[k] for k in self.lhs) - sum(cells[k] for k in self.rhs)  # type: ignore[misc]

    def solve_for(self, key: str, cells: Mapping[str, float | None]) -> float | None:
        """The value `key` must take for the identity to hold, given every other cell."""
        others_l = [k for k in self.lhs if k != key]
        others_r = [k for k in self.rhs if k != key]
        if any(cells.get(k) is None for k in others_l + others_r):
            return None
        sl = sum(cells[k] for k in others_l)  # type: ignore[misc]
        sr = sum(cells[k] for k in others_r)  # type: ignore[misc]
        if key in self.lhs:
            return sr - sl
        if key in self.rhs:
            return sl - sr
        return None


    def feasible(self, cells: Mapping[str, float | None]) -> bool:
        """Could non-negative values in the unknown cells make the identity hold?"""
        get = cells.get
        return holds([get(k) for k in self.lhs], [get(k) for k in self.rhs])

    def forced(self, cells: Mapping[str, float | None]) -> dict[str, float]:
        """Unknown cells this identity fixes: the only unknown, or unknowns that must all be 0."""
        found = forced([cells.get(k) for k in self.lhs], [cells.get(k) for k in self.rhs])
        return {(self.lhs if side == "l" else self.rhs)[i]: v for (side, i), v in found.items()}


def result_rows(template: str) -> tuple[str, ...]:
    return tuple(r for r in t3_rows(template) if r not in NON_RESULT_ROWS)


@cache
def identities(template: str) -> tuple[Identity, ...]:
    """Every identity of the template, table 三 and table 四."""
    out: list[Identity] = []
    for row in t3_rows(template):
        out.append(Identity(
            f"t3.row_sum.{row}", "row_sum",
            tuple(f"t3.{row}.{c}" for c in T3_PART_COLUMNS), (f"t3.{row}.total",)))
    for col in T3_COLUMNS:
        out.append(Identity(
            f"t3.balance.{col}", "balance",
            (f"t3.new_received.{col}", f"t3.carried_over.{col}"),
            (f"t3.total_processed.{col}", f"t3.carried_forward.{col}")))
        out.append(Identity(
            f"t3.result_sum.{col}", "result_sum",
            tuple(f"t3.{r}.{col}" for r in result_rows(template)), (f"t3.total_processed.{col}",)))
    for g in T4_GROUPS:
        out.append(Identity(
            f"t4.sum.{g}", "t4_sum", tuple(f"t4.{g}.{c}" for c in T4_COLUMNS[:-1]), (f"t4.{g}.total",)))
    return tuple(out)


@cache
def identities_by_key(template: str) -> dict[str, tuple[Identity, ...]]:
    out: dict[str, list[Identity]] = {}
    for ident in identities(template):
        for k in ident.keys:
            out.setdefault(k, []).append(ident)
    return {k: tuple(v) for k, v in out.items()}


# ---------------------------------------------------------------------------- choosing readings
#
# The one arithmetic engine: the parser hands over, per row, the readings its printed numbers allow
# (nianbao.readings); the template's identities choose among them. Row sums act inside each row's
# search; the identities across rows (一+二 = (七)+四 and (七) = Σ results, per column) act here.


@dataclass(frozen=True)
class RowOptions:
    """One printed row: its cell keys, its sum groups (positions) and its readings, best first."""

    row: str  # e.g. "t3.granted"
    keys: tuple[str, ...]
    groups: tuple[SumGroup, ...]
    readings: tuple[Reading, ...]


@dataclass
class TableReading:
    """The readings the identities chose, and what they could not decide."""

    picks: dict[str, Reading]
    # rows whose identities left several readings open: their distinct (completed) values
    options: dict[str, list[tuple[Number | None, ...]]]
    uncertain: set[str]
    violations: int  # identities the chosen reading breaks (row sums and column identities)


@cache
def row_groups(keys: tuple[str, ...], template: str) -> tuple[SumGroup, ...]:
    """The sums inside one printed row, as positions: what the row's own search must respect."""
    pos = {k: i for i, k in enumerate(keys)}
    return tuple((tuple(pos[k] for k in i.lhs), pos[i.rhs[0]]) for i in identities(template)
                 if i.kind in ("row_sum", "t4_sum") and all(k in pos for k in i.keys))


def _violated(ident: Identity, vals: Mapping[str, Number | None]) -> bool:
    return not ident.feasible(vals)


def choose_readings(rows: Sequence[RowOptions], column_ids: Sequence[Identity], *, open_margin: float = 1.5,
                    ambiguity_margin: float = 0.05, max_combinations: int = 20000,
                    hints: Mapping[str, Number] | None = None) -> TableReading:
    """Pick one reading per row: fewest broken identities first, then the likeliest reading.

    A row whose readings are not within `open_margin` of each other is settled by its own best
    reading. The rest are chosen together against the column identities; when the combinations
    are too many, row by row against the others' best. Readings the identities cannot tell apart
    (same broken identities, costs within `ambiguity_margin`) make their differing cells
    uncertain, unless `hints` (values the prose states) leave exactly one of them.
    """
    fixed: dict[str, Number | None] = {}
    picks: dict[str, Reading] = {}
    contenders: dict[str, list[Reading]] = {}
    by_row = {r.row: r for r in rows}
    for r in rows:
        floor = min(x.cost for x in r.readings)
        near = [x for x in r.readings if x.cost <= floor + open_margin]
        distinct: dict[tuple, Reading] = {}
        for x in near:
            distinct.setdefault(complete(x.values, r.groups), x)
        if len(distinct) == 1:
            best = min(near, key=lambda x: (x.violations, x.cost))
            picks[r.row] = best
            fixed.update(zip(r.keys, best.values, strict=True))
        else:
            contenders[r.row] = sorted(distinct.values(), key=lambda x: (x.violations, x.cost))
    open_rows = list(contenders)
    touched = [i for i in column_ids if any(k in fixed or any(k in by_row[o].keys for o in open_rows)
                                            for k in i.keys)]
    relevant = [i for i in touched if any(k in by_row[o].keys for o in open_rows for k in i.keys)]

    def score(choice: Mapping[str, Reading]) -> tuple[int, float]:
        vals = dict(fixed)
        viol = 0
        cost = 0.0
        for row, x in choice.items():
            vals.update(zip(by_row[row].keys, x.values, strict=True))
            viol += x.violations
            cost += x.cost
        viol += sum(1 for i in relevant if _violated(i, vals))
        return viol, cost

    combos: list[tuple[tuple[int, float], dict[str, Reading]]] = []
    total = 1
    for row in open_rows:
        total *= len(contenders[row])
    if open_rows and total <= max_combinations:
        import itertools

        for choice in itertools.product(*(contenders[row] for row in open_rows)):
            c = dict(zip(open_rows, choice, strict=True))
            combos.append((score(c), c))
    elif open_rows:  # too many together: each row against the others' best, twice round
        current = {row: contenders[row][0] for row in open_rows}
        for _ in range(2):
            for row in open_rows:
                options = []
                for x in contenders[row]:
                    trial = dict(current)
                    trial[row] = x
                    options.append((score(trial), trial))
                options.sort(key=lambda o: o[0])
                current = options[0][1]
        combos = [(score(current), current)]
        for row in open_rows:
            for x in contenders[row][1:]:
                trial = dict(current)
                trial[row] = x
                combos.append((score(trial), trial))
    options: dict[str, list[tuple]] = {}
    uncertain: set[str] = set()
    violations = sum(p.violations for p in picks.values())
    if combos:
        combos.sort(key=lambda c: c[0])
        (best_viol, best_cost), best = combos[0]
        tied = [c for (v, cost), c in combos if v == best_viol and cost <= best_cost + ambiguity_margin]
        if hints and len(tied) > 1:
            agreeing = [c for c in tied if _agrees(c, by_row, hints)]
            if len(agreeing) >= 1:
                tied = agreeing
                best = agreeing[0]
        picks.update(best)
        violations = best_viol + sum(p.violations for row, p in picks.items() if row not in best)
        for row in open_rows:
            r = by_row[row]
            seen = list(dict.fromkeys(complete(c[row].values, r.groups) for c in tied))
            if len(seen) > 1:
                options[row] = seen[:8]
                base = seen[0]
                for other in seen[1:]:
                    uncertain.update(k for k, a, b in zip(r.keys, base, other, strict=True) if a != b)
    return TableReading(picks, options, uncertain, violations)


def _agrees(choice: Mapping[str, Reading], by_row: Mapping[str, RowOptions], hints: Mapping[str, Number]) -> bool:
    for row, x in choice.items():
        for k, v in zip(by_row[row].keys, complete(x.values, by_row[row].groups), strict=True):
            if k in hints and v is not None and abs(float(v) - float(hints[k])) > 1e-9:
                return False
    return True

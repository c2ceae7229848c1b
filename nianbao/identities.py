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


class _Table:
    """Bounds on the column identities while the open rows are chosen one by one.

    Each identity keeps, per side, the sum of the cells known so far and, for the rows still to be
    chosen, the least and the most they can add (over their readings). Counts are non-negative, so
    when even the least one side can reach exceeds the most the other side can, the identity is
    already broken — usually many rows before the last one is chosen. Every reading's contribution is
    computed once, so a step of the search is a few additions.
    """

    INF = float("inf")

    def __init__(self, idents: Sequence[Identity], fixed: Mapping[str, Number | None],
                 open_rows: Sequence[RowOptions], contenders: Mapping[str, list[tuple[Reading, tuple]]]) -> None:
        n_id = len(idents)
        open_keys = {k for r in open_rows for k in r.keys}
        self.known = [[0.0, 0.0] for _ in range(n_id)]  # per side: sum of known cells
        self.unknown = [[0, 0] for _ in range(n_id)]  # per side: cells that stay unknown (any value ≥ 0)
        self.rem_min = [[0.0, 0.0] for _ in range(n_id)]
        self.rem_max = [[0.0, 0.0] for _ in range(n_id)]
        self.rem_open = [[0, 0] for _ in range(n_id)]  # remaining rows whose readings may leave a cell unknown
        for n, ident in enumerate(idents):
            for side, ks in ((0, ident.lhs), (1, ident.rhs)):
                for k in ks:
                    if k in open_keys:
                        continue
                    v = fixed.get(k)
                    if v is None:
                        self.unknown[n][side] += 1
                    else:
                        self.known[n][side] += v
        # per row, per reading: [(ident, side, known sum, unknown count)]
        self.contrib: dict[str, list[list[tuple[int, int, float, int]]]] = {}
        self.bounds: dict[str, list[tuple[int, int, float, float, int]]] = {}
        self.touched: dict[str, tuple[int, ...]] = {}  # per row: the identities it touches, each once
        for r in open_rows:
            pos = {k: i for i, k in enumerate(r.keys)}
            touch = [(n, side, tuple(pos[k] for k in ks if k in pos))
                     for n, ident in enumerate(idents) for side, ks in ((0, ident.lhs), (1, ident.rhs))]
            touch = [t for t in touch if t[2]]
            per_reading = []
            for _, done in contenders[r.row]:
                items = []
                for n, side, mine in touch:
                    ksum, unk = 0.0, 0
                    for i in mine:
                        v = done[i]
                        if v is None:
                            unk += 1
                        else:
                            ksum += v
                    items.append((n, side, ksum, unk))
                per_reading.append(items)
            self.contrib[r.row] = per_reading
            bounds = []
            for j, (n, side, _) in enumerate(touch):
                sums = [items[j][2] for items in per_reading]
                opened = int(any(items[j][3] for items in per_reading))
                bounds.append((n, side, min(sums), max(sums), opened))
                self.rem_min[n][side] += min(sums)
                self.rem_max[n][side] += max(sums)
                self.rem_open[n][side] += opened
            self.bounds[r.row] = bounds
            self.touched[r.row] = tuple(dict.fromkeys(n for n, _, _ in touch))

    def settle(self, row: str, sign: int) -> None:
        """`row` leaves (sign 1) or rejoins (sign -1) the rows still to choose: the same for each of its
        readings, so the search does it once per row, not once per reading."""
        rem_min, rem_max, rem_open = self.rem_min, self.rem_max, self.rem_open
        for n, side, lo, hi, opened in self.bounds[row]:
            rem_min[n][side] -= sign * lo
            rem_max[n][side] -= sign * hi
            rem_open[n][side] -= sign * opened

    def apply(self, row: str, choice: int, sign: int) -> None:
        """Take (sign 1) or give back (sign -1) reading `choice` of a settled `row`."""
        known, unknown = self.known, self.unknown
        for n, side, ksum, unk in self.contrib[row][choice]:
            known[n][side] += sign * ksum
            unknown[n][side] += sign * unk

    def broken(self, row: str) -> list[int]:
        """Identities touched by `row` that can no longer hold, whatever the rows left to choose."""
        out = []
        inf = self.INF
        known, rem_min, rem_max, unknown, rem_open = self.known, self.rem_min, self.rem_max, self.unknown, self.rem_open
        for n in self.touched[row]:
            kl, kr = known[n]
            lo_l = kl + rem_min[n][0]
            lo_r = kr + rem_min[n][1]
            hi_l = inf if (unknown[n][0] or rem_open[n][0]) else kl + rem_max[n][0]
            hi_r = inf if (unknown[n][1] or rem_open[n][1]) else kr + rem_max[n][1]
            if lo_l > hi_r + 1e-6 or lo_r > hi_l + 1e-6:
                out.append(n)
        return out


def choose_readings(rows: Sequence[RowOptions], column_ids: Sequence[Identity], *, open_margin: float = 1.5,
                    ambiguity_margin: float = 0.05, max_combinations: int = 20000,
                    hints: Mapping[str, Number] | None = None) -> TableReading:
    """Pick one reading per row: fewest broken identities first, then the likeliest reading.

    A row whose readings are not within `open_margin` of each other is settled by its own best
    reading. The rest are chosen together against the column identities by a depth-first search
    that abandons a partial choice as soon as it breaks more identities than the best one found,
    within a budget of `max_combinations` steps. Readings are compared with the cells their own
    row sums force filled in (a vanished blank in a row that already adds up is 0). Readings the
    identities cannot tell apart (same broken identities, costs within `ambiguity_margin`) make
    their differing cells uncertain, unless `hints` (values the prose states) leave one of them.
    """
    fixed: dict[str, Number | None] = {}
    picks: dict[str, Reading] = {}
    contenders: dict[str, list[tuple[Reading, tuple[Number | None, ...]]]] = {}
    by_row = {r.row: r for r in rows}
    for r in rows:
        floor = min(x.cost for x in r.readings)
        near = [x for x in r.readings if x.cost <= floor + open_margin]
        distinct: dict[tuple, Reading] = {}
        for x in sorted(near, key=lambda x: (x.violations, x.cost)):
            distinct.setdefault(complete(x.values, r.groups), x)
        if len(distinct) == 1:
            (done, best), = distinct.items()
            picks[r.row] = best
            fixed.update(zip(r.keys, done, strict=True))
        else:
            contenders[r.row] = [(x, done) for done, x in distinct.items()]
    _propagate(contenders, fixed, picks, by_row, column_ids)
    open_rows = sorted(contenders, key=lambda row: len(contenders[row]))
    idents = [i for i in column_ids if any(k in by_row[o].keys for o in open_rows for k in i.keys)]
    table = _Table(idents, fixed, [by_row[o] for o in open_rows], contenders)
    base_viol = sum(p.violations for p in picks.values()) + sum(1 for i in idents if not i.feasible(fixed)
                                                               and not any(k in by_row[o].keys for o in open_rows
                                                                           for k in i.keys))
    best: list[tuple[int, float, dict[str, Reading]]] = []  # ties of the best (violations, cost)
    steps = 0
    dead: list[int] = [0] * len(idents)

    # the least the rows from `depth` on can still add: a branch that cannot catch up even so is cut
    rest_viol = [0] * (len(open_rows) + 1)
    rest_cost = [0.0] * (len(open_rows) + 1)
    for d in range(len(open_rows) - 1, -1, -1):
        readings = [x for x, _ in contenders[open_rows[d]]]
        rest_viol[d] = rest_viol[d + 1] + min(x.violations for x in readings)
        rest_cost[d] = rest_cost[d + 1] + min(x.cost for x in readings)

    def dfs(depth: int, viol: int, cost: float, choice: dict[str, Reading]) -> None:
        nonlocal steps
        if steps > max_combinations:
            return
        low_v, low_c = viol + rest_viol[depth], cost + rest_cost[depth]
        if best and (low_v > best[0][0] or (low_v == best[0][0] and low_c > best[0][1] + ambiguity_margin)):
            return  # costs only grow deeper down: this branch cannot catch up
        if depth == len(open_rows):
            best.append((viol, cost, dict(choice)))
            top_v = min(b[0] for b in best)
            top_c = min(b[1] for b in best if b[0] == top_v)
            best[:] = sorted((b for b in best if b[0] == top_v and b[1] <= top_c + ambiguity_margin),
                             key=lambda b: b[1])[:64]
            return
        row = open_rows[depth]
        table.settle(row, 1)
        for index, (reading, _) in enumerate(contenders[row]):
            steps += 1
            table.apply(row, index, 1)
            newly = [n for n in table.broken(row) if not dead[n]]
            for n in newly:
                dead[n] = 1
            choice[row] = reading
            dfs(depth + 1, viol + reading.violations + len(newly), cost + reading.cost, choice)
            del choice[row]
            for n in newly:
                dead[n] = 0
            table.apply(row, index, -1)
        table.settle(row, -1)

    options: dict[str, list[tuple]] = {}
    uncertain: set[str] = set()
    violations = base_viol
    if open_rows:
        dfs(0, 0, 0.0, {})
        if not best:  # the budget ran out before any full choice: each row its own best
            best = [(0, 0.0, {row: contenders[row][0][0] for row in open_rows})]
        tied = [c for _, _, c in best]
        if hints and len(tied) > 1:
            agreeing = [c for c in tied if _agrees(c, by_row, hints)]
            if agreeing:
                tied = agreeing
        chosen = tied[0]
        picks.update(chosen)
        violations = base_viol + best[0][0]
        exhausted = steps > max_combinations
        for row in open_rows:
            r = by_row[row]
            seen = list(dict.fromkeys(complete(c[row].values, r.groups) for c in tied))
            if exhausted:  # not every combination was weighed: every near reading stays possible
                seen = list(dict.fromkeys([complete(chosen[row].values, r.groups)] + [d for _, d in contenders[row]]))
            if len(seen) > 1:
                options[row] = seen[:8]
                base = seen[0]
                for other in seen[1:]:
                    uncertain.update(k for k, a, b in zip(r.keys, base, other, strict=True) if a != b)
    return TableReading(picks, options, uncertain, violations)


def _propagate(contenders: dict[str, list[tuple[Reading, tuple]]], fixed: dict[str, Number | None],
               picks: dict[str, Reading], by_row: Mapping[str, RowOptions], column_ids: Sequence[Identity]) -> None:
    """Settle open rows the identities decide alone: where a row is the only open one of an identity,
    keep the readings that let it hold; a row left with one reading is fixed, which may settle more."""
    owner = {k: row for row in contenders for k in by_row[row].keys}
    changed = True
    while changed and contenders:
        changed = False
        for ident in column_ids:
            rows_in = {owner[k] for k in ident.keys if k in owner}
            if len(rows_in) != 1:
                continue
            (row,) = rows_in
            if row not in contenders:
                continue
            keys = by_row[row].keys
            ok = []
            for reading, done in contenders[row]:
                vals = dict(fixed)
                vals.update(zip(keys, done, strict=True))
                if ident.feasible(vals):
                    ok.append((reading, done))
            if ok and len(ok) < len(contenders[row]):
                contenders[row] = ok
                changed = True
            if len(contenders[row]) == 1:
                reading, done = contenders.pop(row)[0]
                picks[row] = reading
                fixed.update(zip(keys, done, strict=True))
                for k in keys:
                    owner.pop(k, None)
                changed = True


def _agrees(choice: Mapping[str, Reading], by_row: Mapping[str, RowOptions], hints: Mapping[str, Number]) -> bool:
    for row, x in choice.items():
        for k, v in zip(by_row[row].keys, complete(x.values, by_row[row].groups), strict=True):
            if k in hints and v is not None and abs(float(v) - float(hints[k])) > 1e-9:
                return False
    return True

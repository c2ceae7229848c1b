"""Every way a row's printed numbers can fill its cells, cheapest first, in bounded work.

A table row prints pieces — numbers as printed, blank markers — that should fill its n cells one
to one. Real reports break that in a few ways: a crawler glues a whole row into one digit run
(`713000074` for 71, 3, 0, 0, 0, 0, 74), blank cells vanish, a number is split by a stray space
(`1 4`), a cell is doubled, OCR debris sits among the numbers. A *reading* explains the pieces with
edits — cut a run, leave a cell missing, read two pieces as one number, leave a piece out — each
with a cost (extract/parse/settings.py). The cheapest reading that the row's own sums accept wins;
near-ties are kept so the table's identities, and then the prose, can choose.

The search runs right to left so that each sum group's total is read before its parts: every part
must then fit under what the total leaves, which prunes a digit run's cuts to the few that add up.
A budget of search steps bounds any row, however long its run; a run longer than the row could hold
is not searched at all.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

Number = int | float
SumGroup = tuple[tuple[int, ...], int]  # (positions of the parts, position of their total)

PLAIN_COST = 99.0  # the cost of the fallback reading of a row the search could not read
GAPS = ("none", "in_cell", "space", "cell", "line", "text")


@dataclass(slots=True)
class Piece:
    """One thing printed in a row: a number as printed, or a blank marker (value None).

    Mutable only while the reader sets `gap` and `isolated`; nothing changes it afterwards."""

    value: Number | None  # None for a blank, or a number too long to be one cell (its digits remain)
    digits: str = ""  # the digits of a number a reading may cut or join ("" when it may not)
    sign: str = ""  # "+"/"-" printed before a run: it belongs to the run's first cell
    decimal: str = ""  # ".45" ending a run: it belongs to the run's last cell
    gap: str = "cell"  # what separates it from the piece before it (one of GAPS; "none": they touch)
    isolated: bool = False  # text stands between it and every other piece of the row
    blank: bool = False  # a blank marker (/, 无, an empty grid cell): a cell printed empty


@dataclass(frozen=True, slots=True)
class Reading:
    """One way to fill a row's cells from its pieces."""

    values: tuple[Number | None, ...]
    pieces: tuple[int, ...]  # per cell: the piece it came from, -1 for none
    how: tuple[str, ...]  # per cell: "" as printed, "split", "merged", "blank", "missing"
    dropped: tuple[int, ...]  # pieces left out
    cost: float
    violations: int = 0  # row sums the reading breaks

    @property
    def kind(self) -> str:
        """exact (one piece per cell), split (a run cut), short (cells missing), merged, long (dropped)."""
        if self.dropped:
            return "long"
        if "merged" in self.how:
            return "merged"
        if "missing" in self.how:
            return "short"
        if "split" in self.how:
            return "split"
        return "exact"


@dataclass(frozen=True)
class Costs:
    """What each edit between the printed numbers and a row's cells costs a reading, and how far the
    search may go. Costs are negative log-odds in "surprise" units; the parser's settings hold one
    of these (ParserSettings.reading), so this core module needs no parser."""

    # a cut inside a printed digit run, where the whole row is glued into few runs (a crawler's
    # flattened table) and where a run sits among separated numbers (less likely)
    cut_glued: float = 0.2
    cut: float = 1.2
    # a cell with nothing printed for it (a blank that vanished)
    missing: float = 1.0
    # … in a glued row that also needs cuts: a crawler glues whole rows, so a gap is unlikely
    missing_in_glued: float = 2.0
    # two printed numbers read as one cell, by what separated them: a space inside one cell of a
    # tab/pipe row, a space in a space-separated line, a tab/pipe/grid cell boundary, a line break
    merge: tuple[float, float, float, float] = (0.4, 1.2, 1.6, 2.2)
    # a printed number left out of the row (a doubled cell, OCR debris)
    drop: float = 2.0
    # … less when it repeats its neighbour, or when text stands between it and the row's numbers
    drop_doubled: float = 0.3
    drop_isolated: float = 0.6
    # a blank cell (an empty grid cell, "/") left out
    drop_blank: float = 0.5
    # a total smaller than one of its own parts cannot be (counts are ≥ 0): such readings cost more
    total_below_part: float = 2.0
    # vanished blanks are a little more often on the right; a tie-break, not a decision
    missing_per_position: float = 0.002
    # the last printed value of a short row is more likely its total than a part
    total_printed_last: float = 0.3
    # the most digits one cell may hold; a digit run longer than cells × this is no row at all
    max_cell_digits: int = 9
    # readings within this margin of the best one are kept for the table's identities to choose
    reach: float = 1.5
    # the most readings kept per row, and the most search steps one row may take (bounds the work
    # of any row, however long its digit run)
    max_readings: int = 64
    max_steps: int = 6000
    max_steps_relaxed: int = 2000


def _joined(left: Piece, right: Piece, max_digits: int) -> Number | None:
    """Two pieces read as one number (`2|0` → 20, `24 9.1` → 249.1, `125.61 43` → 125.6143), or None."""
    if not left.digits or not right.digits or left.blank or right.blank or (left.decimal and right.decimal):
        return None
    if left.decimal:  # the right piece continues the decimals
        if right.decimal:
            return None
        value: Number = float(left.digits + left.decimal + right.digits)
    else:
        whole = left.digits + right.digits
        if not _int_ok(whole) or len(whole) > max_digits:
            return None
        value = float(whole + right.decimal) if right.decimal else int(whole)
    return -value if left.sign == "-" else value


def _int_ok(d: str) -> bool:
    return d == "0" or (bool(d) and d[0] != "0")


class _Search:
    def __init__(self, pieces: Sequence[Piece], n: int, groups: Sequence[SumGroup], costs: Costs,
                 strict: bool, max_steps: int, signed: tuple[int, ...] | None = None) -> None:
        self.max_steps = max_steps
        self.signed = None if signed is None else frozenset(signed)
        self.p = list(pieces)
        self.n = n
        self.c = costs
        self.strict = strict
        self.total_of: dict[int, int] = {}  # total position → group index
        self.first_part: dict[int, int] = {}  # lowest part position → group index
        self.group_of: dict[int, int] = {}  # part position → group index
        for g, (parts, total) in enumerate(groups):
            self.total_of[total] = g
            self.first_part[min(parts)] = g
            for i in parts:
                self.group_of[i] = g
        # cells 0..j all parts of one group: what is left of a cut run must fit in them under its total
        self.parts_to_left = [all(self.group_of.get(i, -1) == self.group_of.get(j, -2) for i in range(j + 1))
                              for j in range(n)]
        self._least: dict[tuple[int, int, int], float] = {}
        # a crawler's flattened row: its pieces touch (0+34636) or are few runs for many cells
        runs = [x for x in self.p if len(x.digits) >= 2]
        touching = all(x.gap == "none" for x in self.p[1:])
        self.glued = bool(runs) and (touching or len(self.p) <= max(1, n // 2))
        self.cut_cost = costs.cut_glued if self.glued else costs.cut
        self.miss_cost = costs.missing_in_glued if (self.glued and len(self.p) < n) else costs.missing
        self.steps = 0
        # the cheapest way to be rid of a surplus piece, and to fill a surplus cell, in this row
        merges = [self._merge_cost(x.gap) for x in self.p[1:] if x.digits]
        drops = [self._drop_cost(q) for q in range(len(self.p))]
        self.h_extra = max(0.0, min(merges + drops, default=0.0))
        splittable = any(len(x.digits) >= 2 for x in self.p)
        self.h_cell = min(self.miss_cost, self.cut_cost) if splittable else self.miss_cost

    # ------------------------------------------------------------------ edits

    def _merge_cost(self, gap: str) -> float:
        return {"none": self.c.merge[0], "in_cell": self.c.merge[0], "space": self.c.merge[1],
                "cell": self.c.merge[2]}.get(gap, self.c.merge[3])

    def _drop_cost(self, q: int) -> float:
        piece = self.p[q]
        if piece.blank:
            return self.c.drop_blank
        cost = self.c.drop
        if piece.isolated:
            cost -= self.c.drop_isolated
        for r in (q - 1, q + 1):
            if 0 <= r < len(self.p) and self.p[r].value == piece.value and self.p[r].digits == piece.digits:
                cost -= self.c.drop_doubled
                break
        return cost

    def _moves(self, k: int, o: int, j: int):
        """(value, piece, how, cost, new_k, new_o) for cell j at position (k, o); drops separately."""
        p = self.p
        D = self.c.max_cell_digits
        if o > 0:  # inside piece k, whose digits[:o] remain
            piece = p[k]
            d = piece.digits[:o]
            if _int_ok(d):
                yield (self._signed(piece, int(d)), k, "split", 0.0, k, 0)
            for t in range(max(1, o - D), o):
                part = d[t:]
                if _int_ok(part):
                    yield (int(part), k, "split", self.cut_cost, k, t)
            return
        if k == 0:
            return
        q = k - 1
        piece = p[q]
        if piece.blank:
            yield (None, q, "blank", 0.0, q, 0)
        elif piece.value is not None:
            yield (piece.value, q, "", 0.0, q, 0)
        d = piece.digits
        if len(d) >= 2:
            for t in range(max(1, len(d) - D), len(d)):
                part = d[t:]
                if _int_ok(part):
                    value: Number = int(part) + float(piece.decimal) if piece.decimal else int(part)
                    yield (value, q, "split", self.cut_cost, q, t)
        if q >= 1 and d and not piece.sign:
            left = p[q - 1]
            joined = _joined(left, piece, D)
            if joined is not None:
                yield (joined, q - 1, "merged", self._merge_cost(piece.gap), q - 1, 0)

    def _least_split(self, k: int, o: int, m: int) -> float:
        """The least sum piece k's first o digits can make cut into at most m cells (inf: they cannot).

        Digits inside a run are never left out, so this bounds what those cells must hold."""
        key = (k, o, m)
        if key in self._least:
            return self._least[key]
        d = self.p[k].digits[:o]
        D = self.c.max_cell_digits
        inf = float("inf")
        # best[i][c]: least sum of d[:i] in exactly c cells
        best = [[inf] * (m + 1) for _ in range(o + 1)]
        best[0][0] = 0.0
        for i in range(1, o + 1):
            for t in range(max(0, i - D), i):
                part = d[t:i]
                if not _int_ok(part):
                    continue
                v = int(part)
                row, prev = best[i], best[t]
                for c in range(1, m + 1):
                    if prev[c - 1] + v < row[c]:
                        row[c] = prev[c - 1] + v
        out = min(best[o][1:], default=inf)
        self._least[key] = out
        return out

    def _carries_sign(self, q: int, how: str, new_o: int) -> bool:
        """Whether the cell just read starts piece q, whose printed sign (+3462) then belongs to it."""
        if q < 0 or not self.p[q].sign:
            return False
        return how in ("", "merged") or (how == "split" and new_o == 0)

    @staticmethod
    def _signed(piece: Piece, v: int) -> int:
        return -v if piece.sign == "-" else v

    # ------------------------------------------------------------------ search

    def _floor(self, k: int, o: int, j: int) -> float:
        """A lower bound on what finishing from here costs (keeps the search on promising paths)."""
        pieces = k + (1 if o > 0 else 0)
        cells = j + 1
        if pieces > cells:
            return (pieces - cells) * self.h_extra
        if cells > pieces:
            return (cells - pieces) * self.h_cell
        return 0.0

    def run(self, limit: int) -> list[Reading]:
        """Complete readings in order of cost, at most `limit`, within `reach` of the best."""
        c = self.c
        n = self.n
        weight = 0.0
        # state: k, o, j, remainder of the open sum group, its unknown parts, violations, path
        heap: list[tuple[float, int, float, tuple]] = [(self._floor(len(self.p), 0, n - 1), 0, 0.0,
                                                        (len(self.p), 0, n - 1, None, 0, 0, None))]
        seen: dict[tuple, int] = {}
        out: list[Reading] = []
        best: float | None = None
        tick = 0
        while heap:
            f, _, cost, state = heapq.heappop(heap)
            if best is not None and f > best + c.reach:
                break
            self.steps += 1
            if self.steps > self.max_steps:
                break
            k, o, j, rem, unk, viol, path = state
            key = (k, o, j, rem, unk, viol)
            if seen.get(key, 0) >= limit:
                continue
            seen[key] = seen.get(key, 0) + 1
            if j < 0:
                if o > 0:
                    continue  # part of a cut run is left over: not a reading
                if k > 0:  # pieces left over on the left: leave them out
                    extra = sum(self._drop_cost(q) for q in range(k))
                    tick += 1
                    heapq.heappush(heap, (cost + extra, tick, cost + extra,
                                          (0, 0, -1, None, 0, viol, ("drop", tuple(range(k)), path))))
                    continue
                if best is None:
                    best = cost
                out.append(self._reading(path, cost - weight * viol, viol))
                if len(out) >= limit:
                    break
                continue
            # leave piece q = k-1 out (only between cells, never inside a run)
            if o == 0 and k > 0:
                g = cost + self._drop_cost(k - 1)
                tick += 1
                heapq.heappush(heap, (g + self._floor(k - 1, 0, j), tick, g,
                                      (k - 1, 0, j, rem, unk, viol, ("drop", (k - 1,), path))))
            # cell j has nothing printed
            moves = list(self._moves(k, o, j))
            miss = self.miss_cost + c.missing_per_position * (n - 1 - j)
            if j in self.total_of and self.p:
                miss += c.total_printed_last  # the last printed value of a group is likelier its total
            moves.append((None, -1, "missing", miss, k, o))
            for value, q, how, step, nk, no in moves:
                if self.signed is not None and j not in self.signed and value is not None and \
                        (value < 0 or self._carries_sign(q, how, no)):
                    continue  # a count is never negative nor printed with a sign: only a change (本年增/减) is
                checked = self._check(j, value, rem, unk, viol)
                if checked is None:
                    continue
                nrem, nunk, nviol, extra = checked
                ahead = 0.0
                if self.strict and j > 0 and nrem is not None and self.parts_to_left[j - 1]:
                    if no > 0 and not self.p[nk].sign and self._least_split(nk, no, j) > nrem + 1e-6:
                        continue  # the rest of the run, however cut into cells 0..j-1, adds up past the total
                    if nk == 0 and nunk == 0 and nrem > (int(self.p[0].digits[:no]) if no > 0 else 0) + 1e-6:
                        ahead = self.miss_cost  # what is left cannot reach the total: a cell must be missing
                g = cost + step + extra + weight * (nviol - viol)
                tick += 1
                heapq.heappush(heap, (g + max(ahead, self._floor(nk, no, j - 1)), tick, g,
                                      (nk, no, j - 1, nrem, nunk, nviol, (j, value, q, how, path))))
        return out

    def _check(self, j: int, value: Number | None, rem: Number | None, unk: int, viol: int):
        """The sum state after cell j takes `value`; None when a strict search must not go there."""
        extra = 0.0
        if j in self.total_of:
            rem, unk = value, 0
        elif j in self.group_of:
            if value is None:
                unk += 1
            elif rem is not None:
                rem = rem - value
                if rem < -1e-6:
                    if self.strict:
                        return None
                    extra += self.c.total_below_part
                    viol += 1
                    rem = None  # one violation per group
        if j in self.first_part:
            if rem is not None and unk == 0 and abs(rem) > 1e-6:
                if self.strict:
                    return None
                viol += 1
            rem, unk = None, 0
        return rem, unk, viol, extra

    def _reading(self, path: tuple | None, cost: float, viol: int) -> Reading:
        values: list[Number | None] = [None] * self.n
        pieces = [-1] * self.n
        how = ["missing"] * self.n
        dropped: list[int] = []
        while path is not None:
            if path[0] == "drop":
                dropped.extend(path[1])
                path = path[2]
                continue
            j, value, q, h, path = path
            values[j], pieces[j], how[j] = value, q, h
        return Reading(tuple(values), tuple(pieces), tuple(how), tuple(sorted(dropped)), round(cost, 6), viol)


def row_readings(pieces: Sequence[Piece], n: int, groups: Sequence[SumGroup] = (),
                 costs: Costs | None = None, signed: tuple[int, ...] | None = None) -> list[Reading]:
    """Readings of one row: those the row's sums accept, cheapest first, then the cheapest that break
    them (a published row can be wrong, and the table's other identities may say so).

    Never empty. A row whose pieces hold more digits than its cells could gets the plain reading
    (each piece one cell, the rest missing) marked as breaking its sums, so the caller reports it
    rather than trusting it; so does a row whose search runs out of steps before any reading.

    `signed`: the cells that may hold a negative number (a change); every other cell is a count and
    never takes one. None places no such limit.

    The answer depends only on what the pieces say, so rows printed alike (a run of zeros, the same
    row in a report's several copies, one template across a batch) are read once per process.
    """
    printed = tuple((p.value, p.digits, p.sign, p.decimal, p.gap, p.isolated, p.blank, type(p.value))
                    for p in pieces)
    return list(_readings_of(printed, n, tuple(groups), costs or _COSTS, signed))


_COSTS = Costs()


@lru_cache(maxsize=4096)
def _readings_of(printed: tuple, n: int, groups: tuple[SumGroup, ...], costs: Costs,
                 signed: tuple[int, ...] | None) -> tuple[Reading, ...]:
    """row_readings of pieces given as field tuples (hashable; the value's type kept, so 0 is not 0.0)."""
    return tuple(_search_readings([Piece(*p[:7]) for p in printed], n, groups, costs, signed))


def _search_readings(pieces: Sequence[Piece], n: int, groups: Sequence[SumGroup], costs: Costs,
                     signed: tuple[int, ...] | None = None) -> list[Reading]:
    exact = _exact(pieces, n, groups, signed)
    if exact is not None:
        return [exact]
    digits = sum(max(1, len(p.digits)) for p in pieces if not p.blank)
    if digits > (n + 2) * costs.max_cell_digits:
        return [_plain(pieces, n, groups)]
    strict = _Search(pieces, n, groups, costs, True, costs.max_steps, signed)
    found = strict.run(costs.max_readings)
    # a reading that breaks the sums is worth looking for only if it could be cheaper than the best
    # that keeps them: the cheapest conceivable reading costs at least the search's own floor
    if groups and (not found or found[0].cost > strict._floor(len(pieces), 0, n - 1) + 1e-9):
        broken = _Search(pieces, n, groups, costs, False, costs.max_steps_relaxed, signed).run(6)
        found += [r for r in broken if r.violations]
    if not found:
        return [_plain(pieces, n, groups)]
    found.sort(key=lambda r: (r.violations, r.cost))
    unique: dict[tuple, Reading] = {}
    for r in found:
        unique.setdefault(r.values, r)
    return list(unique.values())


def _exact(pieces: Sequence[Piece], n: int, groups: Sequence[SumGroup],
           signed: tuple[int, ...] | None = None) -> Reading | None:
    """One printed piece per cell: the reading, unless its sums fail and two of its numbers shared a
    cell (then joining them is worth a look). A row printed cell for cell is never re-read to make
    its arithmetic come out: a published error stays an error."""
    if len(pieces) != n or any(p.value is None and not p.blank for p in pieces):
        return None
    values = tuple(p.value for p in pieces)
    if signed is not None and any(v is not None and v < 0 and j not in signed for j, v in enumerate(values)):
        return None  # a negative number where the template has a count: the search places it
    if groups and not sums_feasible(values, groups) and any(p.gap == "in_cell" for p in pieces[1:]):
        return None
    viol = 0 if sums_feasible(values, groups) else sum(1 for g in groups if not sums_feasible(values, [g]))
    return Reading(values, tuple(range(n)), tuple("blank" if p.blank else "" for p in pieces), (), 0.0, viol)


def _plain(pieces: Sequence[Piece], n: int, groups: Sequence[SumGroup]) -> Reading:
    """No reading: every cell left unread (a run too long for the row, or one the search gave up on)."""
    return Reading((None,) * n, (-1,) * n, ("missing",) * n, tuple(range(len(pieces))), PLAIN_COST, 1)


def holds(lhs: Sequence[Number | None], rhs: Sequence[Number | None]) -> bool:
    """Could non-negative values in the unknown (None) cells make Σ lhs = Σ rhs?

    The one test of an identity in the whole system: a row's sums here, the table's identities in
    nianbao.identities, the rules' checks through them.
    """
    lk = rk = 0.0
    lu = ru = 0
    for v in lhs:
        if v is None:
            lu += 1
        else:
            lk += v
    for v in rhs:
        if v is None:
            ru += 1
        else:
            rk += v
    if lu == 0 and ru == 0:
        return abs(lk - rk) < 1e-6
    if ru == 0:
        return lk <= rk + 1e-6
    if lu == 0:
        return rk <= lk + 1e-6
    return True


def forced(lhs: Sequence[Number | None], rhs: Sequence[Number | None]) -> dict[tuple[str, int], Number]:
    """Unknown cells an identity fixes: the only unknown one, or unknowns on one side that must all
    be 0 because the known cells already balance. Keys are ("l", i) / ("r", i); values may be negative
    (the caller decides what a negative fill means)."""
    unknown = [("l", i) for i, v in enumerate(lhs) if v is None] + [("r", i) for i, v in enumerate(rhs) if v is None]
    if not unknown:
        return {}
    lk = sum(v for v in lhs if v is not None)
    rk = sum(v for v in rhs if v is not None)
    if len(unknown) == 1:
        side, _ = unknown[0]
        return {unknown[0]: (rk - lk) if side == "l" else (lk - rk)}
    if len({side for side, _ in unknown}) == 1 and abs(lk - rk) < 1e-9:
        return dict.fromkeys(unknown, 0)
    return {}


def sums_feasible(values: Sequence[Number | None], groups: Sequence[SumGroup]) -> bool:
    """Could non-negative values in the unknown cells make every sum of the row hold?"""
    return all(holds([values[i] for i in parts], [values[total]]) for parts, total in groups)


def complete(values: Sequence[Number | None], groups: Sequence[SumGroup]) -> tuple[Number | None, ...]:
    """The values with every cell the sums force filled in (never a negative count)."""
    out = list(values)
    for parts, total in groups:
        for (side, i), v in forced([out[p] for p in parts], [out[total]]).items():
            if v >= -1e-6:
                out[parts[i] if side == "l" else total] = v
    return tuple(out)

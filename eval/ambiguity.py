"""Which printed cells a careful reader could not pin down: every reading of a flattened row, by brute force.

A crawler that flattens a table prints a row's cells as one run (`8855698`, `0+34636`, `713000074`).
The generator knows the truth, but the gold must say what the *report* settles: it enumerates every
way to cut each run into the row's cells, keeps the cuts the template's identities allow (table 三's
row sums and column identities, table 四's group sums; table 二 has none) and, as a last tie-breaker,
the values the prose states; a cell whose value differs between surviving readings is uncertain.

This module deliberately shares no code with the parser (extract/, nianbao/identities.py): it is the
independent judge the robustness tests hold the parser to. Runs are short (a row prints at most a few
dozen digits), so plain enumeration is fine here; it refuses runs long enough to make it slow.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from nianbao.spec import T3_COLUMNS, T4_COLUMNS, T4_GROUPS, t3_rows

Value = int | float
MAX_RUN = 40  # longer runs are not enumerated: every cell of the row is uncertain
MAX_JOINT = 200_000  # joint readings of table 三 tried before falling back to per-row uncertainty

_INT = re.compile(r"0|[1-9]\d*")
_SIGNED = re.compile(r"[+-]?(?:0|[1-9]\d*)")
_DECIMAL = re.compile(r"(?:0|[1-9]\d*)(?:\.\d+)?")


def _grammar(kind: str) -> re.Pattern[str]:
    return {"int": _INT, "signed": _SIGNED, "decimal": _DECIMAL}[kind]


def _value(piece: str) -> Value:
    return float(piece) if "." in piece else int(piece)


def cuts(run: str, kinds: Sequence[str]) -> list[tuple[Value, ...]]:
    """Every way to read `run` as len(kinds) numbers printed back to back.

    kinds: "int" (no leading zeros, "0" alone), "signed" (an optional + or − in front, as 本年增/减
    prints), "decimal" (万元 amounts). An empty run with no cells is one (empty) reading.
    """
    if len(run) > MAX_RUN:
        raise ValueError(f"run of {len(run)} characters is too long to enumerate")
    out: list[tuple[Value, ...]] = []

    def go(pos: int, i: int, acc: tuple[Value, ...]) -> None:
        if i == len(kinds):
            if pos == len(run):
                out.append(acc)
            return
        pattern = _grammar(kinds[i])
        for end in range(pos + 1, len(run) + 1):
            piece = run[pos:end]
            if pattern.fullmatch(piece):
                go(end, i + 1, (*acc, _value(piece)))

    go(0, 0, ())
    return out


@dataclass
class Verdict:
    """What the report settles: the keys that stay uncertain and each one's possible values."""

    uncertain: set[str] = field(default_factory=set)
    options: dict[str, list[Value]] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)  # rows no reading explains (an error was printed)

    def add(self, key: str, values: Iterable[Value]) -> None:
        vals = sorted(set(values))
        if len(vals) > 1:
            self.uncertain.add(key)
            self.options[key] = vals

    def merge(self, other: Verdict) -> None:
        self.uncertain |= other.uncertain
        self.options.update(other.options)
        self.unreadable |= other.unreadable


def _spread(keys: Sequence[str], readings: Sequence[Sequence[Value]], verdict: Verdict) -> None:
    for i, key in enumerate(keys):
        verdict.add(key, (r[i] for r in readings))


def _prefer_stated(keys: Sequence[str], readings: list[tuple[Value, ...]],
                   stated: Mapping[str, Value]) -> list[tuple[Value, ...]]:
    """The readings that agree with every value the prose states for these keys, if any do."""
    idx = [(i, stated[k]) for i, k in enumerate(keys) if k in stated]
    if not idx:
        return readings
    agree = [r for r in readings if all(abs(r[i] - v) < 1e-9 for i, v in idx)]
    return agree or readings


def table2_row(keys: Sequence[str], run: str, kinds: Sequence[str], stated: Mapping[str, Value],
               verdict: Verdict) -> None:
    """Table 二 has no identities: a run with several cuts is uncertain unless the prose settles it."""
    if not keys:
        return
    try:
        readings = cuts(run, kinds)
    except ValueError:
        verdict.uncertain.update(keys)
        return
    if not readings:
        verdict.unreadable.update(keys)
        return
    _spread(keys, _prefer_stated(keys, readings, stated), verdict)


def _row_sum_ok(reading: Sequence[Value]) -> bool:
    return sum(reading[:-1]) == reading[-1]


def table3(template: str, runs: Mapping[str, str], stated: Mapping[str, Value], verdict: Verdict) -> None:
    """Table 三 printed as one run per row (row → digits): readings under every identity.

    Rows not in `runs` are read cell by cell elsewhere and are not in doubt here; a row whose run no
    cut explains is reported unreadable (every key uncertain).
    """
    rows = [r for r in t3_rows(template) if r in runs]
    per_row: dict[str, list[tuple[Value, ...]]] = {}
    for row in rows:
        keys = [f"t3.{row}.{c}" for c in T3_COLUMNS]
        try:
            options = [r for r in cuts(runs[row], ["int"] * len(T3_COLUMNS)) if _row_sum_ok(r)]
        except ValueError:
            verdict.uncertain.update(keys)
            continue
        if not options:
            verdict.unreadable.update(keys)
            verdict.uncertain.update(keys)
            continue
        per_row[row] = options
    fixed = {row: opts[0] for row, opts in per_row.items() if len(opts) == 1}
    open_rows = [row for row, opts in per_row.items() if len(opts) > 1]
    size = 1
    for row in open_rows:
        size *= len(per_row[row])
    if size > MAX_JOINT:  # too many to try together: each row's own doubt stands
        for row in open_rows:
            _spread([f"t3.{row}.{c}" for c in T3_COLUMNS], per_row[row], verdict)
        return
    results = set(t3_rows(template)) - {"new_received", "carried_over", "total_processed", "carried_forward"}
    survivors: list[tuple[tuple[Value, ...], ...]] = []
    for combo in itertools.product(*(per_row[r] for r in open_rows)):
        table = {**fixed, **dict(zip(open_rows, combo, strict=True))}
        if _columns_hold(table, results, len(runs) == len(t3_rows(template))):
            survivors.append(combo)
    if not survivors:  # the printed table breaks an identity whatever the cuts: no cut is preferred
        survivors = list(itertools.product(*(per_row[r] for r in open_rows)))
    keys = [f"t3.{row}.{c}" for row in open_rows for c in T3_COLUMNS]
    flat = [tuple(v for reading in combo for v in reading) for combo in survivors]
    _spread(keys, _prefer_stated(keys, flat, stated), verdict)


def _columns_hold(table: Mapping[str, Sequence[Value]], results: set[str], complete: bool) -> bool:
    """一+二 = (七)+四 and (七) = Σ results per column, where every row involved is known."""
    for ci in range(len(T3_COLUMNS)):
        balance = ("new_received", "carried_over", "total_processed", "carried_forward")
        if all(r in table for r in balance):
            a, b, c, d = (table[r][ci] for r in balance)
            if a + b != c + d:
                return False
        if complete and "total_processed" in table and results <= set(table):
            if sum(table[r][ci] for r in results) != table["total_processed"][ci]:
                return False
    return True


def table4(run: str, verdict: Verdict) -> None:
    """Table 四's fifteen cells printed as one run: every cut whose groups add up (维持+纠正+其他+未审结 = 总计)."""
    keys = [f"t4.{g}.{c}" for g in T4_GROUPS for c in T4_COLUMNS]
    if len(run) > MAX_RUN:
        verdict.uncertain.update(keys)
        return
    groups = len(T4_GROUPS)
    width = len(T4_COLUMNS)
    # each group is a contiguous piece of the run; enumerate the pieces' cuts and join them
    by_piece: dict[tuple[int, int], list[tuple[Value, ...]]] = {}

    def piece(a: int, b: int) -> list[tuple[Value, ...]]:
        if (a, b) not in by_piece:
            by_piece[a, b] = [r for r in cuts(run[a:b], ["int"] * width) if _row_sum_ok(r)]
        return by_piece[a, b]

    readings: list[tuple[Value, ...]] = []

    def go(pos: int, g: int, acc: tuple[Value, ...]) -> None:
        if g == groups:
            if pos == len(run):
                readings.append(acc)
            return
        for end in range(pos + width, len(run) + 1):
            for r in piece(pos, end):
                go(end, g + 1, acc + r)

    go(0, 0, ())
    if not readings:
        verdict.unreadable.update(keys)
        verdict.uncertain.update(keys)
        return
    _spread(keys, readings, verdict)

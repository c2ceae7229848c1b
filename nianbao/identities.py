"""The template's own arithmetic (勾稽关系) as linear identities over cell keys.

Both the parser (to split digit runs and place short rows) and the rules (to flag and fill) need
the same identities, so they live here, derived from the spec rather than listed by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

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
        lk = rk = 0.0
        lu = ru = 0
        get = cells.get
        for k in self.lhs:
            v = get(k)
            if v is None:
                lu += 1
            else:
                lk += v
        for k in self.rhs:
            v = get(k)
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

    def forced(self, cells: Mapping[str, float | None]) -> dict[str, float]:
        """Unknown cells this identity fixes: the only unknown, or unknowns that must all be 0."""
        unknown_l = [k for k in self.lhs if cells.get(k) is None]
        unknown_r = [k for k in self.rhs if cells.get(k) is None]
        unknown = unknown_l + unknown_r
        if not unknown:
            return {}
        if len(unknown) == 1:
            v = self.solve_for(unknown[0], cells)
            return {} if v is None else {unknown[0]: v}
        if unknown_l and unknown_r:
            return {}
        lk = sum(cells[k] for k in self.lhs if cells.get(k) is not None)  # type: ignore[misc]
        rk = sum(cells[k] for k in self.rhs if cells.get(k) is not None)  # type: ignore[misc]
        if abs(lk - rk) < 1e-9:  # non-negative unknowns that must add up to nothing
            return dict.fromkeys(unknown, 0)
        return {}


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

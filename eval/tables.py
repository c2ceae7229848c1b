"""Random report tables that satisfy every identity of the template, with realistic numbers.

Most agencies (towns, small bureaus) receive no applications at all and print a table of zeros;
a few receive hundreds. Numbers are built outward from what was processed, so the identities
hold by construction and `violations` can prove it.
"""

from __future__ import annotations

import random

from nianbao.identities import identities, result_rows
from nianbao.spec import T3_PART_COLUMNS, T4_COLUMNS, T4_GROUPS, fields, keys

Cells = dict[str, int | float | None]

# how applications split between applicant kinds and between outcomes (weights, not rates)
_APPLICANT_WEIGHTS = (80, 8, 1, 2, 3, 6)
_RESULT_WEIGHTS = {"granted": 40, "partially_granted": 8, "unable.not_held": 16, "unable.needs_creation": 3,
                   "unable.still_unclear": 2, "not_handled.petition": 3, "not_handled.duplicate": 3,
                   "other_processing": 3, "other_processing.other": 3, "other_processing.no_correction": 1}


def violations(cells: Cells, template: str) -> list[str]:
    """Ids of the identities that fail (cells missing count as failing nothing)."""
    out = []
    for ident in identities(template):
        r = ident.residual(cells)
        if r is not None and abs(r) > 1e-9:
            out.append(ident.id)
    return out


def _spread(total: int, weights: list[float], rng: random.Random) -> list[int]:
    """Split `total` into len(weights) non-negative parts in proportion to weights, at random."""
    counts = [0] * len(weights)
    if total <= 0:
        return counts
    if total > 400:  # large totals: proportional share plus a random remainder, not one draw per item
        share = [int(total * w / sum(weights) * rng.uniform(0.7, 1.0)) for w in weights]
        rest = total - sum(share)
        for i in rng.choices(range(len(weights)), weights=weights, k=rest):
            share[i] += 1
        return share
    for i in rng.choices(range(len(weights)), weights=weights, k=total):
        counts[i] += 1
    return counts


def _small(rng: random.Random, p_nonzero: float, hi: int) -> int:
    return rng.randint(1, hi) if rng.random() < p_nonzero else 0


def _t2(template: str, rng: random.Random, busy: bool) -> Cells:
    c: Cells = {}
    big = 5 if busy else 1
    for f in fields(template):
        if f.table != "t2":
            continue
        col = f.column
        row = f.key.rsplit(".", 1)[0]
        if f.type == "decimal":
            items = c.get(f"{row}.items")
            if items == 0:  # no procurement items, no procurement amount, and the reverse
                c[f.key] = 0
                continue
            charged = items is not None or rng.random() < 0.3
            c[f.key] = round(rng.uniform(0.01, 300 * big), rng.choice((0, 1, 2, 4))) if charged else 0
            if c[f.key] and float(c[f.key]).is_integer():
                c[f.key] = int(c[f.key])
        elif col in ("in_force", "total_published"):  # what is in force includes this year's new ones
            made = c.get(f"{row}.issued", c.get(f"{row}.new_published", 0)) or 0
            c[f.key] = int(made) + _small(rng, 0.5, 40 * big)
        elif col == "prev_year_items":
            c[f.key] = _small(rng, 0.5, 40 * big)
        elif col == "change":
            prev = c.get(f.key.replace(".change", ".prev_year_items")) or 0
            c[f.key] = rng.randint(-int(prev), 5) if rng.random() < 0.3 else 0
        elif col == "decisions":
            c[f.key] = _small(rng, 0.5, 800 * big)
        else:
            c[f.key] = _small(rng, 0.25, 10 * big)
    return c


def random_cells(template: str, rng: random.Random) -> Cells:
    """One report's cells: every key of the template, every identity holding."""
    scale = rng.choices((0, 1, 2, 3), weights=(45, 35, 15, 5))[0]
    processed = (0, rng.randint(1, 20), rng.randint(21, 200), rng.randint(201, 1500))[scale]
    rows = result_rows(template)
    rweights = [_RESULT_WEIGHTS.get(r, 0.5) for r in rows]
    c: Cells = _t2(template, rng, scale >= 2)
    per_col = _spread(processed, list(_APPLICANT_WEIGHTS), rng)
    for col, p in zip(T3_PART_COLUMNS, per_col, strict=True):
        for r, v in zip(rows, _spread(p, rweights, rng), strict=True):
            c[f"t3.{r}.{col}"] = v
        c[f"t3.total_processed.{col}"] = p
        forward = rng.randint(0, max(1, p // 8)) if p and rng.random() < 0.4 else 0
        over = rng.randint(0, max(1, (p + forward) // 8)) if p and rng.random() < 0.4 else 0
        over = min(over, p + forward)
        c[f"t3.carried_forward.{col}"] = forward
        c[f"t3.carried_over.{col}"] = over
        c[f"t3.new_received.{col}"] = p + forward - over
    for r in (*rows, "total_processed", "carried_forward", "carried_over", "new_received"):
        c[f"t3.{r}.total"] = sum(int(c[f"t3.{r}.{col}"] or 0) for col in T3_PART_COLUMNS)
    for g in T4_GROUPS:
        hi = (0, 2, 6, 20)[scale]
        parts = [_small(rng, 0.3, hi) if hi else 0 for _ in T4_COLUMNS[:-1]]
        for col, v in zip(T4_COLUMNS[:-1], parts, strict=True):
            c[f"t4.{g}.{col}"] = v
        c[f"t4.{g}.total"] = sum(parts)
    assert set(c) == set(keys(template)), set(keys(template)) ^ set(c)
    return c


def inject_error(cells: Cells, template: str, rng: random.Random, avoid: set[str] = frozenset()) -> tuple[str, int]:
    """Change one cell that some identity covers so that identity fails; returns (key, old value)."""
    candidates = sorted({k for ident in identities(template) for k in ident.keys} - set(avoid))
    key = rng.choice(candidates)
    old = int(cells[key] or 0)
    delta = rng.choice((1, 1, 2, 3, 5, 10, 100)) * (-1 if old > 0 and rng.random() < 0.4 else 1)
    if old + delta < 0:
        delta = -delta
    cells[key] = old + delta
    return key, old

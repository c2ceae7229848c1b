"""The hierarchy of agencies (which unit's report sums which): reading its CSV, and regions from it.

A CSV has two columns, agency and the unit above it, with or without a header row; a header is
recognised by its words (nianbao/data/review.toml), in either column order. Province, city and
county of a report are read off the chain of units above its agency, by their place suffixes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from nianbao.review.labels import words


class HierarchyError(ValueError):
    """A hierarchy file that cannot be used; the message names the problem."""


def _norm(s: str) -> str:
    return "".join(s.split()).strip("\ufeff").lower()


def read_csv(path: Path) -> list[tuple[str, str]]:
    """(agency, parent) pairs from a CSV, its header row (if any) recognised and skipped."""
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise HierarchyError(f"{path}: not UTF-8 or GB18030 text")
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if not rows:
        return []
    w = words()["hierarchy"]
    agency_h = {_norm(x) for x in w["agency_headers"]}
    parent_h = {_norm(x) for x in w["parent_headers"]}
    a_col, p_col = 0, 1
    head = [_norm(c) for c in rows[0]]
    if any(h in parent_h for h in head) or all(h in agency_h | parent_h for h in head[:2]):
        p_col = next((i for i, h in enumerate(head) if h in parent_h), 1)
        a_col = next((i for i, h in enumerate(head) if h in agency_h and i != p_col), 0 if p_col != 0 else 1)
        rows = rows[1:]
    out = []
    for n, r in enumerate(rows, start=2):
        if len(r) <= max(a_col, p_col):
            raise HierarchyError(f"{path}: line {n} has {len(r)} column(s); expected agency and parent")
        a, p = r[a_col].strip(), r[p_col].strip()
        if a and p:
            out.append((a, p))
    return out


def _ends(name: str, suffixes: Iterable[str]) -> bool:
    return any(name.endswith(s) for s in suffixes)


def regions(agency: str | None, pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """province, city, county of an agency, from the units above it (and its own name)."""
    from nianbao.rules.cross_report import agency_key, same_agency

    out = {"province": "", "city": "", "county": ""}
    if not agency:
        return out
    parent_of: dict[str, str] = {}
    for a, p in pairs:
        parent_of.setdefault(agency_key(a), p)
    chain, seen, cur = [agency], set(), agency
    while True:
        key = agency_key(cur)
        nxt = parent_of.get(key) or next((p for a, p in parent_of.items() if same_agency(a, cur)), None)
        if nxt is None or key in seen:
            break
        seen.add(key)
        chain.append(nxt)
        cur = nxt
    w = words()["hierarchy"]
    level = 0  # 0 looking for a province, 1 a city, 2 a county
    for unit in reversed(chain):  # from the top down
        name = agency_key(unit)
        if level == 0 and (_ends(name, w["province_suffixes"]) or name in w["municipalities"]):
            out["province"], level = name, 1
            if name in w["municipalities"]:
                out["city"], level = name, 2
        elif level <= 1 and _ends(name, w["city_suffixes"]) and not out["city"]:
            out["city"], level = name, 2
        elif level == 2 and _ends(name, w["county_suffixes"]) and not out["county"]:
            out["county"], level = name, 3
    return out

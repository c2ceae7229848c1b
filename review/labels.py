"""Chinese names for everything the review page and the exports show (nianbao/data/review.toml).

Ids (rule ids, template keys, statuses) stay the system's vocabulary; people read these names,
and a page shows an id only in a tooltip. Cells are named by their printed row and column labels.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from nianbao.data import load
from nianbao.spec import TEMPLATES, field_map

TZ = ZoneInfo("Asia/Shanghai")
TABLE_NAMES = {"t2": "表二", "t3": "表三", "t4": "表四"}


@cache
def words() -> dict[str, Any]:
    return load("review")


def _pick(group: str, key: str | None) -> str:
    if key is None:
        return ""
    return words()[group].get(key, key)


def severity(s: str) -> str:
    return _pick("severity", s)


def status(s: str) -> str:
    return _pick("status", s)


def action(a: str) -> str:
    return _pick("action", a)


def category(c: str) -> str:
    return _pick("category", c)


def kind(k: str | None) -> str:
    return _pick("kind", k)


def claim_kind(k: str | None) -> str:
    return _pick("claim_kind", k)


def note(n: str | None) -> str:
    """A cell note in Chinese; "" for a note in English that has no Chinese yet (it stays in the tooltip)."""
    if not n:
        return ""
    w = words()
    if n in w["note"]:
        return w["note"][n]
    for prefix, zh in w["note_prefix"].items():
        if n.startswith(prefix):
            rest = n[len(prefix):]
            return zh + (rule(rest) if prefix == "filled by " else "")
    return "" if re.search(r"[A-Za-z]{2,}", n) else n


def rule(r: str) -> str:
    """A rule's Chinese name; an unlisted rule by its family's name (never its bare id)."""
    w = words()
    if r in w["rule"]:
        return w["rule"][r]
    base = r.split("@", 1)[0].split("#", 1)[0]
    if base in w["rule"]:
        return w["rule"][base]
    family = base.split(".", 1)[0]
    return w["rule_family"].get(family, "其他检查")


def column(name: str) -> str:
    """An export column's Chinese header."""
    return words()["export"].get(name, name)


def _field(key: str, template: str | None):
    for t in ([template] if template in TEMPLATES else []) + list(TEMPLATES):
        f = field_map(t).get(key)
        if f is not None:
            return f
    return None


@cache
def cell(key: str, template: str | None = None) -> str:
    """A cell by its printed labels: "表三 （七）总计 · 自然人"; an unknown key as it is."""
    from nianbao.rules.common import column_label, row_label

    f = _field(key, template)
    if f is None:
        return key
    t = template if template in TEMPLATES and key in field_map(template) else next(
        x for x in TEMPLATES if key in field_map(x))
    row, col = row_label(key, t), column_label(key, t)
    if f.table == "t2":
        section = f.label.split(" ")[0]
        return f"{TABLE_NAMES[f.table]} {section} {row} · {col}".strip()
    return f"{TABLE_NAMES[f.table]} {row} · {col}".strip()


def cell_parts(key: str, template: str | None = None) -> tuple[str, str]:
    """(table and row, column) of a cell, for showing several cells of one row together."""
    full = cell(key, template)
    row, _, col = full.rpartition(" · ")
    return (row, col) if row else (full, "")


def is_decimal(key: str, template: str | None = None) -> bool:
    f = _field(key, template)
    return f is not None and f.type == "decimal"


def local_time(iso: str | None) -> str:
    """A stored UTC ISO time as Beijing time, "2024-03-05 14:07"."""
    if not iso:
        return ""
    try:
        t = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if t.tzinfo is None:
        return t.strftime("%Y-%m-%d %H:%M")
    return t.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


def number(v: Any, key: str | None = None, template: str | None = None) -> str:
    """A value as the template prints it: counts whole, 万元 amounts to at most four places."""
    if v is None:
        return "空"
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v.is_integer() and not (key and is_decimal(key, template)):
            return str(int(v))
        return f"{round(v, 4):.4f}".rstrip("0").rstrip(".")
    return str(v)

"""Helpers every rule module shares: Chinese names for cells, number formatting, word lists.

Rules state their arithmetic in Chinese for a reviewer, so the names of rows, columns and
identities come from one place (the spec's labels and nianbao/data/rules.toml).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from nianbao.data import load
from nianbao.identities import Identity
from nianbao.models import Number, Span
from nianbao.rules.registry import RuleContext
from nianbao.spec import TEMPLATES, field_map, t3_row_label


@cache
def words() -> dict:
    """The rules' word lists and thresholds (nianbao/data/rules.toml)."""
    return load("rules")


def fmt(v: Number | None) -> str:
    """A number as a reader would print it: 5, 96171.6, never 5.0."""
    if v is None:
        return "空"
    if isinstance(v, float):
        if v.is_integer():
            return str(int(v))
        return f"{round(v, 4):g}"
    return str(v)


def _field(key: str, template: str):
    f = field_map(template).get(key)
    if f is None:
        for t in TEMPLATES:
            f = field_map(t).get(key)
            if f:
                break
    return f


def row_label(key: str, template: str) -> str:
    """The printed row label of a cell, e.g. "（七）总计" or "行政复议"."""
    f = _field(key, template)
    if f is None:
        return key
    if f.table == "t3":
        return t3_row_label(f.label)
    if f.table == "t4":
        return words()["t4_groups"].get(f.row, f.row)
    parts = f.label.split(" ")
    return parts[1] if len(parts) > 2 else f.label


def column_label(key: str, template: str) -> str:
    f = _field(key, template)
    if f is None:
        return ""
    if f.table == "t3":
        return words()["columns"].get(f.column, f.column)
    if f.table == "t4":
        return f.label.split(" ")[-1]
    return f.label.split(" ", 2)[-1]


def cell_label(key: str, template: str) -> str:
    """Row and column of a cell, e.g. "（七）总计 自然人"."""
    col = column_label(key, template)
    return f"{row_label(key, template)} {col}".strip()


def identity_label(ident: Identity, template: str) -> str:
    """Where an identity lives, e.g. "（七）总计 自然人列" or "一、本年新收… 行"."""
    first = ident.keys[0]
    if ident.kind in ("balance", "result_sum"):
        return f"{column_label(first, template)}列"
    return row_label(first, template)


def part_label(key: str, ident: Identity, template: str) -> str:
    """The name of a cell inside one identity: its column in a row sum, its row in a column sum."""
    if ident.kind in ("balance", "result_sum"):
        return row_label(key, template)
    return column_label(key, template)


def sum_text(keys: Iterable[str], ident: Identity, values: dict[str, Number | None], template: str) -> str:
    """"予以公开 5 + 部分公开 1" for a message that shows its arithmetic; long sums skip their zeros."""
    keys = list(keys)
    shown = keys if len(keys) <= 7 else [k for k in keys if values.get(k) != 0]
    text = " + ".join(f"{part_label(k, ident, template)} {fmt(values.get(k))}" for k in shown)
    rest = len(keys) - len(shown)
    if rest:
        text = f"{text} + 其余 {rest} 项均为 0" if text else f"{rest} 项均为 0"
    return text


def spans_of(ctx: RuleContext, keys: Iterable[str]) -> list[Span]:
    out = []
    for k in keys:
        c = ctx.extraction.cells.get(k)
        if c is not None and c.span is not None:
            out.append(c.span)
    return out

"""The template's vocabulary: every numeric cell of both template versions, read from fields.json.

Keys (`t2.*`, `t3.<row>.<column>`, `t4.<group>.<column>`) are the language of the whole system, so
everything else asks this module what rows and columns exist instead of spelling them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from nianbao.data import load

TEMPLATES = ("2019", "2021")
LATEST_TEMPLATE = TEMPLATES[-1]


def resolve_template(*candidates: str | None) -> str:
    """The template version to use: the first candidate that names one (a report's own reading first),
    else the latest, which every report since 2021 uses. The one place this default is decided."""
    for c in candidates:
        if c in TEMPLATES:
            return c
    return LATEST_TEMPLATE
T3_COLUMNS = ("natural_person", "business", "research", "nonprofit", "legal_service", "other_org", "total")
T3_PART_COLUMNS = T3_COLUMNS[:-1]
T4_GROUPS = ("review", "suit_direct", "suit_after_review")
T4_COLUMNS = ("upheld", "corrected", "other", "pending", "total")


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    type: str  # "int" or "decimal"
    table: str  # "t2", "t3", "t4"
    row: str  # row path without table and column, e.g. "denied.state_secret"
    column: str


@dataclass(frozen=True)
class Row:
    """One printed row of a table: its key path, its label words, and its cells in printed order."""

    table: str
    row: str
    label: str  # the row's own label, e.g. "1.属于国家秘密"
    parent: str  # the enclosing label, e.g. "（三）不予公开", or "" at top level
    section: str  # table 二's 第二十条第（X）项, else ""
    fields: tuple[Field, ...]

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.fields]


@cache
def _raw() -> dict:
    return load("fields")


@cache
def fields(template: str) -> tuple[Field, ...]:
    """All fields of one template version in the spec's order."""
    out = []
    for f in _raw()["templates"][template]:
        parts = f["key"].split(".")
        out.append(Field(f["key"], f["label"], f["type"], parts[0], ".".join(parts[1:-1]), parts[-1]))
    return tuple(out)


@cache
def keys(template: str) -> tuple[str, ...]:
    return tuple(f.key for f in fields(template))


@cache
def field_map(template: str) -> dict[str, Field]:
    return {f.key: f for f in fields(template)}


def t3_row_label(label: str) -> str:
    """A table-三 field label's row part, without its column and without the 三、本年度办理结果 group
    every result row's label starts with (the words live in data/layout.json)."""
    group = load("layout")["t3_extra_labels"]["label"]
    return label.split(" × ")[0].replace(group, "").strip()


def _split_t3_label(label: str) -> tuple[str, str]:
    text = t3_row_label(label)
    if " " in text:
        parent, own = text.split(" ", 1)
        return own.strip(), parent.strip()
    return text, ""


@cache
def rows(template: str) -> tuple[Row, ...]:
    """The template's rows in printed order, each with the label words used to find it."""
    grouped: dict[tuple[str, str], list[Field]] = {}
    for f in fields(template):
        grouped.setdefault((f.table, f.row), []).append(f)
    out = []
    for (table, row), fs in grouped.items():
        label = fs[0].label
        if table == "t2":
            section, name, _ = label.split(" ", 2)
            out.append(Row(table, row, name, "", section, tuple(fs)))
        elif table == "t3":
            own, parent = _split_t3_label(label)
            out.append(Row(table, row, own, parent, "", tuple(fs)))
        else:
            words = label.split(" ")
            out.append(Row(table, row, " ".join(words[:-1]), "", "", tuple(fs)))
    return tuple(out)


@cache
def t3_rows(template: str) -> tuple[str, ...]:
    return tuple(r.row for r in rows(template) if r.table == "t3")


def is_signed(key: str, template: str) -> bool:
    """May this cell print a negative number (a change 本年增/减), unlike every count?"""
    f = field_map(template).get(key)
    return bool(f and f.label.rsplit(" ", 1)[-1] in load("layout").get("signed_columns", ()))


def is_decimal(key: str, template: str) -> bool:
    f = field_map(template).get(key)
    return bool(f and f.type == "decimal")


def template_of_key(key: str) -> set[str]:
    return {t for t in TEMPLATES if key in field_map(t)}

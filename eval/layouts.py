"""The template's tables as printed rows, and every way real reports lay those rows out in text.

`build_tables` turns cells into a neutral row model (labels from nianbao.spec, wording variants
from nianbao/data/synth.json); each layout function turns the model into the text a crawler,
a Word export, a PDF text layer or an OCR engine would have produced.
"""

from __future__ import annotations

import html
import random
from dataclasses import dataclass, field
from functools import cache

from nianbao.data import load
from nianbao.spec import rows as spec_rows

TEXT_LAYOUTS = ("pipe", "tab", "cells", "markdown", "wrapped", "paged", "digits", "dropblank", "slash")
LAYOUTS = (*TEXT_LAYOUTS[:4], "html", *TEXT_LAYOUTS[4:])


@cache
def words() -> dict:
    """The synth word lists (nianbao/data/synth.json)."""
    return load("synth")


@dataclass
class Cell:
    key: str | None
    text: str
    value: int | float | None = None


@dataclass
class Row:
    kind: str  # "head" (column labels), "section" (table 二's 第二十条…), "data"
    label: str = ""
    parent: str = ""  # e.g. （三）不予公开
    top: str = ""  # e.g. 三、本年度办理结果
    cells: list[Cell] = field(default_factory=list)
    table: str = ""
    row: str = ""  # spec row path, for data rows


@dataclass
class Table:
    table: str
    rows: list[Row]


def fmt_value(v: int | float | None) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6f}".rstrip("0").rstrip(".")  # a 元 amount in 万元 keeps its 6 decimals
    return str(v)


def _label(table: str, row: str, default: str, rng: random.Random, plain: bool = False) -> str:
    variants = None if plain else words()["row_variants"].get(f"{table}.{row}")
    return rng.choice(variants) if variants else default


def build_tables(cells: dict, template: str, rng: random.Random, plain: bool = False) -> list[Table]:
    """Tables 二, 三, 四 of `template` holding `cells`, with wording variants chosen by rng (none if `plain`)."""
    w = words()
    out: list[Table] = []
    t2: list[Row] = []
    section = None
    for r in spec_rows(template):
        if r.table != "t2":
            continue
        if r.section != section:
            section = r.section
            t2.append(Row("section", label=r.section, table="t2"))
            heads = [f.label.split(" ", 2)[2] for f in r.fields]
            t2.append(Row("head", label=w["t2_info_label"], cells=[Cell(None, h) for h in heads], table="t2"))
        t2.append(Row("data", label=_label("t2", r.row, r.label, rng, plain), table="t2", row=r.row,
                      cells=[Cell(f.key, fmt_value(cells.get(f.key)), cells.get(f.key)) for f in r.fields]))
    out.append(Table("t2", t2))

    hd = w["t3_header"]
    t3 = [Row("head", label=hd[0], cells=[Cell(None, hd[1]), Cell(None, hd[9])], table="t3"),
          Row("head", label="", cells=[Cell(None, hd[2]), Cell(None, hd[3])], table="t3"),
          Row("head", label="", cells=[Cell(None, h) for h in hd[4:9]], table="t3")]
    for r in spec_rows(template):
        if r.table != "t3":
            continue
        top = w["t3_heading_row"] if r.row not in ("new_received", "carried_over", "carried_forward") else ""
        t3.append(Row("data", label=_label("t3", r.row, r.label, rng, plain), parent=r.parent, top=top, table="t3",
                      row=r.row, cells=[Cell(f.key, fmt_value(cells.get(f.key)), cells.get(f.key))
                                        for f in r.fields]))
    out.append(Table("t3", t3))

    th = w["t4_header"]
    t4 = [Row("head", label="", cells=[Cell(None, th[0]), Cell(None, th[1])], table="t4"),
          Row("head", label="", cells=[Cell(None, th[2]), Cell(None, th[3])], table="t4"),
          Row("head", label="", cells=[Cell(None, h) for h in th[4:9] * 3], table="t4")]
    data = [Cell(f.key, fmt_value(cells.get(f.key)), cells.get(f.key))
            for r in spec_rows(template) if r.table == "t4" for f in r.fields]
    t4.append(Row("data", cells=data, table="t4", row="all"))
    out.append(Table("t4", t4))
    return out


def _label_parts(table: Table, i: int) -> list[str]:
    """The label cells a flattened row prints: group labels only on a group's first row."""
    row = table.rows[i]
    prev = table.rows[i - 1] if i else None
    parts = []
    if row.top and not (prev and prev.top == row.top):
        parts.append(row.top)
    if row.parent and not (prev and prev.parent == row.parent):
        parts.append(row.parent)
    if row.label or not parts:
        parts.append(row.label)
    return [p for p in parts if p] or ([""] if row.kind == "head" else [])


def _wrap(label: str, rng: random.Random) -> str:
    if len(label) < 12:
        return label
    cut = rng.randint(len(label) // 3, 2 * len(label) // 3)
    return label[:cut] + "\n" + label[cut:]


def render_table(table: Table, layout: str, rng: random.Random, page: list[int],
                 features: frozenset[str] = frozenset()) -> str:
    """One table in a layout; `page` is the running page number for furniture.

    `features` adds the wrapped/paged effects to another text layout (real reports combine them).
    """
    if layout == "html":
        return render_html_table(table)
    lines: list[str] = []
    data_rows = [i for i, r in enumerate(table.rows) if r.kind == "data"]
    break_at = data_rows[len(data_rows) // 2] if (layout == "paged" or "paged" in features) and len(data_rows) > 3 else -1
    for i, row in enumerate(table.rows):
        if i == break_at:
            page[0] += 1
            furniture = rng.choice(words()["furniture"]).format(page=page[0] - 1)
            lines.append(f"\n{furniture}\n\f")
        labels = _label_parts(table, i)
        texts = [c.text for c in row.cells]
        if layout == "wrapped" or "wrapped" in features:
            labels = [_wrap(lb, rng) for lb in labels]
        if row.kind == "data" and table.table == "t3" and layout == "digits":
            lines.append("".join(labels) + "".join(texts))
            continue
        if row.kind == "data" and table.table == "t3" and layout == "dropblank":
            texts = [t for t in texts if t not in ("", "0")]
        parts = labels + texts
        if layout == "cells":
            lines.append("\n".join("\t" + p for p in parts) + "\n")
        elif layout in ("pipe", "markdown"):
            lines.append("| " + " | ".join(parts) + " |")
            if layout == "markdown" and i == 0:
                lines.append("|" + "---|" * len(parts))
        else:
            lines.append("\t".join(parts))
    return "\n".join(lines)


def render_html_table(table: Table) -> str:
    """An HTML table as government sites publish it: group labels with rowspan, headers with colspan."""
    e = html.escape
    out = ["<table border=\"1\" cellspacing=\"0\">"]
    rows = table.rows
    width = max(len(r.cells) for r in rows) + (3 if table.table == "t3" else 1)
    for i, row in enumerate(rows):
        tds = []
        if row.kind == "section":
            tds.append(f"<td colspan=\"{width}\">{e(row.label)}</td>")
        elif row.kind == "head":
            tds += _html_head(table.table, i, row, width)
        else:
            if table.table == "t3":
                prev = rows[i - 1] if i else None
                if row.top and not (prev and prev.top == row.top):
                    n = sum(1 for r in rows if r.top == row.top)
                    tds.append(f"<td rowspan=\"{n}\">{e(row.top)}</td>")
                if row.parent and not (prev and prev.parent == row.parent):
                    n = sum(1 for r in rows if r.parent == row.parent)
                    tds.append(f"<td rowspan=\"{n}\">{e(row.parent)}</td>")
                span = 3 - bool(row.top) - bool(row.parent)
                tds.append(f"<td colspan=\"{span}\">{e(row.label)}</td>" if span > 1 else f"<td>{e(row.label)}</td>")
            elif row.label:
                tds.append(f"<td>{e(row.label)}</td>")
            tds += [f"<td>{e(c.text)}</td>" for c in row.cells]
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _html_head(table: str, i: int, row: Row, width: int) -> list[str]:
    """Header cells with the template's own spans (申请人情况 over 自然人 | 法人或其他组织(5) | 总计)."""
    e = html.escape
    c = [e(x.text) for x in row.cells]
    if table == "t3":
        if i == 0:
            return [f'<td colspan="3" rowspan="3">{e(row.label)}</td>', f'<td colspan="7">{c[0]}</td>']
        if i == 1:
            return [f'<td rowspan="2">{c[0]}</td>', f'<td colspan="5">{c[1]}</td>',
                    f'<td rowspan="2">{e(words()["t3_header"][9])}</td>']
        return [f"<td>{x}</td>" for x in c]
    if table == "t4":
        if i == 0:
            return [f'<td colspan="5" rowspan="2">{c[0]}</td>', f'<td colspan="10">{c[1]}</td>']
        if i == 1:
            return [f'<td colspan="5">{x}</td>' for x in c]
        return [f"<td>{x}</td>" for x in c]
    return ([f"<td>{e(row.label)}</td>"] if row.label else []) + [f"<td>{x}</td>" for x in c]

"""Whole reports in the forms crawlers, site archives and PDF converters actually hand a user.

Each form is modelled on real files (../shared/reports/dev/MANIFEST.tsv describes them), and
tests/test_eval_shapes.py renders the dev reports' gold in each form and compares the result with
the real file's shape, so these forms follow published reports rather than the parser:

- `crawl_line`: a site crawler's page.txt: a metadata header, then the whole body on one line;
  tables flattened into digit runs glued to the next row's label (`00000002.其他法律…`), a space
  after some labels (the page's `&nbsp;`), table 四 as spaced cells or one run.
- `csv_cell`: a province crawler's CSV 内容 cell: a truncated title, paragraphs framed by U+3000
  pairs, ASCII spaces stripped; table 二 glued or framed by U+3000 pairs, signed 本年增/减 inside
  2019 table-二 runs (`0+34636`), tables 三/四 glued runs or a sentence instead of the table.
- `html_crawl`: a government article page: title, 来源/时间 line, `&nbsp;` after labels and
  around values, blank cells as `&nbsp;`, header cells set one character per `<p>` or `<br/>`.
- `dropped`: the crawler kept the headings but no table at all; a signature date and a site footer.
- `pdf_md`: markdown converted from a PDF: lines broken at the page width, page marks, spaces
  around numbers, table rows torn from their labels (labels in a block of text, numbers in
  markdown rows, still in the template's order).
"""

from __future__ import annotations

import html
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from nianbao.eval.layouts import Cell, Row, Table, words

CRAWLED_LAYOUTS = ("crawl_line", "csv_cell", "html_crawl", "dropped", "pdf_md")
NBSP = "&nbsp;"
IDEO = "\u3000\u3000"


@dataclass
class Parts:
    """A report before it is laid out: title, headings, prose paragraphs and tables."""

    title: str
    heads: dict[str, str]  # "一".."六" → heading as printed
    prose: dict[str, str]  # "一", "五", "六" → paragraphs separated by blank lines
    tables: dict[str, Table]  # "t2", "t3", "t4"
    meta: dict
    replaced: dict[str, str] = field(default_factory=dict)  # table → sentence printed instead ("" = nothing)


@dataclass
class Rendered:
    text: str
    suffix: str
    requote: Callable[[str], str] = lambda q: q  # a gold quote as this layout prints it


def render(layout: str, parts: Parts, rng: random.Random, style: dict) -> Rendered:
    """`style` holds the per-report choices (spacing, framing…) so a caller can record them."""
    return {"crawl_line": _crawl_line, "csv_cell": _csv_cell, "html_crawl": _html_crawl,
            "dropped": _dropped, "pdf_md": _pdf_md}[layout](parts, rng, style)


# ---------------------------------------------------------------------------------------------
# what every flattened form shares: header words in the order a page prints them, rows as runs

def t3_header_words() -> list[str]:
    """Table 三's header cells in reading order (the page's rows: 勾稽 note | 申请人情况; 自然人 | 法人… | 总计; …)."""
    hd = words()["t3_header"]
    return [hd[0], hd[1], hd[2], hd[3], hd[9], *hd[4:9]]


def t4_header_words() -> list[str]:
    th = words()["t4_header"]
    return [th[0], th[1], *th[4:9], th[2], th[3], *th[4:9], *th[4:9]]


def t2_sections(table: Table) -> list[tuple[str, list[str], list[Row]]]:
    """Table 二 as (第二十条… label, column heads, data rows)."""
    out: list[tuple[str, list[str], list[Row]]] = []
    for row in table.rows:
        if row.kind == "section":
            out.append((row.label, [], []))
        elif row.kind == "head":
            out[-1][1].extend(c.text for c in row.cells)
        else:
            out[-1][2].append(row)
    return out


def data_rows(table: Table) -> list[Row]:
    return [r for r in table.rows if r.kind == "data"]


def label_parts(rows: list[Row], i: int) -> list[str]:
    """The labels a flattened row prints: its group labels only on the group's first row."""
    row, prev = rows[i], rows[i - 1] if i else None
    parts = []
    if row.top and not (prev and prev.top == row.top):
        parts.append(row.top)
    if row.parent and not (prev and prev.parent == row.parent):
        parts.append(row.parent)
    if row.label:
        parts.append(row.label)
    return parts


def printed(cell: Cell, signed: bool = False, unit: str = "") -> str:
    """A cell as a flattened row prints it: blanks vanish, 增/减 may carry its sign, 万元 its unit."""
    if not cell.text:
        return ""
    text = cell.text
    if signed and cell.value is not None and cell.value > 0 and not text.startswith("+"):
        text = "+" + text
    return text + unit


def run_of(row: Row, signed_cols: tuple[int, ...] = (), unit_last: str = "") -> str:
    return "".join(printed(c, i in signed_cols, unit_last if i == len(row.cells) - 1 else "")
                   for i, c in enumerate(row.cells))


def signed_columns(row: Row) -> tuple[int, ...]:
    return tuple(i for i, c in enumerate(row.cells) if c.key and c.key.endswith(".change"))


# ---------------------------------------------------------------------------------------------
# crawl_line (d01, d03)

def _crawl_line(parts: Parts, rng: random.Random, style: dict) -> Rendered:
    w = words()["crawler"]
    sep = style.setdefault("sep", rng.choice((" ", "")))
    nbsp = style.setdefault("label_space", rng.choice((0.0, 0.8)) if sep else 0.0)
    spaced_t4 = style.setdefault("t4_spaced", rng.random() < 0.5)
    hsep = style.setdefault("head_sep", sep if rng.random() < 0.5 else "")
    meta = parts.meta
    site = rng.choice(w["sites"])
    day = f"{meta['year'] + 1}-{rng.randint(1, 3):02d}-{rng.randint(10, 28):02d}"
    page = rng.randint(10000, 99999)
    folder = day[:7].replace("-", "")
    header = [f"标题: {parts.title}", f"发布时间: {day} {rng.randint(8, 17):02d}:{rng.randint(0, 59):02d}", "文号: ",
              f"发布机构: {rng.choice(('', meta['agency'] + '办公室'))}", f"栏目: {w['column']}",
              f"原文链接: https://www.{site}.gov.cn/zwgk/zfxxgk/zfxxgknb/{folder}/t{day.replace('-', '')}_{page}.htm",
              f"本地目录: zwgk/zfxxgk/zfxxgknb/{folder}/{page}_{parts.title}", w["links_note"], w["body_mark"]]

    def lab(text: str) -> str:
        return text + (" " if rng.random() < nbsp else "")

    body: list[str] = [rng.choice(w["preface"]).format(year=meta["year"])]
    for sec in "一二三四五六":
        body.append(parts.heads[sec])
        if sec in "一五六":
            body += [p for p in parts.prose[sec].split("\n\n") if p.strip()]
            continue
        table = {"二": "t2", "三": "t3", "四": "t4"}[sec]
        if table in parts.replaced:
            if parts.replaced[table]:
                body.append(parts.replaced[table])
            continue
        if table == "t2":
            chunks = []
            for section, heads, rows in t2_sections(parts.tables["t2"]):
                chunks.append(hsep.join([section, words()["t2_info_label"], *heads]))
                chunks += [r.label + run_of(r, signed_columns(r)) for r in rows]
            body[-1] += "".join(chunks)
        elif table == "t3":
            body[-1] += t3_header_words()[0]
            body.append(hsep.join(t3_header_words()[1:]))
            rows = data_rows(parts.tables["t3"])
            body.append("".join(lab(sep.join(label_parts(rows, i))) + run_of(r) for i, r in enumerate(rows)))
        else:
            body[-1] += hsep.join(t4_header_words())
            cells = [printed(c) for c in data_rows(parts.tables["t4"])[0].cells]
            body.append(" ".join(cells) if spaced_t4 else "".join(cells))
    text = "\n".join(header) + "\n" + sep.join(body) + ("\n" if rng.random() < 0.5 else "")
    return Rendered(text, ".txt")


# ---------------------------------------------------------------------------------------------
# csv_cell (d05–d09)

def _csv_cell(parts: Parts, rng: random.Random, style: dict) -> Rendered:
    w = words()["crawler"]
    framed = style.setdefault("t2_framed", rng.random() < 0.35)
    with_unit = style.setdefault("amount_unit", rng.random() < 0.5)
    ideo = IDEO if style.setdefault("para_ideo", rng.random() < 0.8) else ""  # paragraphs framed by U+3000 pairs
    if not ideo:
        framed = style["t2_framed"] = False
    meta = parts.meta
    cut = rng.randint(24, 28)
    title = parts.title if len(parts.title) <= cut else parts.title[:cut] + "..."
    out: list[str] = [ideo * rng.choice((1, 1, 3)) + rng.choice(w["preface"]).format(year=meta["year"])]
    for sec in "一二三四五六":
        if sec == "六" and style.setdefault("no_section_六", rng.random() < 0.2):
            continue  # no section 六, as some reports end at 五
        dropped_before = sec in "三四" and parts.replaced.get({"三": "t2", "四": "t3"}[sec]) == ""
        out.append(("" if dropped_before else ideo) + parts.heads[sec])
        if sec in "一五六":
            out += [ideo + p for p in parts.prose[sec].split("\n\n") if p.strip()]
            continue
        table = {"二": "t2", "三": "t3", "四": "t4"}[sec]
        if table in parts.replaced:
            if parts.replaced[table]:
                out.append(ideo + parts.replaced[table])
            continue
        if table == "t2":
            cells: list[str] = []
            for section, heads, rows in t2_sections(parts.tables["t2"]):
                cells += [section, words()["t2_info_label"], *heads]
                for r in rows:
                    unit = w["amount_unit"] if with_unit and any(c.key and c.key.endswith("amount_wan")
                                                                 for c in r.cells) else ""
                    if framed:
                        cells += [r.label, *(t for i, c in enumerate(r.cells)
                                             if (t := printed(c, i in signed_columns(r),
                                                              unit if i == len(r.cells) - 1 else "")))]
                    else:
                        cells.append(r.label + run_of(r, signed_columns(r), unit))
            if framed:
                out += [IDEO + c for c in cells]
            else:
                out[-1] += "".join(cells)
        elif table == "t3":
            rows = data_rows(parts.tables["t3"])
            out[-1] += "".join(t3_header_words()) + "".join(
                "".join(label_parts(rows, i)) + run_of(r) for i, r in enumerate(rows))
        else:
            out[-1] += "".join(t4_header_words()) + "".join(printed(c) for c in data_rows(parts.tables["t4"])[0].cells)
    if rng.random() < 0.4:
        att = [a.format(year=meta["year"], agency=rng.choice(("", meta["agency"]))) for a in w["attachments"]]
        out += [ideo + a for a in att]
    body = "".join(out).replace(" ", "").replace("\t", "")  # the crawler strips ASCII blanks
    return Rendered(title + "\n\n" + body + "\n", ".txt")


# ---------------------------------------------------------------------------------------------
# dropped (d10–d14): headings kept, tables gone

def _dropped(parts: Parts, rng: random.Random, style: dict) -> Rendered:
    w = words()["crawler"]
    meta = parts.meta
    out: list[str] = [rng.choice(w["preface"]).format(year=meta["year"])]
    for sec in "一二三四五六":
        if not (sec in "四五" and style.setdefault(f"no_heading_{sec}", rng.random() < 0.15)):
            out.append(parts.heads[sec])  # else the crawler lost the heading too (its text stays)
        if sec in "一五六":
            out += [p for p in parts.prose[sec].split("\n\n") if p.strip()]
        else:
            table = {"二": "t2", "三": "t3", "四": "t4"}[sec]
            if parts.replaced.get(table):
                out.append(parts.replaced[table])
    date = f"{meta['year'] + 1}年{rng.randint(1, 3)}月{rng.randint(1, 28)}日"
    out.append(meta["agency"] + date + rng.choice(w["footers"]))
    return Rendered(parts.title + "\n" + "".join(out), ".txt")


# ---------------------------------------------------------------------------------------------
# html_crawl (d02, d04)

def _html_crawl(parts: Parts, rng: random.Random, style: dict) -> Rendered:
    w = words()["crawler"]
    e = html.escape
    meta = parts.meta
    indent = style.setdefault("p_style", rng.choice(("span", "indent")))
    chars = style.setdefault("t4_head", rng.choice(("per_char", "br")))
    # share of label cells per table that end in &nbsp; (an editor's leftover blank)
    nbsp = style.setdefault("label_nbsp", {t: rng.choice((0.0, 0.3, 0.9)) for t in ("t2", "t3", "t4")})
    value_nbsp = style.setdefault("value_nbsp", [t for t in ("t2", "t3", "t4") if rng.random() < 0.3])

    def para(text: str, strong: bool = False) -> str:
        if indent == "span":
            return (f'<p><span style="font-size: 16px;"><span style="white-space:pre">\t</span>'
                    f"{e(text)}</span></p>")
        inner = f"<strong>{NBSP}{e(text)}</strong>{NBSP}" if strong else e(text)
        return f'<p style="text-indent: 2em;">{inner}</p>'

    def td(text: str, attrs: str = "", label: str = "", raw: bool = False) -> str:
        inner = text if raw else e(text)
        if label and rng.random() < nbsp.get(label, 0.0):
            inner += NBSP
        if indent == "indent":
            inner = f'<p style="text-indent: 0em;">{inner}</p>'
        return f"<td{attrs}>{inner}</td>"

    def value(c: Cell) -> str:
        if not c.text:
            return td(NBSP, raw=True)
        padded = str(c.key).split(".", 1)[0] in value_nbsp  # a page pads the values of some tables with &nbsp;
        return td(f"{NBSP}{e(c.text)}{NBSP}" if padded else e(c.text), raw=True)

    body: list[str] = []
    for sec in "一二三四五六":
        body.append(para(parts.heads[sec], strong=True))
        if sec in "一五六":
            body += [para(p) for p in parts.prose[sec].split("\n\n") if p.strip()]
            continue
        table = {"二": "t2", "三": "t3", "四": "t4"}[sec]
        if table in parts.replaced:
            if parts.replaced[table]:
                body.append(para(parts.replaced[table]))
            continue
        body.append({"t2": _html_t2, "t3": _html_t3, "t4": _html_t4}[table](parts.tables[table], td, value, chars))
    day = f"{meta['year'] + 1}-{rng.randint(1, 3):02d}-{rng.randint(10, 28):02d} {rng.randint(8, 17):02d}:{rng.randint(0, 59):02d}"
    source = f'<span class="article_source">来源：{e(meta["agency"])}</span> ' if rng.random() < 0.6 else ""
    text = ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\" />\n"
            f"<title>{e(parts.title)}_{e(w['column'])}_{e(meta['agency'])}</title>\n</head>\n<body>\n"
            f'<div class="article_title">{e(parts.title)}</div>\n'
            f'<div class="article_extend">{source}<span class="article_time">时间：{day}</span></div>\n'
            f"<div class=TRS_Editor>{''.join(body)}</div>\n</body>\n</html>\n")
    return Rendered(text, ".html")


def _html_t2(table: Table, td: Callable[..., str], value: Callable[[Cell], str], _chars: str) -> str:
    out = ['<table border="1">']
    for section, heads, rows in t2_sections(table):
        out.append("<tr>" + td(section, ' colspan="4"', label="t2") + "</tr>")
        span = ' colspan="3"' if len(heads) == 1 else ""
        out.append("<tr>" + td(words()["t2_info_label"], label="t2")
                   + "".join(td(h, span, label="t2") for h in heads) + "</tr>")
        for r in rows:
            cells = "".join(value(c) for c in r.cells)
            if len(r.cells) == 1:
                cells = cells.replace("<td>", '<td colspan="3">', 1)
            out.append("<tr>" + td(r.label, label="t2") + cells + "</tr>")
    return "".join(out) + "</table>"


def _split_head(text: str) -> str:
    """商业企业 printed as two <p> lines, as the page does."""
    if len(text) == 4:
        return f"<p>{text[:2]}{NBSP}</p><p>{text[2:]}{NBSP}</p>"
    return html.escape(text)


def _html_t3(table: Table, td: Callable[..., str], value: Callable[[Cell], str], _chars: str) -> str:
    hd = t3_header_words()
    rows = data_rows(table)
    out = ['<table border="1">',
           "<tr>" + td(hd[0], ' colspan="3" rowspan="3"', label="t3") + td(hd[1], ' colspan="7"', label="t3") + "</tr>",
           "<tr>" + td(hd[2], ' rowspan="2"', label="t3") + td(hd[3], ' colspan="5"', label="t3")
           + td(hd[4], ' rowspan="2"', label="t3") + "</tr>",
           "<tr>" + "".join(td(_split_head(h), raw=True) for h in hd[5:]) + "</tr>"]
    for i, r in enumerate(rows):
        prev = rows[i - 1] if i else None
        cells = []
        if r.top and not (prev and prev.top == r.top):
            cells.append(td(r.top, f' rowspan="{sum(1 for x in rows if x.top == r.top)}"', label="t3"))
        if r.parent and not (prev and prev.parent == r.parent):
            cells.append(td(r.parent, f' rowspan="{sum(1 for x in rows if x.parent == r.parent)}"', label="t3"))
        span = 3 - bool(r.top) - bool(r.parent)
        cells.append(td(r.label, f' colspan="{span}"' if span > 1 else "", label="t3"))
        out.append("<tr>" + "".join(cells) + "".join(value(c) for c in r.cells) + "</tr>")
    return "".join(out) + "</table>"


def _html_t4(table: Table, td: Callable[..., str], value: Callable[[Cell], str], chars: str) -> str:
    th = words()["t4_header"]

    def head(text: str) -> str:
        if chars == "per_char":
            return "".join(f"<p>{ch}</p>" for ch in text)
        return text[:2] + "<br/>" + text[2:] if len(text) == 4 else text

    results = th[4:9]
    out = ['<table border="1">',
           "<tr>" + td(th[0], ' colspan="5"', label="t4") + td(th[1], ' colspan="10"', label="t4") + "</tr>",
           "<tr>" + "".join(td(head(x), ' rowspan="2"', raw=True) for x in results)
           + td(th[2], ' colspan="5"', label="t4") + td(th[3], ' colspan="5"', label="t4") + "</tr>",
           "<tr>" + "".join(td(head(x), raw=True) for x in results * 2) + "</tr>",
           "<tr>" + "".join(value(c) for c in data_rows(table)[0].cells) + "</tr>"]
    return "".join(out) + "</table>"


# ---------------------------------------------------------------------------------------------
# pdf_md (d15, d16)

def _pdf_line(text: str) -> tuple[str, list[int]]:
    """Spaces around numbers, as PDF text extraction puts them; and where each character went."""
    out: list[str] = []
    pos: list[int] = []
    n = len(text)
    for i, ch in enumerate(text):
        digit = ch.isascii() and ch.isdigit()
        starts = digit and i > 0 and not (text[i - 1].isdigit() or text[i - 1] in ". ")
        if starts:
            out.append(" ")
        pos.append(len(out))
        out.append(ch)
        nxt = text[i + 1] if i + 1 < n else ""
        more = nxt.isdigit() or (nxt == "." and text[i + 2:i + 3].isdigit())
        if digit and nxt and not more and nxt != " ":
            out.append(" ")
    return "".join(out), pos


def _wrap(text: str, width: int) -> tuple[str, list[int]]:
    """Break a paragraph about every `width` characters, never inside a number (a PDF line does not);
    returns the text and where each character went."""
    out: list[str] = []
    pos: list[int] = []
    col = 0
    for i, ch in enumerate(text):
        inside_number = i and (ch.isdigit() or ch == ".") and text[i - 1].isdigit()
        if col >= width and not inside_number:
            out.append("\n")
            col = 0
        pos.append(len(out))
        out.append(ch)
        col += 1
    return "".join(out), pos


class _Requoter:
    """Maps a quote of the plain prose to the same characters in the converted text."""

    def __init__(self) -> None:
        self.paras: list[tuple[str, str, list[int]]] = []

    def add(self, original: str, converted: str, pos: list[int]) -> None:
        self.paras.append((original, converted, pos))

    def __call__(self, quote: str) -> str:
        for original, converted, pos in self.paras:
            at = original.find(quote)
            if at >= 0:
                return converted[pos[at]:pos[at + len(quote) - 1] + 1]
        return quote


def _pdf_md(parts: Parts, rng: random.Random, style: dict) -> Rendered:
    width = style.setdefault("width", rng.randint(28, 32))
    style.setdefault("keep_label", rng.choice((0.35, 0.6, 0.85)))  # share of table-三 rows that keep their label
    style.setdefault("rule_every", rng.choice((0.3, 0.6)))  # share of rows the converter closes with |---|
    style.setdefault("trailing_cell", rng.choice((0.0, 0.3)))
    style.setdefault("header_row", rng.random() < 0.7)
    requote = _Requoter()
    lines: list[str] = ["正文"] if rng.random() < 0.5 else []
    lines += _wrap(parts.title, width)[0].split("\n")
    page = [1, 0]

    def emit(block: list[str]) -> None:
        for line in block:
            lines.append(line)
            page[1] += 1
            if page[1] >= 38:
                page[0] += 1
                page[1] = 0
                lines.append(f"— {page[0]} —")

    def prose(text: str) -> None:
        for p in (p for p in text.split("\n\n") if p.strip()):
            spaced, pos1 = _pdf_line(p)
            wrapped, pos2 = _wrap(spaced, width)
            requote.add(p, wrapped, [pos2[i] for i in pos1])
            emit(wrapped.split("\n"))

    for sec in "一二三四五六":
        emit(["", parts.heads[sec]])
        if sec in "一五六":
            prose(parts.prose[sec])
            continue
        table = {"二": "t2", "三": "t3", "四": "t4"}[sec]
        if table in parts.replaced:
            if parts.replaced[table]:
                prose(parts.replaced[table])
            continue
        emit({"t2": _md_t2, "t3": _md_t3, "t4": _md_t4}[table](parts.tables[table], rng, style))
    return Rendered("\n".join(lines) + "\n", ".md", requote)


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _md_rule(n: int) -> str:
    return "|" + "---|" * n


def _md_t2(table: Table, rng: random.Random, _style: dict) -> list[str]:
    sections = t2_sections(table)
    out: list[str] = []
    grid = None
    for section, heads, rows in sections:
        out.append(section)
        if len(heads) == 3 and grid is None:  # the first part becomes a markdown table further down
            grid = [_md_row([words()["t2_info_label"], *heads]), _md_rule(4),
                    *[_md_row([r.label, *(c.text for c in r.cells)]) for r in rows]]
            continue
        out.append(words()["t2_info_label"] + "".join(heads))
        out += [r.label + " " + " ".join(c.text for c in r.cells) for r in rows]
    return [*out, words()["crawler"]["md_t2_heading"], *(grid or [])]


def _md_t3(table: Table, rng: random.Random, style: dict) -> list[str]:
    hd = t3_header_words()
    half = len(hd[0]) // 2
    out = [hd[1], hd[0][:half] + hd[3], hd[0][half:], hd[2] + hd[4], "".join(h[:3] for h in hd[5:9]), hd[9],
           words()["crawler"]["md_t3_heading"]]
    if style["header_row"]:  # what the converter made of the header's second line: a row of fragments
        out += [_md_row([h[3:] for h in hd[5:9]] + [""] * 5), _md_rule(9)]
    rows = data_rows(table)
    i = 0
    while i < len(rows):
        chunk = rows[i:i + rng.randint(1, 4)]
        torn: list[str] = []
        lines: list[str] = []
        for j, r in enumerate(chunk):
            values = [c.text for c in r.cells] + ([""] if rng.random() < style["trailing_cell"] else [])
            labels = label_parts(rows, i + j)
            if rng.random() < style["keep_label"]:
                lines.append(_md_row([labels[-1], *values]))
                torn += [_break(p, rng) for p in labels[:-1]]
            else:
                lines.append(_md_row(values))
                torn += [_break(p, rng) for p in labels]
            if j == 0 or rng.random() < style["rule_every"]:
                lines.append(_md_rule(lines[-1].count("|") - 1))
        if torn:
            out += ["", *"\n".join(torn).split("\n")]
        out += lines
        i += len(chunk)
    return out


def _break(label: str, rng: random.Random) -> str:
    """A label as a narrow PDF column breaks it."""
    step = rng.randint(4, 13) if label.startswith("（") and len(label) <= 8 else rng.randint(11, 16)
    return "\n".join(label[k:k + step] for k in range(0, len(label), step))


def _md_t4(table: Table, rng: random.Random, _style: dict) -> list[str]:
    th = words()["t4_header"]
    res = th[4:9]
    values = [c.text for c in data_rows(table)[0].cells]
    heads = [x[2:] for x in res[:4]] + [x[:2] for x in res[:4]] * 2
    return [th[0] + th[1], th[2] + th[3], "".join(x[:2] for x in res[:4]), res[4],
            "".join(x[2:] for x in res[:4]), _md_row(heads), _md_rule(len(heads)),
            _md_row(values), _md_rule(len(values))]

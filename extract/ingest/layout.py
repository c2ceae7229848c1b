"""Rebuild lines and table rows from positioned text, for text PDFs and OCR alike.

A reader hands over each page as tokens (text with a box: a PDF character or an OCR word) and
ruling lines (a PDF's stroked lines, or lines found in a scanned image). Ruled tables become
grids of cells (pdfplumber's edge → intersection → cell machinery), every token lands in the cell
that holds its centre, and each grid row comes out as one line of TAB-separated cells (a merged
cell's text once, the positions it covers empty), recorded as a Grid of the Document with the covered
positions marked. Text outside tables becomes lines by baseline,
wrapped prose lines are joined into paragraphs, page numbers and repeated headers/footers go, and
a table that runs across a page break is joined, including a label split by the break.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from pdfplumber.table import cells_to_tables, edges_to_intersections, intersections_to_cells, merge_edges

from nianbao.document import Document, GridRecorder, TextBuilder

BBox = tuple[float, float, float, float]


@dataclass
class Token:
    """A piece of text at one place on a page (a PDF character, an OCR word or line)."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    conf: float | None = None
    src: int = 0  # index of the text in the Document's source

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def h(self) -> float:
        return self.bottom - self.top


@dataclass
class PageInput:
    number: int  # 1-based
    width: float
    height: float
    tokens: list[Token]
    edges: list[BBox] = field(default_factory=list)  # ruling segments (x0, top, x1, bottom)
    tol: float = 3.0  # how far apart two rulings or cell edges may be and still count as one

    def scale(self, f: float) -> None:
        """Change units (e.g. image pixels to PDF points) for the page, its tokens and rulings."""
        self.width, self.height = self.width * f, self.height * f
        for t in self.tokens:
            t.x0, t.top, t.x1, t.bottom = t.x0 * f, t.top * f, t.x1 * f, t.bottom * f
        self.edges = [(a * f, b * f, c * f, d * f) for a, b, c, d in self.edges]
        self.tol = max(3.0, self.tol * f)


@dataclass
class Run:
    """Text of one line inside a cell or a free line, with the place it came from."""

    text: str
    page: int
    bbox: BBox
    conf: float | None
    src: int


@dataclass
class Line:
    segments: list[list[Run]]  # TAB-separated segments of one printed line
    page: int
    x0: float
    x1: float
    top: float
    bottom: float
    size: float  # typical glyph height

    def text(self) -> str:
        return "\t".join("".join(r.text for r in seg) for seg in self.segments)


@dataclass
class Table:
    rows: list[list[list[Run]]]  # row → cell → runs (empty list: empty or covered)
    page: int
    top: float
    bottom: float
    # cells touching the table's top / bottom edge: column → (row, column span, row span, no rule there)
    top_cells: dict[int, tuple[int, int, int, bool]] = field(default_factory=dict)
    bottom_cells: dict[int, tuple[int, int, int, bool]] = field(default_factory=dict)
    # (row, column) positions another cell's column or row span covers (no text of their own)
    covered: set[tuple[int, int]] = field(default_factory=set)


NUMERIC = re.compile(r"^[\d.,，\s/\-—－无%]*$")
ENUMERATOR = re.compile(r"^\s*[（(]?[一二三四五六七八九十\d]+[)）、.．]")
PAGE_NUMBER = re.compile(
    r"^[\s\-—–－_·•]*(第\s*)?[\d一二三四五六七八九十]+\s*(页)?(\s*[/／]\s*(共\s*)?\d+\s*页?)?[\s\-—–－_·•]*$"
)


def _union(boxes: list[BBox]) -> BBox:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


# ---------------------------------------------------------------- tables from rulings

def _edge_objs(edges: list[BBox]) -> list[dict]:
    objs = []
    for x0, top, x1, bottom in edges:
        orient = "h" if (x1 - x0) >= (bottom - top) else "v"
        if orient == "h":
            top = bottom = (top + bottom) / 2
        else:
            x0 = x1 = (x0 + x1) / 2
        objs.append({"x0": x0, "x1": x1, "top": top, "bottom": bottom, "width": x1 - x0,
                     "height": bottom - top, "orientation": orient, "object_type": "line"})
    return objs


def _closing_edges(objs: list[dict], tol: float) -> list[dict]:
    """Horizontal edges where several verticals end together with no rule drawn there.

    A table cut by a page break often has no rule at the cut; closing it lets its last (or first)
    cells form, and the cells are marked open so the two halves can be joined again.
    """
    verticals = [o for o in objs if o["orientation"] == "v"]
    horizontals = [o for o in objs if o["orientation"] == "h"]
    out = []
    for attr in ("top", "bottom"):
        for y in _cluster([v[attr] for v in verticals], tol):
            group = [v for v in verticals if abs(v[attr] - y) <= tol]
            if len(group) < 2:
                continue
            x0, x1 = min(v["x0"] for v in group), max(v["x0"] for v in group)
            if any(abs(h["top"] - y) <= tol and h["x0"] <= x0 + tol and h["x1"] >= x1 - tol for h in horizontals):
                continue
            out.append({"x0": x0, "x1": x1, "top": y, "bottom": y, "width": x1 - x0, "height": 0.0,
                        "orientation": "h", "object_type": "line"})
    return out


def find_grids(edges: list[BBox], tol: float = 3.0) -> tuple[list[list[BBox]], list[dict]]:
    """Cell boxes of each ruled table on a page (at least two columns somewhere), and the drawn rules."""
    objs = _edge_objs(edges)
    if not objs:
        return [], []
    real = merge_edges(objs, tol, tol, tol, tol)
    merged = real + _closing_edges(real, tol)
    cells = intersections_to_cells(edges_to_intersections(merged, tol, tol))
    grids = []
    for table in cells_to_tables(cells):
        tops = _cluster([c[1] for c in table], tol)
        by_row = Counter(_nearest(tops, c[1]) for c in table)
        if max(by_row.values(), default=0) >= 2:
            grids.append(table)
    return grids, [o for o in real if o["orientation"] == "h"]


def _ruled(y: float, x0: float, x1: float, rules: list[dict], tol: float = 3.0) -> bool:
    """Whether a drawn horizontal rule covers most of [x0, x1] at height y."""
    covered = sum(max(0.0, min(x1, h["x1"]) - max(x0, h["x0"])) for h in rules if abs(h["top"] - y) <= tol)
    return covered >= 0.6 * (x1 - x0)


def _cluster(values: list[float], tol: float) -> list[float]:
    out: list[float] = []
    for v in sorted(values):
        if not out or v - out[-1] > tol:
            out.append(v)
    return out


def _nearest(centres: list[float], v: float) -> int:
    return min(range(len(centres)), key=lambda i: abs(centres[i] - v))


def _lines_of(tokens: list[Token]) -> list[list[Token]]:
    """Group tokens into printed lines by vertical position, each sorted left to right."""
    if not tokens:
        return []
    size = statistics.median(t.h for t in tokens) or 1.0
    lines: list[list[Token]] = []
    centre = 0.0
    for t in sorted(tokens, key=lambda t: (t.cy, t.x0)):
        if lines and abs(t.cy - centre) <= 0.45 * size:
            lines[-1].append(t)
            centre = statistics.fmean(x.cy for x in lines[-1])
        else:
            lines.append([t])
            centre = t.cy
    return [sorted(line, key=lambda t: t.x0) for line in lines]


def _needs_space(a: str, b: str) -> bool:
    return bool(a) and bool(b) and a[-1].isascii() and a[-1].isalnum() and b[0].isascii() and b[0].isalnum()


def _runs(tokens: list[Token], page: int, tab_gap: float | None = None) -> list[list[Run]]:
    """One line's tokens as runs; a gap wider than `tab_gap` starts a new TAB-separated segment."""
    segments: list[list[Token]] = []
    size = max(statistics.median(t.h for t in tokens), 1.0)
    for t in tokens:
        if segments and tab_gap is not None and t.x0 - segments[-1][-1].x1 > tab_gap * size:
            segments.append([t])
        elif segments:
            segments[-1].append(t)
        else:
            segments.append([t])
    out: list[list[Run]] = []
    for seg in segments:
        text = ""
        for i, t in enumerate(seg):
            piece = re.sub(r"\s+", " ", t.text)
            gap = t.x0 - seg[i - 1].x1 if i else 0.0
            if i and (piece.startswith(" ") or text.endswith(" ")):
                pass
            elif i and (_needs_space(text, piece) and gap > 0.15 * size or gap > 0.9 * size):
                text += " "
            text += piece
        text = re.sub(" +", " ", text).strip()
        if text:
            confs = [t.conf for t in seg if t.conf is not None]
            out.append([Run(text, page, _union([(t.x0, t.top, t.x1, t.bottom) for t in seg]),
                            min(confs) if confs else None, seg[0].src)])
    return out


# ---------------------------------------------------------------- one page

def page_items(page: PageInput) -> list[Line | Table]:
    """A page's free lines and tables, top to bottom."""
    tol = page.tol
    grids, rules = find_grids(page.edges, tol)
    owned: set[int] = set()
    items: list[Line | Table] = []
    for cells in grids:
        tops = _cluster([c[1] for c in cells], tol)
        lefts = _cluster([c[0] for c in cells], tol)
        content: dict[tuple[int, int], list[Token]] = {}
        for i, t in enumerate(page.tokens):
            if i in owned or not t.text.strip():
                continue
            for c in cells:
                if c[0] - 1 <= t.cx <= c[2] + 1 and c[1] - 1 <= t.cy <= c[3] + 1:  # centre inside
                    content.setdefault((_nearest(tops, c[1]), _nearest(lefts, c[0])), []).append(t)
                    owned.add(i)
                    break
        rows: list[list[list[Run]]] = []
        for r in range(len(tops)):
            row = []
            for col in range(len(lefts)):
                runs: list[Run] = []
                for line in _lines_of(content.get((r, col), [])):
                    for seg in _runs(line, page.number):
                        runs.extend(seg)
                row.append(runs)
            rows.append(row)
        box = _union(cells)
        table = Table(rows, page.number, box[1], box[3])
        for c in cells:
            r, col = _nearest(tops, c[1]), _nearest(lefts, c[0])
            span = sum(1 for x in lefts if c[0] - tol <= x < c[2] - tol)
            rowspan = sum(1 for y in tops if c[1] - tol <= y < c[3] - tol)
            table.covered.update((r + dr, col + dc) for dr in range(max(1, rowspan)) for dc in range(max(1, span))
                                 if dr or dc)
            if abs(c[1] - box[1]) <= tol:
                table.top_cells[col] = (r, span, rowspan, not _ruled(c[1], c[0], c[2], rules, tol))
            if abs(c[3] - box[3]) <= tol:
                table.bottom_cells[col] = (r, span, rowspan, not _ruled(c[3], c[0], c[2], rules, tol))
        items.append(table)
    free = [t for i, t in enumerate(page.tokens) if i not in owned and t.text.strip()]
    for line in _lines_of(free):
        segs = _runs(line, page.number, tab_gap=2.5)
        if not segs:
            continue
        items.append(Line(segs, page.number, line[0].x0, max(t.x1 for t in line),
                          min(t.top for t in line), max(t.bottom for t in line),
                          statistics.median(t.h for t in line)))
    items.sort(key=lambda it: it.top)
    return items


# ---------------------------------------------------------------- across pages

def _shape(text: str) -> str:
    """A line with its numbers as # (a page number's shape is the same on every page); numbers
    apart stay apart, so a table row `19 1 0 0 20` is not the shape of a page number `3`."""
    return re.sub(r"\s+", "", re.sub(r"\d+", "#", text))


def drop_headers_footers(pages: list[PageInput], items: list[list[Line | Table]]) -> None:
    """Remove page numbers and lines repeated in the top or bottom margin of several pages.

    A line of bare numbers is a page number only where one stands: first or last on its page. In the
    margin but with more of the page beyond it, it is a table's cell or row that runs low on the page.
    """
    def in_margin(it: Line, page: PageInput) -> bool:
        return it.bottom < page.height * 0.09 or it.top > page.height * 0.88

    def outermost(it: Line, its: list[Line | Table], page: PageInput) -> bool:
        if it.top > page.height * 0.88:
            return all(o.top <= it.top for o in its)
        return all(o.top >= it.top for o in its)

    seen = Counter()
    for page, its in zip(pages, items, strict=True):
        for shape in {_shape(it.text()) for it in its if isinstance(it, Line) and in_margin(it, page)}:
            seen[shape] += 1
    for page, its in zip(pages, items, strict=True):
        its[:] = [it for it in its if not (
            isinstance(it, Line) and in_margin(it, page)
            and ((PAGE_NUMBER.match(it.text()) and outermost(it, its, page))
                 or (len(pages) > 2 and seen[_shape(it.text())] >= 2
                     and (_is_label(it.text()) or outermost(it, its, page)))))]


def _cell_text(runs: list[Run]) -> str:
    return "".join(r.text for r in runs)


def _is_label(text: str) -> bool:
    return bool(text) and not NUMERIC.match(text)


def _has_numbers(row: list[list[Run]]) -> bool:
    return any(cell and not _is_label(_cell_text(cell)) for cell in row)


def _join_tables(a: Table, b: Table) -> None:
    """Append table b (continued on the next page) to table a.

    A cell the page break cut in two is one cell again. It is recognised by the rules (none under
    it on one page, none above it on the next), or, where the break was ruled, by its text: a
    label cell of the same width whose text does not start a new item (no （四）/ 1. / 一、) and
    that either groups several rows ("（四）无" / "法提供") or belongs to a row whose numbers are
    all on one side of the break. Two complete rows ("规章 0 0 0" / "行政规范性文件 0 0 2") stay
    two rows. A row whose label and numbers were split between the pages becomes one row.
    """
    dropped = 0
    if a.rows and b.rows and [_cell_text(c) for c in b.rows[0]] == [_cell_text(c) for c in a.rows[0]]:
        b.rows, b.top_cells, dropped = b.rows[1:], {}, 1  # a header repeated on the new page
    if a.rows and b.rows:
        first = b.rows[0]
        numbers_a = _has_numbers(a.rows[-1])
        numbers_b = _has_numbers(first)
        for col, (r_b, span_b, rows_b, open_b) in sorted(b.top_cells.items()):
            if r_b != 0 or col not in a.bottom_cells or col >= len(first) or not first[col]:
                continue
            r_a, span_a, rows_a, open_a = a.bottom_cells[col]
            target = a.rows[r_a][col] if r_a < len(a.rows) and col < len(a.rows[r_a]) else None
            if target is None or span_a != span_b:
                continue
            text_a, text_b = _cell_text(target), _cell_text(first[col])
            ruled_split = open_a and open_b
            label_split = (_is_label(text_a) and _is_label(text_b) and not ENUMERATOR.match(text_b)
                           and (rows_a > 1 or rows_b > 1 or not (numbers_a and numbers_b)))
            if ruled_split or label_split:
                target.extend(first[col])
                first[col] = []
        last = a.rows[-1]
        if any(first) and all(not cell or (c < len(last) and not last[c]) for c, cell in enumerate(first)):
            for c, cell in enumerate(first):
                if cell:
                    last[c] = cell
            first[:] = [[] for _ in first]
        if not any(first):
            b.rows, dropped = b.rows[1:], dropped + 1
    base = len(a.rows)
    a.covered = {(r, c) for r, c in a.covered if r >= base or not a.rows[r][c]} if a.rows else a.covered
    a.covered |= {(base + r - dropped, c) for r, c in b.covered if r - dropped >= 0}
    a.rows.extend(b.rows)
    a.bottom, a.page = b.bottom, b.page
    a.bottom_cells = {col: (base + r - dropped, span, rows, op)
                      for col, (r, span, rows, op) in b.bottom_cells.items() if r - dropped >= 0}


def _continues(prev: Line, nxt: Line, right: float, left: float) -> bool:
    """A wrapped prose line: the previous line runs to the right margin, the next is not indented."""
    if len(prev.segments) > 1 or len(nxt.segments) > 1:
        return False
    return prev.x1 >= right - 1.5 * prev.size and nxt.x0 <= left + 0.8 * nxt.size


def build(pages: list[PageInput], name: str, kind: str, source: str) -> Document:
    """The Document for a sequence of pages."""
    items = [page_items(p) for p in pages]
    drop_headers_footers(pages, items)
    margins = {}
    for p, its in zip(pages, items, strict=True):
        lines = [it for it in its if isinstance(it, Line)]
        if lines:
            margins[p.number] = (min(li.x0 for li in lines), max(li.x1 for li in lines))
    flat: list[Line | Table] = []
    for its in items:
        for it in its:
            prev = flat[-1] if flat else None
            if isinstance(it, Table) and isinstance(prev, Table) and prev.page != it.page:
                _join_tables(prev, it)
                continue
            if isinstance(it, Line) and isinstance(prev, Line):
                left, right = margins.get(prev.page, (prev.x0, prev.x1))
                if _continues(prev, it, right, left):
                    joiner = [Run(" ", it.page, (it.x0, it.top, it.x0, it.bottom), None, 0)] if _needs_space(
                        prev.text(), it.text()) else []
                    prev.segments[-1].extend(joiner + it.segments[0])
                    prev.x1, prev.page, prev.x0 = it.x1, it.page, it.x0 if prev.page != it.page else prev.x0
                    continue
            flat.append(it)
    tb = TextBuilder()
    page_spans: dict[int, list[int]] = {}
    last_src = [0]

    def sep(text: str) -> None:  # separators stand for the source character before them
        tb.add(text, last_src[0])

    def emit(runs: list[Run]) -> None:
        for r in runs:
            if r.text == " " and r.conf is None and r.src == 0:
                sep(" ")
                continue
            start = len(tb)
            tb.add_box(r.text, r.src, r.page, r.bbox, r.conf)
            last_src[0] = r.src + len(r.text) - 1
            span = page_spans.setdefault(r.page, [start, len(tb)])
            span[0], span[1] = min(span[0], start), max(span[1], len(tb))

    for it in flat:
        if isinstance(it, Line):
            for i, seg in enumerate(it.segments):
                if i:
                    sep("\t")
                emit(seg)
            sep("\n")
        else:
            if len(tb):
                sep("\n")
            recorder = GridRecorder()
            for r, row in enumerate(it.rows):
                width = max((c for c, cell in enumerate(row) if cell), default=-1) + 1
                if not width:
                    continue
                recorder.row(len(tb))
                for c in range(width):
                    if c:
                        sep("\t")
                    start = len(tb)
                    emit(row[c])
                    recorder.cell(start, len(tb), not row[c] and (r, c) in it.covered)
                line_end = len(tb)
                for c in range(width, len(row)):  # trailing empty positions: at the line's end
                    recorder.cell(line_end, line_end, (r, c) in it.covered)
                recorder.end_row(line_end)
                sep("\n")
            tb.add_grid(recorder.grid())
            sep("\n")
    spans = []
    for p in pages:
        s = page_spans.get(p.number)
        prev_end = spans[-1][1] if spans else 0
        spans.append((s[0], s[1]) if s else (prev_end, prev_end))
    return tb.build(name, kind, source, pages=spans)

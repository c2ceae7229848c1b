"""HTML reports (government web pages, Word's "save as web page") → Document.

The page is parsed with lxml and rendered as text the way a person copying it would see it:
block elements on their own lines, page furniture (scripts, navigation) dropped, and every
data table as one line per <tr> with cells separated by a TAB. Row and column spans are
expanded the way a text copy of the table looks: the spanning cell's text appears once, at
the first row and column it covers, and the other positions it covers are empty, so every
row of a table has the same number of positions. Layout tables (tables holding tables) are
rendered as blocks, and the data tables inside them as tables.

Offsets: each rendered character maps to the character of the HTML source it came from
(entities map to their '&'); inserted line breaks and tabs map to the nearest text before.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from lxml import html as lxml_html

from nianbao.document import Document, Grid, GridRecorder, ReaderNote
from nianbao.extract.ingest.decode import damage_note, decode_file
from nianbao.extract.ingest.limits import LIMITS, read_span
from nianbao.extract.ingest.normalise import normalise

# Elements that are never report text.
_DROP = frozenset({
    "script", "style", "noscript", "template", "head", "title", "nav", "aside", "button", "select",
    "option", "iframe", "object", "embed", "svg", "canvas", "input", "textarea", "map", "audio", "video",
})
# Site headers and footers, unless they sit inside the article (an <article><header> holds its title).
_SITE_FURNITURE = frozenset({"header", "footer"})
_CONTENT = frozenset({"article", "main"})
_BLOCK = frozenset({
    "address", "article", "blockquote", "body", "caption", "center", "dd", "details", "dialog", "div", "dl",
    "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hgroup", "hr", "html", "legend", "li", "main", "menu", "ol", "p", "pre", "section",
    "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "listing", "plaintext", "xmp",
})
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
# A start tag long enough to hold more attributes than LIMITS.max_html_attributes (each at least
# two characters: " a"); shorter tags are never looked at, so ordinary pages cost nothing here.
_LONG_TAG = re.compile(rf"""<([A-Za-z][^\s/>]*)((?:[^<>"']|"[^"]*"|'[^']*'){{{2 * LIMITS.max_html_attributes},}})>""")
_ATTRIBUTE = re.compile(r"""\s*[^\s=/>]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]*))?""")

_CHARSET = re.compile(
    rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)|<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""",
    re.IGNORECASE,
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
# What in the HTML source is not text: comments, script/style bodies, CDATA, tags; and entities.
_NOT_TEXT = re.compile(
    r"<!--.*?(?:-->|$)|<(script|style)\b[^>]*>.*?(?:</\1\s*>|$)|<!\[CDATA\[.*?(?:\]\]>|$)"
    r"""|<[!?/A-Za-z](?:[^<>"']|"[^"]*"|'[^']*')*>"""
    r"|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?",
    re.DOTALL | re.IGNORECASE,
)
# Elements whose content _NOT_TEXT already left out of the aligner's stream.
_NO_SOURCE_TEXT = frozenset({"script", "style"})
_BLOCK_TAG = re.compile(r"<(?:p|div|br|tr|td|li|h[1-6]|table|pre|section|article)\b", re.IGNORECASE)
_TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown"})
_WINDOW = 64  # how far ahead a character is looked for before re-anchoring
_ANCHOR = 8  # re-anchor on this many characters …
_MIN_ANCHOR = 4  # … but never on fewer, which would match anywhere
_REACH = 20000  # … and never further ahead than this


def declared_charset(data: bytes) -> str | None:
    """The charset a page declares in <meta charset>, http-equiv or an XML declaration."""
    m = _CHARSET.search(data[:65536])  # generous: some sites put scripts before it
    if not m:
        return None
    return (m.group(1) or m.group(2)).decode("ascii", "replace")


class _Aligner:
    """Finds, in document order, where each character lxml reports sits in the HTML source."""

    def __init__(self, source: str) -> None:
        chars: list[str] = []
        offs: list[int] = []
        pos = 0
        for m in _NOT_TEXT.finditer(source):
            chars.append(source[pos:m.start()])
            offs.extend(range(pos, m.start()))
            token = m.group(0)
            if token.startswith("&"):
                decoded = html.unescape(token)
                chars.append(decoded)
                offs.extend([m.start()] * len(decoded))
            pos = m.end()
        chars.append(source[pos:])
        offs.extend(range(pos, len(source)))
        self.stream = "".join(chars)
        self.offs = offs
        self.end = len(source)
        self.cursor = 0

    def here(self) -> int:
        return self.offs[self.cursor] if self.cursor < len(self.offs) else self.end

    def align(self, text: str) -> list[int]:
        out: list[int] = []
        stream, n = self.stream, len(self.stream)
        for i, ch in enumerate(text):
            if ch.isspace() and ch != "\xa0":
                if self.cursor < n and stream[self.cursor].isspace():
                    out.append(self.offs[self.cursor])
                    self.cursor += 1
                else:
                    out.append(self.here())
                continue
            j = stream.find(ch, self.cursor, self.cursor + _WINDOW)
            if j < 0:  # lost: re-anchor on the next few characters anywhere ahead
                anchor = text[i:i + _ANCHOR]
                j = stream.find(anchor, self.cursor, self.cursor + _REACH) if len(anchor) >= _MIN_ANCHOR else -1
            if j < 0:
                out.append(self.here())
                continue
            out.append(self.offs[j])
            self.cursor = j + 1
        return out


class _Out:
    """Rendered text with per-character source offsets; collapses HTML whitespace."""

    def __init__(self, keep_lines: bool = False) -> None:
        self.chars: list[str] = []
        self.offs: list[int] = []
        self.last = 0
        self.keep_lines = keep_lines  # a text file with some HTML in it: its whitespace is layout

    def _put(self, ch: str, off: int) -> None:
        self.chars.append(ch)
        self.offs.append(off)
        self.last = off

    def at_line_start(self) -> bool:
        return not self.chars or self.chars[-1] == "\n"

    def inline(self, text: str, offs: list[int], pre: bool = False) -> None:
        for ch, off in zip(text, offs, strict=True):
            if pre or self.keep_lines:
                self._put(ch, off)
            elif ch.isspace() and ch != "\xa0":
                if not self.at_line_start() and self.chars[-1] != " ":
                    self._put(" ", off)
            else:
                self._put(ch, off)

    def _trim(self) -> None:
        while self.chars and self.chars[-1] == " ":
            self.chars.pop()
            self.offs.pop()

    def block(self) -> None:
        self._trim()
        if not self.at_line_start():
            self._put("\n", self.last)

    def br(self) -> None:
        self._trim()
        if len(self.chars) < 2 or self.chars[-1] != "\n" or self.chars[-2] != "\n":
            self._put("\n", self.last)

    def line(self, cells: list[tuple[str, list[int]]]) -> tuple[int, list[tuple[int, int]], int]:
        """One table row: cells separated by TABs. Returns where the line starts, each cell's
        (start, end) in the rendered text, and where the line ends (its newline)."""
        self.block()
        start = len(self.chars)
        spans = []
        for k, (text, offs) in enumerate(cells):
            if k:
                self._put("\t", self.last)
            begin = len(self.chars)
            for ch, off in zip(text, offs, strict=True):
                self._put(ch, off)
            spans.append((begin, len(self.chars)))
        end = len(self.chars)
        self._put("\n", self.last)
        return start, spans, end


def _tag(el: etree._Element) -> str | None:
    return el.tag.lower() if isinstance(el.tag, str) else None  # comments, PIs → None


def _dropped(el: etree._Element, tag: str) -> bool:
    if tag in _DROP or el.get("hidden") is not None or _HIDDEN.search(el.get("style") or ""):
        return True
    if tag in _SITE_FURNITURE:
        return not any(_tag(a) in _CONTENT for a in el.iterancestors())
    return False


def _span(value: str | None, limit: int) -> int:
    """A rowspan/colspan as a count in [1, limit]; 0 means "to the end" (limit)."""
    n = read_span(value)
    if n is None:
        return 1
    if n == 0:  # rowspan="0": to the end of the table
        return limit
    return max(1, min(n, limit))


_Cell = tuple[str, list[int]]


def _place(rows: list[list[tuple[_Cell, str | None, str | None]]]) -> tuple[dict[tuple[int, int], _Cell],
                                                                             set[tuple[int, int]], int] | None:
    """Expand a table's spans on its grid as a browser does: the cells by their first position, the
    positions spans cover, and the width; None when the grid would exceed LIMITS.max_table_cells.

    A colspan is clamped at LIMITS.max_span (the HTML standard's 1000), a rowspan at the rows the
    table has, and the expansion's work is counted as it goes and stops at the budget, so 9.8 KB of
    spans of 100000 costs no more than a table of LIMITS.max_table_cells positions.
    """
    n_rows = len(rows)
    budget = LIMITS.max_table_cells
    grid: dict[tuple[int, int], _Cell] = {}
    taken: set[tuple[int, int]] = set()
    work = 0
    for r, row in enumerate(rows):
        c = 0
        for cell, rowspan, colspan in row:
            while (r, c) in taken:
                c += 1
            rs = _span(rowspan, n_rows - r)
            cs = 1 if (colspan or "").strip() == "0" else _span(colspan, LIMITS.max_span)
            work += rs * cs
            if work > budget:
                return None
            for dr in range(rs):
                for dc in range(cs):
                    taken.add((r + dr, c + dc))
            grid[(r, c)] = cell
            c += cs
    width = max((c + 1 for _, c in taken), default=0)
    if n_rows * width > budget:
        return None
    return grid, taken - grid.keys(), width


class _Renderer:
    """Walks the parsed page in document order, so the aligner's cursor only moves forward."""

    def __init__(self, source: str, keep_lines: bool = False) -> None:
        self.align = _Aligner(source)
        self.out = _Out(keep_lines)
        self.grids: list[Grid] = []
        self.notes: list[ReaderNote] = []
        self.tables = 0

    def text(self, s: str | None, pre: bool = False) -> None:
        if s:
            self.out.inline(s, self.align.align(s), pre)

    def skip(self, el: etree._Element) -> None:
        """Advance past a dropped element's text so later text still finds its place."""
        tag = _tag(el)
        if tag in _NO_SOURCE_TEXT or tag is None:
            return
        self.align.align(el.text or "")
        for child in el:
            self.skip(child)
            self.align.align(child.tail or "")

    def walk(self, el: etree._Element, pre: bool = False) -> None:
        tag = _tag(el)
        if tag is None:
            pass  # a comment: its tail still counts, handled by the caller
        elif _dropped(el, tag):
            self.skip(el)
        elif tag == "br":
            self.out.br()
        elif tag == "table" and not el.xpath(".//table"):
            self.table(el)
        else:
            block = tag in _BLOCK
            pre = pre or tag in ("pre", "listing", "plaintext", "xmp", "textarea")
            if block:
                self.out.block()
            self.text(el.text, pre)
            for child in el:
                self.walk(child, pre)
                self.text(child.tail, pre)
            if block:
                self.out.block()

    def cell(self, el: etree._Element) -> tuple[str, list[int]]:
        """A cell's text on one line: <br>, <p> and other blocks inside it become a space."""
        chars: list[str] = []
        offs: list[int] = []

        def put(s: str | None) -> None:
            if not s:
                return
            for ch, off in zip(s, self.align.align(s), strict=True):
                if ch.isspace() and ch != "\xa0":
                    if chars and chars[-1] != " ":
                        chars.append(" ")
                        offs.append(off)
                else:
                    chars.append(ch)
                    offs.append(off)

        def space() -> None:
            if chars and chars[-1] != " ":
                chars.append(" ")
                offs.append(offs[-1])

        def visit(node: etree._Element) -> None:
            tag = _tag(node)
            if tag is not None and _dropped(node, tag):
                self.skip(node)
            elif tag is not None:
                if tag == "br" or tag in _BLOCK:
                    space()
                put(node.text)
                for child in node:
                    visit(child)
                    put(child.tail)
                if tag in _BLOCK:
                    space()

        put(el.text)
        for child in el:
            visit(child)
            put(child.tail)
        # a cell holding only spaces (&nbsp; included) is empty
        while chars and (chars[-1].isspace()):
            chars.pop()
            offs.pop()
        start = 0
        while start < len(chars) and chars[start].isspace():
            start += 1
        return "".join(chars[start:]), offs[start:]

    def table(self, table: etree._Element) -> None:
        self.out.block()
        for caption in table.xpath("./caption"):
            self.walk(caption)
        self.tables += 1
        rows = [tr for tr in table.xpath("./tr | ./thead/tr | ./tbody/tr | ./tfoot/tr") if not _dropped(tr, "tr")]
        # cell texts first, in document order (the aligner only moves forward)
        cells = [[(self.cell(td), td.get("rowspan"), td.get("colspan")) for td in tr.xpath("./td | ./th")
                  if not _dropped(td, "td")] for tr in rows]
        placed = _place(cells)
        if placed is None:
            self._rows_as_printed(cells)
        else:
            grid, covered, width = placed
            recorder = GridRecorder()
            for r in range(len(rows)):
                start, spans, end = self.out.line([grid.get((r, c), ("", [])) for c in range(width)])
                recorder.row(start)
                for c, (a, b) in enumerate(spans):
                    # a position no <td> reaches (a row shorter than the table) is no printed cell: not a
                    # blank the row states, so a lost cell is not taken for an empty last column
                    recorder.cell(a, b, (r, c) in covered or (r, c) not in grid)
                recorder.end_row(end)
            if width:
                grid_found = recorder.grid()
                if grid_found is not None:
                    self.grids.append(grid_found)
        self.out.block()

    def _rows_as_printed(self, cells: list[list[tuple[_Cell, str | None, str | None]]]) -> None:
        """A table too big to expand: each row's own cells, TAB-separated, spans ignored."""
        start = None
        end = 0
        for row in cells:
            first, _, end = self.out.line([cell for cell, _, _ in row])
            start = first if start is None else start
        n_rows, n_cells = len(cells), sum(len(row) for row in cells)
        self.notes.append(ReaderNote(
            "table_not_expanded", "structure",
            f"第 {self.tables} 个表格（{n_rows} 行，{n_cells} 个单元格）的合并单元格展开后超过 "
            f"{LIMITS.max_table_cells} 格，已按各行自身的单元格读取，未展开合并单元格；表中数值的列位置需要核对",
            ((start, end),) if start is not None else ()))


def _bound_attributes(markup: str) -> str:
    """Keep at most LIMITS.max_html_attributes attributes per element (libxml2 compares each new
    attribute with all earlier ones: 100,000 of them cost minutes). Attributes never hold text."""
    def cut(m: re.Match[str]) -> str:
        kept = []
        for k, a in enumerate(_ATTRIBUTE.finditer(m.group(2))):
            if k >= LIMITS.max_html_attributes:
                return f"<{m.group(1)}{''.join(kept)}>"
            kept.append(a.group(0))
        return m.group(0)  # within the limit: untouched

    return _LONG_TAG.sub(cut, markup)


@dataclass
class Rendered:
    """A page as text, with each character's index in the source, its tables' grids, and notes."""

    text: str
    offsets: list[int]
    grids: list[Grid] = field(default_factory=list)
    notes: list[ReaderNote] = field(default_factory=list)


class TooDeep(ValueError):
    """Markup nested deeper than the parser builds (LIMITS.max_html_depth)."""


def render(source: str, keep_lines: bool = False) -> Rendered:
    """The page's text as a reader copies it, with each character's index in `source`.

    keep_lines: whitespace outside tables is kept as printed (a text file that holds a stray
    HTML table is still a text file, whose lines and tabs the template parser reads as printed).
    Raises TooDeep when elements nest deeper than the parser goes (the rest would be lost).
    """
    markup = _bound_attributes(_XML_DECL.sub("", source, count=1).replace("\x00", ""))
    # huge_tree: Word's pages nest deeper and hold longer text runs than libxml2's defaults allow
    parser = lxml_html.HTMLParser(encoding="utf-8", remove_comments=False, remove_pis=False, huge_tree=True)
    try:
        root = etree.fromstring(markup.encode("utf-8", "replace"), parser)
    except etree.ParserError:
        root = None
    if any(e.type_name == "ERR_RESOURCE_LIMIT" and "depth" in e.message for e in parser.error_log):
        raise TooDeep(f"is HTML nested more than {LIMITS.max_html_depth} elements deep (the reader's limit); "
                      "the text below that depth cannot be read")
    if root is None:
        return Rendered("", [])
    renderer = _Renderer(source, keep_lines)
    try:
        renderer.walk(root)
    except RecursionError:  # nesting deeper than Python's stack: every text run on its own line
        renderer = _Renderer(source, keep_lines)
        for node in root.iter():
            if _tag(node) not in _NO_SOURCE_TEXT:
                for s in (node.text, node.tail) if _tag(node) else (node.tail,):
                    renderer.text(s)
                    renderer.out.block()
    renderer.out.block()
    return Rendered("".join(renderer.out.chars), renderer.out.offs, renderer.grids, renderer.notes)


def read(path: Path, data: bytes) -> Document:
    """Decode (BOM, declared charset, detection), render, normalise; offsets point into the HTML."""
    decoded = decode_file(path, data, declared_charset(data))
    source = decoded.text
    # a text file holding some markup, or a "page" with no block structure, keeps its lines
    keep_lines = path.suffix.lower() in _TEXT_SUFFIXES or not _BLOCK_TAG.search(source)
    try:
        page = render(source, keep_lines=keep_lines)
    except TooDeep as e:
        from nianbao.extract.ingest import IngestError

        raise IngestError(path, str(e)) from None
    doc = normalise(page.text, page.offsets, len(source), grids=page.grids, notes=page.notes).document(
        path.name, "html", source, decoded.encoding)
    note = damage_note(decoded, doc)
    if note:
        doc.notes.append(note)
    return doc


__all__ = ["declared_charset", "read", "render"]

"""Document: what every reader (txt, html, docx, pdf, scan) produces and every extractor reads.

The extractor sees only normalised `text`; `offsets` maps each character of it back to the
original source, and `boxes` (for PDFs and scans) to a page and a rectangle, so a reviewer can
always be shown where a number came from.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field

from nianbao.models import Span, trusted


@dataclass(frozen=True)
class Box:
    """A run of Document.text that came from one place on one page."""

    start: int
    end: int
    page: int
    bbox: tuple[float, float, float, float]
    confidence: float | None = None  # OCR confidence, when the text was recognised


@dataclass(frozen=True)
class GridCell:
    """One position of a table whose cell boundaries the source states (HTML, Word, a ruled PDF).

    `start == end` for a cell that prints nothing (an empty `<td>`, `&nbsp;`), placed where its
    TAB-separated field sits in Document.text. `covered` marks a position that another cell's
    rowspan/colspan covers: it is structure, not a blank.
    """

    row: int
    col: int
    start: int
    end: int
    covered: bool = False


@dataclass
class Grid:
    """A table read from a source with real cell boundaries, as positions in Document.text.

    Readers emit each grid row as one line of TAB-separated fields (covered positions empty) and
    record the grid here, so the template parser can place a value by its row and column and keep
    a blank cell blank at its own column instead of letting the next value slide into it.
    """

    start: int
    end: int
    n_rows: int
    n_cols: int
    cells: list[GridCell] = field(default_factory=list)  # row-major

    def cell(self, row: int, col: int) -> GridCell | None:
        """The cell at (row, col), or None outside the grid."""
        if 0 <= row < self.n_rows and 0 <= col < self.n_cols:
            return self.cells[row * self.n_cols + col]
        return None

    def moved(self, new_pos: Callable[[int], int]) -> Grid:
        """The same grid with every position passed through new_pos (a text was rewritten)."""
        return Grid(new_pos(self.start), new_pos(self.end), self.n_rows, self.n_cols,
                    [GridCell(c.row, c.col, new_pos(c.start), new_pos(c.end), c.covered) for c in self.cells])


class GridRecorder:
    """Collects a table's cells while a reader writes its rows, one line per row.

    `row(line_start)` opens a row, `cell(start, end, covered)` records its positions left to right,
    `end_row(line_end)` closes it (line_end: where the row's line ends, before its newline). Rows
    with fewer positions than the widest are completed at their line's end with positions marked
    covered (no cell was printed there, so none is a stated blank), so the grid is rectangular.
    """

    def __init__(self) -> None:
        self._rows: list[tuple[list[GridCell], int]] = []
        self._open: list[GridCell] | None = None
        self._start: int | None = None

    def row(self, line_start: int) -> None:
        if self._start is None:
            self._start = line_start
        self._open = []

    def cell(self, start: int, end: int, covered: bool = False) -> None:
        assert self._open is not None, "cell() outside a row"
        self._open.append(GridCell(len(self._rows), len(self._open), start, end, covered))

    def end_row(self, line_end: int) -> None:
        assert self._open is not None, "end_row() outside a row"
        self._rows.append((self._open, line_end))
        self._open = None

    def grid(self) -> Grid | None:
        """The recorded grid, or None when no row was recorded."""
        if not self._rows or self._start is None:
            return None
        width = max(len(cells) for cells, _ in self._rows)
        out: list[GridCell] = []
        for r, (cells, line_end) in enumerate(self._rows):
            out.extend(cells)
            out.extend(GridCell(r, c, line_end, line_end, True) for c in range(len(cells), width))
        return Grid(self._start, self._rows[-1][1], len(self._rows), width, out)


@dataclass(frozen=True)
class ReaderNote:
    """Something a reader did to a file that a reviewer must know about: damaged bytes replaced, a
    table read without expanding its spans, a page not OCR'd. The pipeline makes each one a finding
    (rule `ingest.<kind>`), so nothing a reader left out is lost silently."""

    kind: str  # e.g. "damaged_bytes", "table_not_expanded", "page_not_read"
    category: str  # the finding's category: "ocr" (characters not as printed) or "structure"
    message: str  # for the reviewer, in Chinese; names the offsets or pages
    spans: tuple[tuple[int, int], ...] = ()  # where in Document.text, when the place is known

    def moved(self, new_pos: Callable[[int], int]) -> ReaderNote:
        return ReaderNote(self.kind, self.category, self.message,
                          tuple((new_pos(s), new_pos(e)) for s, e in self.spans))


@dataclass
class Document:
    name: str
    kind: str  # "txt", "md", "html", "docx", "pdf", "scan"
    text: str
    source: str = ""  # the original characters (decoded file, HTML source, or a PDF's raw text layer)
    offsets: list[int] = field(default_factory=list)  # len(text) + 1 entries: text index → source index
    boxes: list[Box] = field(default_factory=list)  # sorted by start
    pages: list[tuple[int, int]] = field(default_factory=list)  # text span of each page
    encoding: str | None = None
    grids: list[Grid] = field(default_factory=list)  # tables with real cell boundaries, by start
    notes: list[ReaderNote] = field(default_factory=list)  # what the reader changed or left out

    def __post_init__(self) -> None:
        if not self.offsets:
            self.offsets = list(range(len(self.text) + 1))
            if not self.source:
                self.source = self.text

    def span(self, start: int, end: int) -> Span:
        """A Span for text[start:end], carrying source offsets and page/box where known."""
        o_start = self.offsets[start] if start < len(self.offsets) else None
        o_end = None
        if end > start and end - 1 < len(self.offsets):
            o_end = self.offsets[end - 1] + 1
        page, bbox = self._place(start, end) if (self.boxes or self.pages) else (None, None)
        # built without validation: every field is computed here, and this runs for every cell
        return trusted(Span, {"start": start, "end": end, "orig_start": o_start, "orig_end": o_end,
                                    "page": page, "bbox": bbox})

    def box_at(self, pos: int) -> Box | None:
        if not self.boxes:
            return None
        starts = [b.start for b in self.boxes]
        i = bisect.bisect_right(starts, pos) - 1
        if i >= 0 and self.boxes[i].start <= pos < self.boxes[i].end:
            return self.boxes[i]
        return None

    def boxes_in(self, start: int, end: int) -> list[Box]:
        """Boxes overlapping text[start:end] (boxes are sorted by start and do not overlap)."""
        if not self.boxes:
            return []
        starts = self.__dict__.get("_box_starts")
        if starts is None or len(starts) != len(self.boxes):
            starts = self.__dict__["_box_starts"] = [b.start for b in self.boxes]
        i = max(0, bisect.bisect_right(starts, start) - 1)
        out = []
        while i < len(self.boxes) and self.boxes[i].start < end:
            b = self.boxes[i]
            if b.end > start:
                out.append(b)
            i += 1
        return out

    def page_of(self, pos: int) -> int | None:
        if not self.pages:
            return None
        for i, (s, e) in enumerate(self.pages):
            if s <= pos < e:
                return i + 1
        return None

    def _place(self, start: int, end: int) -> tuple[int | None, tuple[float, float, float, float] | None]:
        hits = self.boxes_in(start, end) if self.boxes else []
        if not hits:
            return self.page_of(start), None
        page = hits[0].page
        same = [b for b in hits if b.page == page]
        bbox = (min(b.bbox[0] for b in same), min(b.bbox[1] for b in same),
                max(b.bbox[2] for b in same), max(b.bbox[3] for b in same))
        return page, bbox


class TextBuilder:
    """Builds normalised text piece by piece while remembering where each character came from."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._offsets: list[int] = []
        self._boxes: list[Box] = []
        self._grids: list[Grid] = []
        self._len = 0

    def add(self, text: str, source_start: int, source_end: int | None = None) -> None:
        """Append `text` that stands for source[source_start:source_end].

        When lengths match, characters map one to one; otherwise every character maps to the
        start of the source range (a replacement such as an entity or a full-width form).
        """
        if not text:
            return
        n = len(text)
        if source_end is not None and source_end - source_start == n:
            self._offsets.extend(range(source_start, source_end))
        else:
            self._offsets.extend([source_start] * n)
        self._parts.append(text)
        self._len += n

    def add_box(self, text: str, source_start: int, page: int, bbox: tuple[float, float, float, float],
                confidence: float | None = None) -> None:
        start = self._len
        self.add(text, source_start, source_start + len(text))
        self._boxes.append(Box(start, self._len, page, bbox, confidence))

    def add_grid(self, grid: Grid | None) -> None:
        """Record a table whose cells were just written (positions in this builder's text)."""
        if grid is not None:
            self._grids.append(grid)

    def __len__(self) -> int:
        return self._len

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def build(self, name: str, kind: str, source: str, *, pages: list[tuple[int, int]] | None = None,
              encoding: str | None = None, notes: list[ReaderNote] | None = None) -> Document:
        offsets = self._offsets + [self._offsets[-1] + 1 if self._offsets else 0]
        return Document(name=name, kind=kind, text=self.text, source=source, offsets=offsets,
                        boxes=sorted(self._boxes, key=lambda b: b.start), pages=pages or [],
                        encoding=encoding, grids=sorted(self._grids, key=lambda g: g.start),
                        notes=list(notes or []))

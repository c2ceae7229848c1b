"""Word reports (.docx, and old .doc through LibreOffice): paragraphs and tables in document order.

Tables come out as rows, one printed row per line with cells separated by a TAB, so the template
parser reads real rows instead of guessing. Merged cells are expanded on the table's grid: a cell
spanning columns (gridSpan) or rows (vMerge) has its text once, the positions it covers are empty.
Each table is also recorded as a Grid (Document.grids), covered positions marked.

Limits (extract.ingest_limits): a span is capped at the table's declared grid (w:tblGrid), a table
that would still expand beyond LIMITS.max_table_cells is read row by row as printed (with a note),
and a file whose parts unpack to more than LIMITS.max_unpacked_bytes is refused.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from docx import Document as open_docx
from docx.oxml.ns import qn

from nianbao.document import Document, GridRecorder, ReaderNote, TextBuilder
from nianbao.extract.ingest.limits import LIMITS, read_span
from nianbao.extract.ingest.textjoin import clean, join

W_P, W_TBL, W_TR, W_TC, W_SDT = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc"), qn("w:sdt")


def _text_of(el) -> str:
    """All text under an element, with Word's tabs and breaks as spaces."""
    parts: list[str] = []
    for node in el.iter():
        if node.tag == qn("w:t"):
            parts.append(node.text or "")
        elif node.tag in (qn("w:tab"), qn("w:br"), qn("w:cr")):
            parts.append(" ")
    return "".join(parts)


def _cell_text(tc) -> str:
    """A cell's paragraphs joined as one label (a wrapped label is one cell, not several lines)."""
    return join([_text_of(p) for p in tc.iter(W_P)])


def _int_attr(el, path: str, default: int) -> int:
    """A numeric w:val (gridSpan, gridBefore), read without ever converting a huge digit run."""
    node = el.find(path)
    if node is None:
        return default
    n = read_span(node.get(qn("w:val")))
    return default if n is None else n


def _declared_width(tbl) -> int:
    """The table's real size: the columns of its grid (w:tblGrid), which Word always writes."""
    grid = tbl.find(qn("w:tblGrid"))
    return sum(1 for _ in grid.iterchildren(qn("w:gridCol"))) if grid is not None else 0


Position = tuple[str, bool]  # (text, covered by another cell's span)


def table_positions(tbl) -> list[list[Position]] | None:
    """The table on its grid: each cell's text at its first position, the positions a gridSpan or
    vMerge covers empty and marked. None when the grid would exceed LIMITS.max_table_cells.

    Spans are capped at the declared grid (a gridSpan of two billion is the rest of the row);
    without a declared grid, at LIMITS.max_span.
    """
    width = _declared_width(tbl)
    rows: list[list[Position]] = []
    cells = 0
    for tr in tbl.iterchildren(W_TR):
        before = _int_attr(tr, f"{qn('w:trPr')}/{qn('w:gridBefore')}", 0)
        row: list[Position] = [("", False)] * min(before, width or LIMITS.max_span)
        cells += len(row)
        for tc in tr.iterchildren(W_TC):
            span = max(1, _int_attr(tc, f"{qn('w:tcPr')}/{qn('w:gridSpan')}", 1))
            span = min(span, max(1, (width or LIMITS.max_span) - len(row)), LIMITS.max_span)
            vmerge = tc.find(f"{qn('w:tcPr')}/{qn('w:vMerge')}")
            continued = vmerge is not None and vmerge.get(qn("w:val"), "continue") == "continue"
            cells += span
            if cells > LIMITS.max_table_cells:
                return None
            row.append(("", True) if continued else (_cell_text(tc), False))
            row.extend([("", True)] * (span - 1))
        rows.append(row)
    return rows


def table_rows(tbl) -> list[list[str]]:
    """The table as a grid of cell texts: merged cells once, covered positions empty (or, for a
    table too big to expand, each row's own cells)."""
    positions = table_positions(tbl)
    if positions is None:
        return [[_cell_text(tc) for tc in tr.iterchildren(W_TC)] for tr in tbl.iterchildren(W_TR)]
    return [[text for text, _ in row] for row in positions]


def _write_table(tb: TextBuilder, tbl, number: int) -> ReaderNote | None:
    """One line per row that has text, TAB-separated, trailing empty positions left out; the
    table's Grid recorded with every position (the trailing ones at their line's end)."""
    positions = table_positions(tbl)
    if positions is None:
        start = len(tb)
        rows = table_rows(tbl)
        for row in rows:
            if any(row):
                tb.add("\t".join(row).rstrip("\t") + "\n", len(tb))
        tb.add("\n", len(tb))
        return ReaderNote("table_not_expanded", "structure",
                          f"第 {number} 个表格（{len(rows)} 行）的合并单元格展开后超过 {LIMITS.max_table_cells} 格，"
                          "已按各行自身的单元格读取，未展开合并单元格；表中数值的列位置需要核对",
                          ((start, len(tb) - 1),))
    recorder = GridRecorder()
    for row in positions:
        if not any(text for text, _ in row):
            continue
        line_start = len(tb)
        line = "\t".join(text for text, _ in row).rstrip("\t")
        line_end = line_start + len(line)
        recorder.row(line_start)
        pos = line_start
        for text, covered in row:
            start = min(pos, line_end)
            recorder.cell(start, min(start + len(text), line_end), covered)
            pos += len(text) + 1
        recorder.end_row(line_end)
        tb.add(line + "\n", line_start)
    tb.add_grid(recorder.grid())
    tb.add("\n", len(tb))
    return None


def _blocks(body):
    """Body children in order, looking inside content controls (w:sdt) that wrap paragraphs or tables."""
    for child in body.iterchildren():
        if child.tag == W_SDT:
            content = child.find(qn("w:sdtContent"))
            if content is not None:
                yield from _blocks(content)
        elif child.tag in (W_P, W_TBL):
            yield child


def from_docx_bytes(name: str, data: bytes) -> Document:
    doc = open_docx(io.BytesIO(data))
    tb = TextBuilder()
    notes: list[ReaderNote] = []
    tables = 0
    for block in _blocks(doc.element.body):
        if block.tag == W_P:
            line = clean(_text_of(block))
            if line:
                tb.add(line + "\n", len(tb))
        else:
            tables += 1
            note = _write_table(tb, block, tables)
            if note:
                notes.append(note)
    text = tb.text
    return tb.build(name, "docx", text, notes=notes) if text else Document(name=name, kind="docx", text="")


def _unpacked_size(data: bytes) -> int:
    """What the .docx's parts take once unpacked, from the zip's own directory (cheap)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return sum(info.file_size for info in z.infolist())


def _convert_doc(path: Path, data: bytes) -> bytes:
    from nianbao.extract.ingest import IngestError

    office = shutil.which("soffice") or shutil.which("libreoffice")
    if not office:
        raise IngestError(path, "is an old Word .doc file and LibreOffice is not installed; convert it with "
                                "`libreoffice --headless --convert-to docx FILE` (or save it as .docx in Word)")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "report.doc"
        src.write_bytes(data)
        try:
            subprocess.run([office, "--headless", "--convert-to", "docx", "--outdir", tmp, str(src)],
                           check=True, capture_output=True, timeout=180)
        except (subprocess.SubprocessError, OSError) as e:
            raise IngestError(path, f"LibreOffice could not convert this .doc file ({type(e).__name__})") from None
        out = Path(tmp) / "report.docx"
        if not out.is_file():
            raise IngestError(path, "LibreOffice could not convert this .doc file (no output)")
        return out.read_bytes()


def read(path: Path, data: bytes) -> Document:
    """A Document from a .docx (or a .doc converted by LibreOffice)."""
    from nianbao.extract.ingest import IngestError

    if data.startswith(b"\xd0\xcf\x11\xe0"):
        data = _convert_doc(path, data)
    try:
        size = _unpacked_size(data)
    except (zipfile.BadZipFile, ValueError, EOFError) as e:
        raise IngestError(path, f"is not a readable Word file ({type(e).__name__})") from None
    if size > LIMITS.max_unpacked_bytes:
        raise IngestError(path, f"is a Word file whose parts unpack to more than {LIMITS.max_unpacked_bytes >> 20} MB "
                                f"({size >> 20} MB; a zip bomb, or not a report); not read")
    try:
        return from_docx_bytes(path.name, data)
    except (KeyError, ValueError) as e:
        raise IngestError(path, f"is not a readable Word file ({type(e).__name__})") from None

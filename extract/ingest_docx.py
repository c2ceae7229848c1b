"""Word reports (.docx, and old .doc through LibreOffice): paragraphs and tables in document order.

Tables come out as rows, one printed row per line with cells separated by a TAB, so the template
parser reads real rows instead of guessing. Merged cells are expanded on the table's grid: a cell
spanning columns (gridSpan) or rows (vMerge) has its text once, the positions it covers are empty.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

from docx import Document as open_docx
from docx.oxml.ns import qn

from nianbao.document import Document, TextBuilder
from nianbao.extract.textjoin import clean, join

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
    node = el.find(path)
    if node is None:
        return default
    try:
        return int(node.get(qn("w:val")))
    except (TypeError, ValueError):
        return default


def table_rows(tbl) -> list[list[str]]:
    """The table as a grid of cell texts: merged cells once, covered positions empty."""
    rows: list[list[str]] = []
    for tr in tbl.iterchildren(W_TR):
        row: list[str] = [""] * _int_attr(tr, f"{qn('w:trPr')}/{qn('w:gridBefore')}", 0)
        for tc in tr.iterchildren(W_TC):
            span = max(1, _int_attr(tc, f"{qn('w:tcPr')}/{qn('w:gridSpan')}", 1))
            vmerge = tc.find(f"{qn('w:tcPr')}/{qn('w:vMerge')}")
            continued = vmerge is not None and vmerge.get(qn("w:val"), "continue") == "continue"
            row.append("" if continued else _cell_text(tc))
            row.extend([""] * (span - 1))
        rows.append(row)
    return rows


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
    for block in _blocks(doc.element.body):
        if block.tag == W_P:
            line = clean(_text_of(block))
            if line:
                tb.add(line + "\n", len(tb))
        else:
            for row in table_rows(block):
                if any(c for c in row):
                    tb.add("\t".join(row).rstrip("\t") + "\n", len(tb))
            tb.add("\n", len(tb))
    text = tb.text
    return tb.build(name, "docx", text) if text else Document(name=name, kind="docx", text="")


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
        return from_docx_bytes(path.name, data)
    except (KeyError, ValueError) as e:
        raise IngestError(path, f"is not a readable Word file ({type(e).__name__})") from None

"""PDF reports: text pages through their text layer, scanned pages through OCR, one Document.

pdfplumber gives every character with its box and every stroked ruling; extract.layout turns them
into lines and TAB-separated table rows. A page whose text layer is (nearly) empty is a scan: it is
rendered with pypdfium2 and read by extract.ingest_ocr, and its boxes are converted to PDF points
so every page of the Document uses the same units.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pdfplumber
import pypdfium2 as pdfium

from nianbao.document import Document
from nianbao.extract.layout import BBox, PageInput, Token, build
from nianbao.extract.textjoin import unify_ideographs

logging.getLogger("pdfminer").setLevel(logging.ERROR)  # font warnings on every page are not the user's business

MIN_TEXT_CHARS = 20  # fewer visible characters than this on a page: treat it as a scan
RULE_MAX = 2.5  # a filled rectangle thinner than this (points) is drawn as a ruling
OCR_DPI = 200


def _edges(page) -> list[BBox]:
    """Visible rulings: stroked lines and rectangle sides, and thin dark filled rectangles."""
    out: list[BBox] = []
    for ln in page.lines:
        out.append((ln["x0"], ln["top"], ln["x1"], ln["bottom"]))
    for r in page.rects:
        x0, top, x1, bottom = r["x0"], r["top"], r["x1"], r["bottom"]
        if r.get("stroke"):
            out += [(x0, top, x1, top), (x0, bottom, x1, bottom), (x0, top, x0, bottom), (x1, top, x1, bottom)]
        elif r.get("fill") and min(x1 - x0, bottom - top) <= RULE_MAX and not _is_white(r.get("non_stroking_color")):
            out.append((x0, top, x1, bottom))
    return out


def _is_white(color) -> bool:
    if color is None:
        return False
    if isinstance(color, (int, float)):
        return color >= 0.95
    try:
        vals = [float(c) for c in color]
    except (TypeError, ValueError):
        return False
    if len(vals) == 4:  # CMYK: white is no ink
        return max(vals) <= 0.05
    return min(vals) >= 0.95


def _text_page(page, number: int, source: list[str], offset: int) -> tuple[PageInput, int]:
    tokens = []
    for ch in page.chars:
        text = unify_ideographs(ch.get("text") or "")
        tokens.append(Token(text, ch["x0"], ch["top"], ch["x1"], ch["bottom"], None, offset))
        source.append(text)
        offset += len(text)
    source.append("\n")
    return PageInput(number, float(page.width), float(page.height), tokens, _edges(page)), offset + 1


def read(path: Path, data: bytes) -> Document:
    """A Document from a text, scanned or mixed PDF; IngestError for encrypted or broken files."""
    from nianbao.extract.ingest import IngestError

    try:
        pdf = pdfplumber.open(io.BytesIO(data))
        plumber_pages = list(pdf.pages)
    except Exception as e:  # pdfminer raises many kinds for encrypted or damaged files
        msg = " ".join([type(e).__name__, str(e), *(type(a).__name__ for a in e.args)]).lower()
        if "password" in msg or "encrypt" in msg:
            raise IngestError(path, "is an encrypted PDF (it needs a password); save an unlocked copy") from None
        raise IngestError(path, f"is not a readable PDF ({type(e).__name__})") from None
    if not plumber_pages:
        raise IngestError(path, "is a PDF with no pages")
    source: list[str] = []
    offset = 0
    pages: list[PageInput | None] = []
    scans: list[int] = []
    with pdf:
        for i, page in enumerate(plumber_pages):
            visible = sum(1 for ch in page.chars if (ch.get("text") or "").strip())
            if visible < MIN_TEXT_CHARS:
                pages.append(None)
                scans.append(i)
                continue
            page_input, offset = _text_page(page, i + 1, source, offset)
            pages.append(page_input)
    if scans:
        from nianbao.extract.ingest_ocr import ocr_images, record_source

        try:
            doc = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as e:
            raise IngestError(path, f"is not a readable PDF ({e})") from None
        scale = OCR_DPI / 72
        images = [doc[i].render(scale=scale).to_pil() for i in scans]
        for i, ocr_page in zip(scans, ocr_images(images, [i + 1 for i in scans]), strict=True):
            ocr_page.scale(1 / scale)
            offset = record_source(ocr_page, source, offset)
            pages[i] = ocr_page
    ready = [p for p in pages if p is not None]
    kind = "scan" if scans and len(scans) == len(ready) else "pdf"
    return build(ready, path.name, kind, "".join(source))

"""PDF reports: text pages through their text layer, scanned pages through OCR, one Document.

pdfplumber gives every character with its box and every stroked ruling; extract.layout turns them
into lines and TAB-separated table rows. A page whose text layer is (nearly) empty is a scan: it is
rendered with pypdfium2 and read by extract.ingest_ocr, and its boxes are converted to PDF points
so every page of the Document uses the same units.

Pages are read one at a time and let go. Scanned pages are rendered lazily, one per OCR worker at a
time, and only when a cheap low-resolution look finds ink (blank pages are skipped). The limits
(extract.ingest_limits): more pages than LIMITS.max_pdf_pages refuses the file; a page too large to
render within LIMITS.max_render_pixels even at LIMITS.min_ocr_dpi is not OCR'd, nor are scanned
pages beyond LIMITS.max_ocr_pages; both leave a note (a finding), or, when nothing else holds
text, make the one line that refuses the file.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import pdfplumber
import pypdfium2 as pdfium

from nianbao.document import Document, ReaderNote
from nianbao.extract.ingest.layout import BBox, PageInput, Token, build
from nianbao.extract.ingest.limits import LIMITS
from nianbao.extract.ingest.textjoin import unify_ideographs

logging.getLogger("pdfminer").setLevel(logging.ERROR)  # font warnings on every page are not the user's business

MIN_TEXT_CHARS = 20  # fewer visible characters than this on a page: treat it as a scan
RULE_MAX = 2.5  # a filled rectangle thinner than this (points) is drawn as a ruling
OCR_DPI = LIMITS.ocr_dpi
GLANCE_PIXELS = 400  # the longer side of the rendering that decides whether a page is blank
PageProgress = Callable[[int, int], None]  # on_page(pages done, pages in the document)


def _finite(*values: float) -> bool:
    """Coordinates a hostile PDF can make infinite or absurd (or integers too big for a float)
    are not layout."""
    try:
        return all(math.isfinite(v) and abs(v) < 1e7 for v in values)
    except (OverflowError, TypeError):
        return False


def _edges(page) -> list[BBox]:
    """Visible rulings: stroked lines and rectangle sides, and thin dark filled rectangles or paths.

    A browser's print of an HTML table (border="1") draws each bevelled border as a filled
    four-point path, which pdfplumber lists as a curve: a thin one is a ruling like a thin rectangle.
    """
    out: list[BBox] = []
    for c in page.curves:
        x0, top, x1, bottom = c["x0"], c["top"], c["x1"], c["bottom"]
        if _finite(x0, top, x1, bottom) and max(x1 - x0, bottom - top) > RULE_MAX and _thin_fill(c):
            out.append((x0, top, x1, bottom))
    for ln in page.lines:
        if _finite(ln["x0"], ln["top"], ln["x1"], ln["bottom"]):
            out.append((ln["x0"], ln["top"], ln["x1"], ln["bottom"]))
    for r in page.rects:
        x0, top, x1, bottom = r["x0"], r["top"], r["x1"], r["bottom"]
        if not _finite(x0, top, x1, bottom):
            continue
        if r.get("stroke"):
            out += [(x0, top, x1, top), (x0, bottom, x1, bottom), (x0, top, x0, bottom), (x1, top, x1, bottom)]
        elif _thin_fill(r):
            out.append((x0, top, x1, bottom))
    return out


def _thin_fill(shape: dict) -> bool:
    """A filled shape no thicker than a ruling, in a colour that shows."""
    return bool(shape.get("fill")) and min(shape["x1"] - shape["x0"], shape["bottom"] - shape["top"]) <= RULE_MAX \
        and not _is_white(shape.get("non_stroking_color"))


def _is_white(color) -> bool:
    if color is None:
        return False
    if isinstance(color, (int, float)):
        return _finite(color) and color >= 0.95
    try:
        vals = [float(c) for c in color]
    except (TypeError, ValueError, OverflowError):
        return False
    if len(vals) == 4:  # CMYK: white is no ink
        return max(vals) <= 0.05
    return min(vals) >= 0.95


def _text_page(page, number: int, source: list[str], offset: int) -> tuple[PageInput, int]:
    tokens = []
    for ch in page.chars:
        text = unify_ideographs(ch.get("text") or "")
        if not text or not _finite(ch["x0"], ch["top"], ch["x1"], ch["bottom"]):
            continue
        tokens.append(Token(text, ch["x0"], ch["top"], ch["x1"], ch["bottom"], None, offset))
        source.append(text)
        offset += len(text)
    source.append("\n")
    return PageInput(number, float(page.width), float(page.height), tokens, _edges(page)), offset + 1


def _mm(points: float) -> int:
    return round(points * 25.4 / 72)


def read(path: Path, data: bytes, on_page: PageProgress | None = None) -> Document:
    """A Document from a text, scanned or mixed PDF; IngestError for encrypted or broken files,
    files beyond the page limit, and files in which no page holds text."""
    from nianbao.extract.ingest import IngestError

    try:
        pdf = pdfplumber.open(io.BytesIO(data))
        plumber_pages = pdf.pages
    except Exception as e:  # pdfminer raises many kinds for encrypted or damaged files
        msg = " ".join([type(e).__name__, str(e), *(type(a).__name__ for a in e.args)]).lower()
        if "password" in msg or "encrypt" in msg:
            raise IngestError(path, "is an encrypted PDF (it needs a password); save an unlocked copy") from None
        raise IngestError(path, f"is not a readable PDF ({type(e).__name__})") from None
    total = len(plumber_pages)
    if not total:
        raise IngestError(path, "is a PDF with no pages")
    if total > LIMITS.max_pdf_pages:
        pdf.close()
        raise IngestError(path, f"has {total} pages, more than the {LIMITS.max_pdf_pages} one report may have "
                                "(several reports in one file?); not read")
    done = 0

    def page_done(_: int = 0) -> None:
        nonlocal done
        done += 1
        if on_page:
            on_page(done, total)

    source: list[str] = []
    offset = 0
    pages: list[PageInput | None] = [None] * total
    notes: list[ReaderNote] = []
    scans: list[int] = []
    sizes: list[tuple[float, float]] = []
    with pdf:
        for i, page in enumerate(plumber_pages):
            width, height = float(page.width), float(page.height)
            sizes.append((width, height) if _finite(width, height) else (595.0, 842.0))
            try:
                visible = sum(1 for ch in page.chars if (ch.get("text") or "").strip())
                if visible < MIN_TEXT_CHARS:
                    scans.append(i)
                    continue
                pages[i], offset = _text_page(page, i + 1, source, offset)
                page_done()
            except Exception as e:  # one broken page (a damaged content stream) is not the whole report
                notes.append(ReaderNote("page_not_read", "structure",
                                        f"第 {i + 1} 页无法读取（{type(e).__name__}），该页上的文字和数值没有读取，请对照原件核对"))
                page_done()
            finally:
                page.close()  # its characters and layout objects are not needed any more
    blank: list[int] = []
    oversized: list[tuple[int, float, float]] = []
    if scans:
        try:
            rendered = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as e:
            raise IngestError(path, f"is not a readable PDF ({e})") from None
        with rendered:
            skipped = _ocr(rendered, scans, pages, source, offset, blank, oversized, page_done)
        if skipped:
            notes.append(ReaderNote("page_not_read", "structure",
                                    f"文件有 {len(scans)} 页扫描页，超过一份报告文字识别的上限 {LIMITS.max_ocr_pages} 页，"
                                    f"第 {'、'.join(str(i + 1) for i in skipped[:20])}{' 等' if len(skipped) > 20 else ''} "
                                    "页未做文字识别；这些页上的数值没有读取，请对照原件核对"))
    for i, w, h in oversized:
        notes.append(ReaderNote("page_not_read", "structure",
                                f"第 {i + 1} 页尺寸 {_mm(w)}×{_mm(h)} 毫米，超过文字识别的页面上限"
                                f"（{LIMITS.min_ocr_dpi} dpi 下 {LIMITS.max_render_pixels // 1_000_000} 百万像素），"
                                "未做文字识别；该页上的数值没有读取，请对照原件核对"))
    # pages that gave nothing (blank, oversized, beyond the OCR limit) keep their place, empty
    ready = [p if p is not None else PageInput(i + 1, *sizes[i], []) for i, p in enumerate(pages)]
    if not any(p.tokens for p in ready):
        raise IngestError(path, _no_text(total, blank, oversized, len(scans)))
    kind = "scan" if len(scans) == total else "pdf"
    doc = build(ready, path.name, kind, "".join(source))
    doc.notes.extend(notes)
    return doc


def _ocr(rendered: pdfium.PdfDocument, scans: list[int], pages: list[PageInput | None], source: list[str],
         offset: int, blank: list[int], oversized: list[tuple[int, float, float]],
         page_done: Callable[[int], None]) -> list[int]:
    """OCR the pages without a text layer, lazily, blank and oversized ones left out; returns the
    pages left unread because of LIMITS.max_ocr_pages."""
    from nianbao.extract.ingest.ocr import is_blank, ocr_pages, record_source

    dpi_of: dict[int, float] = {}
    skipped: list[int] = []

    def renders() -> Iterator[tuple[int, Callable]]:
        for i in scans:
            page = rendered[i]
            w, h = page.get_size()
            dpi = float(LIMITS.ocr_dpi)
            pixels = (w * dpi / 72) * (h * dpi / 72)
            if pixels > LIMITS.max_render_pixels:
                dpi *= math.sqrt(LIMITS.max_render_pixels / pixels)
            if dpi < LIMITS.min_ocr_dpi or not _finite(w, h):
                oversized.append((i, w, h))
                page_done(i + 1)
                continue
            glance = page.render(scale=min(dpi, GLANCE_PIXELS * 72 / max(w, h, 1.0)) / 72).to_pil()
            if is_blank(glance):
                blank.append(i)
                page_done(i + 1)
                continue
            if len(dpi_of) >= LIMITS.max_ocr_pages:
                skipped.append(i)
                page_done(i + 1)
                continue
            dpi_of[i + 1] = dpi
            yield i + 1, lambda page=page, dpi=dpi: page.render(scale=dpi / 72).to_pil()

    for number, ocr_page in ocr_pages(renders(), page_done):
        ocr_page.scale(72 / dpi_of[number])
        offset = record_source(ocr_page, source, offset)
        pages[number - 1] = ocr_page
    return skipped


def _no_text(total: int, blank: list[int], oversized: list[tuple[int, float, float]], scanned: int) -> str:
    """The one line for a PDF in which no page gave text, saying why."""
    if len(blank) == total:
        return "has no text (a blank page)" if total == 1 else f"has no text ({total} blank pages)"
    if oversized:
        i, w, h = oversized[0]
        more = f" (and {len(oversized) - 1} more such pages)" if len(oversized) > 1 else ""
        return (f"has no text: page {i + 1} ({_mm(w)}×{_mm(h)} mm) is larger than the "
                f"{LIMITS.max_render_pixels // 1_000_000}-megapixel limit for OCR even at {LIMITS.min_ocr_dpi} dpi, "
                f"and was not read{more}")
    if scanned:
        return f"has no text (OCR read nothing on its {scanned} scanned page{'s' if scanned > 1 else ''})"
    return "has no text (pdf)"

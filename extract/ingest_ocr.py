"""Scanned reports (images, and image-only PDF pages) through offline OCR.

rapidocr-onnxruntime ships the PP-OCR Chinese models inside its wheel, so nothing is downloaded.
Each page is cleaned (red seals removed, skew corrected), read by OCR into word boxes, and its
table rulings are found with morphology (long thin runs of dark pixels); extract.layout then
rebuilds lines and TAB-separated table rows exactly as for a text PDF. A table cell with ink but
no recognised text (a lone "0" the detector missed) is recognised on its own. Every box keeps its
page, its bbox (image pixels of the deskewed page) and its OCR confidence, so a doubtful digit
can become a review finding. Pages are read in parallel, one process per core.
"""

from __future__ import annotations

import io
import os
import re
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageSequence

from nianbao.document import Document
from nianbao.extract.layout import BBox, PageInput, Token, build, find_grids
from nianbao.extract.textjoin import unify_ideographs

MAX_WORKERS = 2
_ENGINE = None
DIGITS = str.maketrans("０１２３４５６７８９．，", "0123456789.,")
# a number with dust read as punctuation at its ends ("6.", ":0"); the dust is not part of the number
DUSTY_NUMBER = re.compile(r"[.,:;'`·˙．°º˚\"~^_%：；，。、]*(\d+(?:\.\d+)?)[.,:;'`·˙．°º˚\"~^_：；，。、]*")
DUST_CONFIDENCE = 0.6  # a number cleaned of dust stays a little doubtful
# what a lone 0 in a table cell is often read as; in a number cell it can only be 0, and a doubtful one
ZERO_LOOKALIKES = {"。", "o", "O", "〇", "○", "()", "（）", "D", "Q", "U", "°"}
DUST = ".,:;'`·˙．°º˚\"~^_%：；，。、"
LOOKALIKE_CONFIDENCE = 0.5


def _engine():
    """One RapidOCR per process (loading the models takes a moment)."""
    global _ENGINE
    if _ENGINE is None:
        from rapidocr_onnxruntime import RapidOCR

        _ENGINE = RapidOCR(print_verbose=False)
    return _ENGINE


# ---------------------------------------------------------------- image clean-up

def remove_red(rgb: np.ndarray) -> np.ndarray:
    """Make red ink (official seals, stamps) vanish: it is never report text and hides digits.

    Where a page has red ink, its red channel is used as the grey image: a red seal is almost white
    in it, while black text stays dark, also where the seal lies over it (whitening red pixels
    instead would eat the edges of every digit under the seal).
    """
    r, g, b = (rgb[..., i].astype(np.int16) for i in range(3))
    red = (r > 150) & (r - g > 50) & (r - b > 50)
    if red.sum() < 200:
        return rgb
    return np.repeat(rgb[..., :1], 3, axis=2)


def deskew_angle(gray: np.ndarray, limit: float = 3.0) -> float:
    """The small rotation (degrees) that makes text rows and rulings horizontal (projection profile).

    A coarse pass over ±limit, then a fine pass around the best: a table rule 1500 px long must end
    within a few pixels of where it starts, or its crossings with the columns are lost.
    """
    small = cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    ink = (small < 160).astype(np.float32)
    h, w = ink.shape

    def score(angle: float) -> float:
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        return float(np.var(cv2.warpAffine(ink, m, (w, h), flags=cv2.INTER_LINEAR).sum(axis=1)))

    coarse = max(np.arange(-limit, limit + 0.01, 0.2), key=lambda a: score(float(a)))
    return float(max(np.arange(coarse - 0.2, coarse + 0.201, 0.02), key=lambda a: score(float(a))))


def rotate(rgb: np.ndarray, angle: float) -> np.ndarray:
    if abs(angle) < 0.05:
        return rgb
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255))


def find_rulings(gray: np.ndarray, text_height: float) -> list[BBox]:
    """Table rules: runs of dark pixels much longer than any glyph stroke."""
    ink = (gray < 200).astype(np.uint8) * 255
    h, w = gray.shape
    out: list[BBox] = []
    long_h = max(int(text_height * 2.5), w // 40, 20)
    long_v = max(int(text_height * 1.3), 20)
    for kernel, horizontal in (((long_h, 1), True), ((1, long_v), False)):
        mask = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, kernel))
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for i in range(1, n):
            x, y, bw, bh, _ = stats[i]
            if horizontal and bw >= long_h and bh <= max(8, text_height / 3, bw / 40):
                out.append((float(x), y + bh / 2, float(x + bw), y + bh / 2))
            elif not horizontal and bh >= long_v and bw <= max(8, text_height / 3, bh / 40):
                out.append((x + bw / 2, float(y), x + bw / 2, float(y + bh)))
    return _anchored(out, text_height)


def _anchored(edges: list[BBox], text_height: float) -> list[BBox]:
    """Drop vertical runs that end on no horizontal rule: a table's rules meet (at both ends, or
    at one where a page break cuts the table), a bold glyph's stem does not, however long it is."""
    horizontals = [e for e in edges if e[2] - e[0] >= e[3] - e[1]]
    reach = max(6.0, text_height / 3)

    def meets(x: float, y: float) -> bool:
        return any(h[0] - reach <= x <= h[2] + reach and abs(h[1] - y) <= reach for h in horizontals)

    return horizontals + [v for v in edges if v[2] - v[0] < v[3] - v[1]
                          and (meets(v[0], v[1]) or meets(v[0], v[3]))]


# ---------------------------------------------------------------- OCR of one page

def _tokens(result, verticals: list[BBox]) -> list[Token]:
    """OCR lines as tokens, each split where a vertical rule runs between its words."""
    tokens: list[Token] = []
    for item in result or []:
        box, text, score = item[0], item[1], float(item[2])
        words = item[3] if len(item) > 3 else None
        contents = item[4] if len(item) > 4 else None
        confs = item[5] if len(item) > 5 else None
        if not words or not contents or len(words) != len(contents):
            xs, ys = [p[0] for p in box], [p[1] for p in box]
            tokens.append(Token(text, min(xs), min(ys), max(xs), max(ys), score))
            continue
        groups: list[list[int]] = [[0]]
        for i in range(1, len(words)):
            prev_x1 = max(p[0] for p in words[i - 1])
            x0 = min(p[0] for p in words[i])
            cy = sum(p[1] for p in words[i]) / len(words[i])
            if any(prev_x1 - 2 <= v[0] <= x0 + 2 and v[1] <= cy <= v[3] for v in verticals):
                groups.append([i])
            else:
                groups[-1].append(i)
        for g in groups:
            pts = [p for i in g for p in words[i]]
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            conf = min(float(confs[i]) for i in g) if confs and len(confs) == len(words) else score
            tokens.append(Token("".join(contents[i] for i in g), float(min(xs)), float(min(ys)),
                                float(max(xs)), float(max(ys)), min(conf, score) if len(g) == len(words) else conf))
    for t in tokens:
        t.text, t.conf = _clean(t.text, t.conf)
    return [t for t in tokens if t.text.strip()]


def _clean(text: str, conf: float | None) -> tuple[str, float | None]:
    """Normalise OCR text: full-width digits, radicals, and dust at the ends of a bare number."""
    text = unify_ideographs(unicodedata.normalize("NFC", text).translate(DIGITS)).strip()
    m = DUSTY_NUMBER.fullmatch(text)
    if m and m.group(1) != text:
        return m.group(1), min(conf if conf is not None else 1.0, DUST_CONFIDENCE)
    return text, conf


def _zero_lookalike(text: str) -> bool:
    return text in ZERO_LOOKALIKES or text.strip(DUST) in ZERO_LOOKALIKES


def _fill_empty_cells(rgb: np.ndarray, gray: np.ndarray, tokens: list[Token], edges: list[BBox],
                      tol: float) -> None:
    """Recognise cells that hold ink but no recognised text (lone digits the detector missed).

    A cell whose only text is a 0 look-alike ("。", "O") holds a 0: it is kept as 0 with a low
    confidence, so the reviewer is asked about it rather than the cell going missing.
    """
    grids, _ = find_grids(edges, tol)
    ink = gray < 150
    for cells in grids:
        for x0, top, x1, bottom in cells:
            inside = [t for t in tokens if x0 <= t.cx <= x1 and top <= t.cy <= bottom]
            if len(inside) == 1 and _zero_lookalike(inside[0].text):
                t = inside[0]
                t.text, t.conf = "0", min(t.conf if t.conf is not None else 1.0, LOOKALIKE_CONFIDENCE)
            if inside:
                continue
            pad = max(4, int(tol))
            ix0, iy0, ix1, iy1 = int(x0) + pad, int(top) + pad, int(x1) - pad, int(bottom) - pad
            if ix1 - ix0 < 6 or iy1 - iy0 < 6:
                continue
            region = ink[iy0:iy1, ix0:ix1]
            if region.sum() < 25:
                continue
            ys, xs = np.nonzero(region)
            cx0, cy0 = max(0, ix0 + xs.min() - 6), max(0, iy0 + ys.min() - 6)
            cx1, cy1 = ix0 + xs.max() + 7, iy0 + ys.max() + 7
            crop = rgb[cy0:cy1, cx0:cx1]
            res, _ = _engine()(crop, use_det=False, use_cls=False, use_rec=True)
            if not res:
                continue
            text, score = _clean(res[0][0], float(res[0][1]))
            if _zero_lookalike(text):
                text, score = "0", min(score or 1.0, LOOKALIKE_CONFIDENCE)
            if text and any(ch.isalnum() for ch in text) and score is not None and score >= 0.3:
                tokens.append(Token(text, float(cx0 + 6), float(cy0 + 6), float(cx1 - 7), float(cy1 - 7), score))


def ocr_page(args: tuple[bytes, int]) -> PageInput:
    """OCR one page image (PNG bytes) into tokens and rulings, in pixels of the deskewed page."""
    png, number = args
    rgb = np.array(Image.open(io.BytesIO(png)).convert("RGB"))
    rgb = remove_red(rgb)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    angle = deskew_angle(gray)
    rgb = rotate(rgb, angle)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    result, _ = _engine()(rgb, use_cls=False, return_word_box=True)  # pages are upright after deskew
    heights = sorted((max(p[1] for p in it[0]) - min(p[1] for p in it[0])) for it in result or [])
    text_height = heights[len(heights) // 2] if heights else 30.0
    edges = find_rulings(gray, text_height)
    verticals = [e for e in edges if e[2] - e[0] < e[3] - e[1]]
    tokens = _tokens(result, verticals)
    tol = max(3.0, text_height / 8)
    _fill_empty_cells(rgb, gray, tokens, edges, tol)
    h, w = gray.shape
    return PageInput(number, float(w), float(h), tokens, edges, tol=tol)


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


def ocr_images(images: list[Image.Image], numbers: list[int]) -> list[PageInput]:
    """OCR pages, in parallel processes when there are several (the models are per process)."""
    jobs = [(_png(im), n) for im, n in zip(images, numbers, strict=True)]
    workers = min(MAX_WORKERS, len(jobs), os.cpu_count() or 1)
    if workers <= 1:
        return [ocr_page(j) for j in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(ocr_page, jobs))


def read(path: Path, data: bytes) -> Document:
    """A Document from an image file (multi-page TIFFs give several pages)."""
    from nianbao.extract.ingest import IngestError

    try:
        image = Image.open(io.BytesIO(data))
        frames = [f.copy() for f in ImageSequence.Iterator(image)]
    except Exception as e:  # PIL raises several kinds for broken or unknown images
        raise IngestError(path, f"is not a readable image ({type(e).__name__})") from None
    pages = ocr_images(frames, list(range(1, len(frames) + 1)))
    if not any(p.tokens for p in pages):
        raise IngestError(path, "no text found (OCR read nothing in this image)")
    source: list[str] = []
    offset = 0
    for p in pages:
        offset = record_source(p, source, offset)
    return build(pages, path.name, "scan", "".join(source))


def record_source(page: PageInput, source: list[str], offset: int) -> int:
    """Append an OCR'd page's words to the Document's source text, each word remembering where it
    starts there (a scan has no text of its own to point back into); returns the new offset."""
    for t in page.tokens:
        t.src = offset
        source.append(t.text)
        offset += len(t.text)
    source.append("\n")
    return offset + 1

"""Scanned reports (images, and image-only PDF pages) through offline OCR.

rapidocr-onnxruntime ships the PP-OCR Chinese models inside its wheel, so nothing is downloaded.
Each page is cleaned (red seals removed, skew corrected), read by OCR into word boxes, and its
table rulings are found with morphology (thin runs of dark pixels longer than a glyph of the body
text, outside the lines of text OCR found; double rules of cells boxed on their own count once);
extract.layout then
rebuilds lines and TAB-separated table rows exactly as for a text PDF. A table cell with ink but
no recognised text (a lone "0" the detector missed) is recognised on its own. Every box keeps its
page, its bbox (image pixels of the deskewed page) and its OCR confidence, so a doubtful digit
can become a review finding.

Throughput: each process runs onnxruntime with one intra-op thread (SETTINGS.threads) and pages
go to a pool of one process per core (SETTINGS.workers), started once and reused for every
document of the run, each process loading the models once. Thread pools inside processes on the
same cores only fight each other (scripts/bench_ocr.py measures it). Pages are rendered lazily and
at most one per worker waits in the queue, so memory does not grow with the page count. Inside a
worker process (a batch runner's, which already has its core) pages are read in that process;
NIANBAO_OCR_WORKERS / NIANBAO_OCR_THREADS (or configure()) set the shape explicitly.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import re
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageSequence

from nianbao.document import Document
from nianbao.extract.ingest.layout import BBox, PageInput, Token, build, find_grids
from nianbao.extract.ingest.textjoin import unify_ideographs


@dataclass
class OcrSettings:
    """How OCR uses the machine: processes, and onnxruntime threads in each."""

    workers: int = 0  # OCR processes; 0: one per core (1 inside a worker process). 1: in this process
    threads: int = 1  # onnxruntime intra-op threads per process


def _env_int(name: str, default: int) -> int:
    try:
        return max(0, int(os.environ.get(name, "")))
    except ValueError:
        return default


SETTINGS = OcrSettings(workers=_env_int("NIANBAO_OCR_WORKERS", 0), threads=_env_int("NIANBAO_OCR_THREADS", 1) or 1)
_ENGINE = None
_POOL: ProcessPoolExecutor | None = None
_POOL_SHAPE: tuple[int, int] | None = None
PageProgress = Callable[[int, int], None]  # on_page(pages done, pages in the document)
DIGITS = str.maketrans("０１２３４５６７８９．，", "0123456789.,")
# a number with dust read as punctuation at its ends ("6.", ":0"); the dust is not part of the number
DUSTY_NUMBER = re.compile(r"[.,:;'`·˙．°º˚\"~^_%：；，。、]*(\d+(?:\.\d+)?)[.,:;'`·˙．°º˚\"~^_：；，。、]*")
DUST_CONFIDENCE = 0.6  # a number cleaned of dust stays a little doubtful
# what a lone 0 in a table cell is often read as; in a number cell it can only be 0, and a doubtful one
ZERO_LOOKALIKES = {"。", "o", "O", "〇", "○", "()", "（）", "D", "Q", "U", "°"}
DUST = ".,:;'`·˙．°º˚\"~^_%：；，。、"
RULE_GLYPHS = ("|", "｜", "丨")  # what OCR makes of a table's vertical rule
# a gap between two characters of one OCR line wider than this many line heights parts two tokens: in a
# table with no rules OCR reads `80 1 0 0` as one line `80100`, its characters apart by a column's width
CELL_GAP = 0.8
LOOKALIKE_CONFIDENCE = 0.5


def _engine():
    """One RapidOCR per process, loaded on first use and kept for every later page and document."""
    global _ENGINE
    if _ENGINE is None:
        from rapidocr_onnxruntime import RapidOCR

        _ENGINE = RapidOCR(print_verbose=False, intra_op_num_threads=SETTINGS.threads, inter_op_num_threads=1)
    return _ENGINE


def configure(workers: int | None = None, threads: int | None = None) -> None:
    """Change SETTINGS; a running pool of another shape is shut down (the next page starts one)."""
    global _ENGINE
    if workers is not None:
        SETTINGS.workers = max(0, workers)
    if threads is not None and threads != SETTINGS.threads:
        SETTINGS.threads = max(1, threads)
        _ENGINE = None
    if _POOL is not None and _POOL_SHAPE != _shape():
        shutdown()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _shape() -> tuple[int, int]:
    """(processes, threads) OCR uses now. By default one process per core, except inside a worker
    process (a batch runner's): that worker already has its core, so its pages are read in it."""
    workers = SETTINGS.workers or (1 if multiprocessing.parent_process() is not None else _cores())
    return workers, SETTINGS.threads


def shutdown() -> None:
    """Stop the OCR processes (they also stop with the process that started them)."""
    global _POOL, _POOL_SHAPE
    if _POOL is not None:
        _POOL.shutdown(wait=True, cancel_futures=True)
    _POOL, _POOL_SHAPE = None, None


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)  # the run that started this worker is gone: never outlive it


def _worker_start(threads: int, parent: int) -> None:
    """In each OCR process: its thread count, a watch on its parent, and the models, once."""
    SETTINGS.workers, SETTINGS.threads = 1, threads
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    _engine()


def _pool() -> ProcessPoolExecutor:
    global _POOL, _POOL_SHAPE
    if _POOL is None:
        workers, threads = _shape()
        # spawn: a fresh interpreter per worker, safe whatever threads the caller runs
        _POOL = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_worker_start, initargs=(threads, os.getpid()))
        _POOL_SHAPE = (workers, threads)
    return _POOL


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


def find_rulings(gray: np.ndarray, text_height: float, text_boxes: Iterable[BBox] = ()) -> list[BBox]:
    """Table rules: runs of dark pixels longer than a glyph stroke of the body text, outside the lines
    of text OCR found (a title's strokes are longer than a narrow column's rule, but they lie inside
    the title's own line; a rule lies between lines)."""
    ink = (gray < 200).astype(np.uint8) * 255
    h, w = gray.shape
    out: list[BBox] = []
    long_h = max(int(text_height * 1.2), 20)
    long_v = max(int(text_height * 1.3), 20)
    boxes = list(text_boxes)
    for kernel, horizontal in (((long_h, 1), True), ((1, long_v), False)):
        mask = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, kernel))
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for i in range(1, n):
            x, y, bw, bh, _ = stats[i]
            if horizontal and bw >= long_h and bh <= max(8, text_height / 3, bw / 40):
                if not _in_a_line(float(x), y + bh / 2, float(x + bw), boxes):
                    out.append((float(x), y + bh / 2, float(x + bw), y + bh / 2))
            elif not horizontal and bh >= long_v and bw <= max(8, text_height / 3, bh / 40):
                out.append((x + bw / 2, float(y), x + bw / 2, float(y + bh)))
    return _anchored(_single(out, text_height / 3), text_height)


def _in_a_line(x0: float, y: float, x1: float, boxes: list[BBox]) -> bool:
    """A horizontal run within a line of text (not at its very edge), along most of its length: a glyph stroke."""
    for bx0, by0, bx1, by1 in boxes:
        band = 0.05 * (by1 - by0)
        if by0 + band <= y <= by1 - band and min(x1, bx1) - max(x0, bx0) >= 0.5 * (x1 - x0):
            return True
    return False


def _single(edges: list[BBox], gap: float) -> list[BBox]:
    """Double rules drawn as one: parallel rulings closer than `gap` that run along each other.

    An HTML table with border="1" (each cell boxed on its own) or a Word table with double borders
    prints two rules a few pixels apart between neighbouring cells; as two rulings they make a grid
    of thin empty rows and columns between the real ones. No row or column is narrower than a third
    of a line of text, so two such rules are one boundary, at their middle.
    """
    out: list[BBox] = []
    for horizontal in (True, False):
        # (position across, start along, end along), in bands of positions no more than `gap` apart
        spans = sorted(((e[1], e[0], e[2]) if horizontal else (e[0], e[1], e[3])) for e in edges
                       if (e[2] - e[0] >= e[3] - e[1]) == horizontal)
        bands: list[list[tuple[float, float, float]]] = []
        for span in spans:
            if bands and span[0] - bands[-1][-1][0] <= gap:
                bands[-1].append(span)
            else:
                bands.append([span])
        for band in bands:  # within a band, rules that run along each other are one
            pieces: list[list[float]] = []  # [start, end, sum of positions, count]
            for pos, a, b in sorted(band, key=lambda s: s[1]):
                if pieces and a <= pieces[-1][1]:
                    piece = pieces[-1]
                    piece[1] = max(piece[1], b)
                    piece[2] += pos
                    piece[3] += 1
                else:
                    pieces.append([a, b, pos, 1])
            for a, b, total, n in pieces:
                pos = total / n
                out.append((a, pos, b, pos) if horizontal else (pos, a, pos, b))
    return out


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
        keep = [i for i in range(len(words)) if not _on_rule(words[i], contents[i], verticals)]
        if len(keep) < len(words):  # a table's rule read as a glyph (| 77): the rule, not a character
            if not keep:
                continue
            words, contents = [words[i] for i in keep], [contents[i] for i in keep]
            confs = [confs[i] for i in keep] if confs and len(confs) == len(item[3]) else None
        line_height = max(p[1] for p in box) - min(p[1] for p in box)
        groups: list[list[int]] = [[0]]
        for i in range(1, len(words)):
            prev_x1 = max(p[0] for p in words[i - 1])
            x0 = min(p[0] for p in words[i])
            cy = sum(p[1] for p in words[i]) / len(words[i])
            if x0 - prev_x1 > CELL_GAP * line_height or \
                    any(prev_x1 - 2 <= v[0] <= x0 + 2 and v[1] <= cy <= v[3] for v in verticals):
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


def _on_rule(word, content: str, verticals: list[BBox]) -> bool:
    """A bar glyph (|, ｜, 丨) standing on a vertical rule of the table: OCR read the rule itself."""
    if content.strip() not in RULE_GLYPHS:
        return False
    xs, ys = [p[0] for p in word], [p[1] for p in word]
    cx, cy, reach = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2, max(4.0, max(xs) - min(xs))
    return any(abs(v[0] - cx) <= reach and v[1] <= cy <= v[3] for v in verticals)


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


def ocr_page(args: tuple[np.ndarray | bytes | Image.Image, int]) -> PageInput:
    """OCR one page image (an RGB array, PNG bytes, or an image) into tokens and rulings, in
    pixels of the deskewed page."""
    image, number = args
    if isinstance(image, bytes):
        image = Image.open(io.BytesIO(image))
    rgb = image if isinstance(image, np.ndarray) else np.array(image.convert("RGB"))
    rgb = remove_red(rgb)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    angle = deskew_angle(gray)
    rgb = rotate(rgb, angle)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    result, _ = _engine()(rgb, use_cls=False, return_word_box=True)  # pages are upright after deskew
    lines = [(min(p[0] for p in it[0]), min(p[1] for p in it[0]), max(p[0] for p in it[0]), max(p[1] for p in it[0]))
             for it in result or []]
    heights = sorted(b[3] - b[1] for b in lines)
    text_height = heights[len(heights) // 2] if heights else 30.0
    edges = find_rulings(gray, text_height, lines)
    verticals = [e for e in edges if e[2] - e[0] < e[3] - e[1]]
    tokens = _tokens(result, verticals)
    tol = max(3.0, text_height / 8)
    _fill_empty_cells(rgb, gray, tokens, edges, tol)
    h, w = gray.shape
    return PageInput(number, float(w), float(h), tokens, edges, tol=tol)


def is_blank(image: Image.Image) -> bool:
    """A page with no ink at all (judged on a small copy): nothing for OCR to read."""
    small = image.convert("L")
    small.thumbnail((300, 300))
    dark = np.asarray(small) < 160
    return int(dark.sum()) <= max(3, dark.size // 5000)


def ocr_pages(pages: Iterable[tuple[int, Callable[[], Image.Image]]],
              on_page: Callable[[int], None] | None = None) -> Iterator[tuple[int, PageInput]]:
    """OCR pages given as (number, render) in order, yielding (number, page) in the same order.

    Each page is rendered only when a worker is about to be free (at most one waits per worker),
    so a long scan never sits in memory whole. With one worker, pages are read here, in order.
    on_page(number) is called as each page is done.
    """
    workers, _ = _shape()
    if workers <= 1:
        for number, render in pages:
            page = ocr_page((render(), number))
            if on_page:
                on_page(number)
            yield number, page
        return
    pending: deque[tuple[int, Future[PageInput]]] = deque()
    for number, render in pages:  # the pool starts with the first page that needs it
        # the raw pixels: pickling an array is a copy, encoding a PNG costs more CPU than it saves
        pending.append((number, _pool().submit(ocr_page, (np.asarray(render().convert("RGB")), number))))
        while len(pending) > workers:
            done_number, future = pending.popleft()
            result = future.result()
            if on_page:
                on_page(done_number)
            yield done_number, result
    while pending:
        done_number, future = pending.popleft()
        result = future.result()
        if on_page:
            on_page(done_number)
        yield done_number, result


def ocr_images(images: list[Image.Image], numbers: list[int]) -> list[PageInput]:
    """OCR whole images (pages already in memory), in order."""
    pairs = list(zip(numbers, images, strict=True))
    return [page for _, page in ocr_pages((n, lambda im=im: im) for n, im in pairs)]


def read(path: Path, data: bytes, on_page: PageProgress | None = None) -> Document:
    """A Document from an image file (multi-page TIFFs give several pages)."""
    from nianbao.extract.ingest import IngestError
    from nianbao.extract.ingest.limits import LIMITS

    try:
        image = Image.open(io.BytesIO(data))
        n_frames = getattr(image, "n_frames", 1)
    except Image.DecompressionBombError:
        raise IngestError(path, f"is an image larger than {Image.MAX_IMAGE_PIXELS * 2 // 1_000_000} million pixels "
                                "(a decompression bomb, or not a scan); not read") from None
    except Exception as e:  # PIL raises several kinds for broken or unknown images
        raise IngestError(path, f"is not a readable image ({type(e).__name__})") from None
    if n_frames > LIMITS.max_pdf_pages:
        raise IngestError(path, f"has {n_frames} pages, more than the {LIMITS.max_pdf_pages} one report may have; not read")
    blank = 0
    done = 0

    def frames() -> Iterator[tuple[int, Callable[[], Image.Image]]]:
        nonlocal blank, done
        for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
            if is_blank(frame):
                blank += 1
                done += 1
                if on_page:
                    on_page(done, n_frames)
                continue
            page = frame.copy()
            if page.width * page.height > LIMITS.max_render_pixels:  # a very fine scan: OCR needs less
                scale = (LIMITS.max_render_pixels / (page.width * page.height)) ** 0.5
                page = page.resize((max(1, int(page.width * scale)), max(1, int(page.height * scale))))
            yield number, lambda page=page: page

    def page_done(_: int) -> None:
        nonlocal done
        done += 1
        if on_page:
            on_page(done, n_frames)

    try:
        pages = [p for _, p in ocr_pages(frames(), page_done)]
    except IngestError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise IngestError(path, f"is not a readable image ({type(e).__name__})") from None
    if not any(p.tokens for p in pages):
        what = ("a blank page" if n_frames == 1 else f"{blank} blank pages") if blank == n_frames \
            else "OCR read nothing in this image"
        raise IngestError(path, f"no text found ({what})")
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

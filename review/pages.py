"""The original beside the reading: page images of PDFs and scans, rendered once and cached.

Cell boxes are stored in the units the reader placed them in: PDF points (1/72 inch, top-left
origin) for PDFs, text or scanned alike, and pixels for image files. A page is rendered with
pypdfium2 at a fixed scale (or, for an image, converted as it is) and cached as PNG under the
cache folder, named by the file's content hash, so a file that has changed since it was stored is
never shown as the one that was read: its bytes are hashed again before the first render.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

PDF_SCALE = 2.0  # pixels per point: 144 dpi, sharp enough to read a 9-pt digit
MAX_SIDE = 4000  # pixels; a page bigger than this is rendered smaller, never at any size it claims
MAX_PAGES = 2000


class PageError(ValueError):
    """The page cannot be shown (the original moved or changed, no such page); the message is Chinese."""


@dataclass(frozen=True)
class PageImage:
    path: Path
    width: int  # pixels
    height: int
    scale: float  # pixels per bbox unit


def cache_dir() -> Path:
    root = os.environ.get("NIANBAO_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "nianbao")
    return Path(root) / "pages"


def original_bytes(path: str, content_hash: str) -> bytes:
    """The stored report's original file, if it is still there with the bytes that were read."""
    p = Path(path)
    try:
        if not p.is_file():
            raise PageError("原件已不在原来的位置")
        data = p.read_bytes()
    except OSError:
        raise PageError("原件无法读取") from None
    if hashlib.sha256(data).hexdigest() != content_hash:
        raise PageError("原件在读取之后已被修改")
    return data


def page_image(path: str, content_hash: str, page: int, folder: Path | None = None) -> PageImage:
    """Page `page` (1-based) of the original as a cached PNG."""
    from PIL import Image

    folder = folder or cache_dir()
    if not 1 <= page <= MAX_PAGES:
        raise PageError(f"没有第 {page} 页")
    png = folder / f"{content_hash[:32]}-p{page}.png"
    meta = png.with_suffix(".scale")
    if png.is_file() and meta.is_file():
        with Image.open(png) as im:
            return PageImage(png, im.width, im.height, float(meta.read_text()))
    data = original_bytes(path, content_hash)
    if data[:5] == b"%PDF-":
        image, scale = _render_pdf(data, page)
    else:
        image, scale = _render_image(data, page)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = png.with_suffix(f".{os.getpid()}.tmp")
    image.save(tmp, format="PNG", optimize=False)
    os.replace(tmp, png)
    meta.write_text(repr(scale))
    return PageImage(png, image.width, image.height, scale)


def _render_pdf(data: bytes, page: int):
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        raise PageError("原件不是可读的 PDF") from None
    try:
        if page > len(doc):
            raise PageError(f"原件只有 {len(doc)} 页")
        p = doc[page - 1]
        w, h = p.get_size()
        scale = min(PDF_SCALE, MAX_SIDE / max(w, h, 1))
        return p.render(scale=scale).to_pil().convert("RGB"), scale
    finally:
        doc.close()


def _render_image(data: bytes, page: int):
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        im = Image.open(io.BytesIO(data))
        frames = list(ImageSequence.Iterator(im)) if getattr(im, "n_frames", 1) > 1 else [im]
    except (UnidentifiedImageError, OSError):
        raise PageError("原件不是可读的图片") from None
    if page > len(frames):
        raise PageError(f"原件只有 {len(frames)} 页")
    frame = frames[page - 1].convert("RGB")
    if max(frame.size) > MAX_SIDE:
        frame.thumbnail((MAX_SIDE, MAX_SIDE))  # boxes are then drawn with the same factor
        return frame, frame.width / Image.open(io.BytesIO(data)).width
    return frame, 1.0

"""Choose a reader for a file by its content and extension, and return a Document.

Each input kind has its own reader module exposing `read(path: Path, data: bytes) -> Document`
(readers of paged files also take `on_page(done, total)`, called as each page is read); this
module only sniffs and dispatches, so adding a kind touches one line here. How far each reader
goes before it stops is extract.ingest_limits.
"""

from __future__ import annotations

import importlib
import inspect
import stat
from collections.abc import Callable
from pathlib import Path

from nianbao.document import Document
from nianbao.errors import InputError
from nianbao.extract.ingest.limits import LIMITS

# kind → reader module (relative to nianbao.extract.ingest)
READERS: dict[str, str] = {
    "txt": "text",
    "md": "text",
    "html": "html",
    "docx": "docx",
    "doc": "docx",
    "pdf": "pdf",
    "image": "ocr",
}

EXTENSIONS: dict[str, str] = {
    ".txt": "txt", ".text": "txt", ".md": "md", ".markdown": "md",
    ".html": "html", ".htm": "html", ".shtml": "html", ".xhtml": "html",
    ".docx": "docx", ".doc": "doc", ".pdf": "pdf",
    ".png": "image", ".jpg": "image", ".jpeg": "image", ".tif": "image", ".tiff": "image",
    ".bmp": "image", ".webp": "image",
}


class IngestError(InputError):
    """A file that cannot be read as a report; str() is one line naming the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def sniff(path: Path, data: bytes) -> str:
    """The input kind, from magic bytes first and the extension second."""
    head = data[:2048]
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"PK\x03\x04") and b"word/" in data[:65536]:
        return "docx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "doc"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM")) or (
        head.startswith(b"RIFF") and head[8:12] == b"WEBP"
    ):
        return "image"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 (Word's "web page"): look at it as text
        data = data[:400000].decode("utf-16", "ignore").encode("utf-8", "ignore")
        head = data[:2048]
    lowered = head.lower().lstrip(b"\xef\xbb\xbf \t\r\n")
    if lowered.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<table" in data[:200000].lower():
        return "html"
    kind = EXTENSIONS.get(path.suffix.lower())
    if kind in ("txt", "md", "html", None):
        return kind or "txt"
    return kind


def page_count(path: str | Path) -> int:
    """Pages of a PDF or a multi-page image, cheaply (no text is read); 0 for other files or on any error.

    The batch runner gives such a file more time, since each page may need OCR."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            kind = sniff(p, fh.read(2048))
        if kind == "pdf":
            import pypdfium2 as pdfium

            pdf = pdfium.PdfDocument(str(p))
            try:
                return len(pdf)
            finally:
                pdf.close()
        if kind == "image":
            from PIL import Image

            with Image.open(p) as im:
                return int(getattr(im, "n_frames", 1) or 1)
    except Exception:  # noqa: BLE001 - a file that cannot be opened gets the plain limit; reading it says why
        return 0
    return 0


def read_document(path: str | Path, on_page: Callable[[int, int], None] | None = None) -> Document:
    """Read any supported file into a Document, or raise IngestError with a one-line reason.

    on_page(done, total) is called as each page of a PDF or multi-page image is read (OCR takes
    seconds a page, so a batch runner can show progress); other kinds are read in one step.
    """
    p = Path(path)
    try:
        info = p.stat()
        if stat.S_ISDIR(info.st_mode):
            raise IngestError(p, "is a directory, not a report file")
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read forever, a device never end
            raise IngestError(p, "is not a regular file (a pipe, device or socket); not read")
        if info.st_size > LIMITS.max_file_bytes:
            raise IngestError(p, f"is {info.st_size / (1 << 20):,.0f} MB, more than the "
                                 f"{LIMITS.max_file_bytes >> 20} MB one report file may be; not read")
        data = p.read_bytes()
    except IsADirectoryError:
        raise IngestError(p, "is a directory, not a report file") from None
    except OSError as e:
        raise IngestError(p, f"cannot be read ({e.strerror or e})") from None
    if not data[:4096].strip() and not data.strip():
        raise IngestError(p, "is empty")
    kind = sniff(p, data)
    try:
        module = importlib.import_module(f"nianbao.extract.ingest.{READERS[kind]}")
    except ModuleNotFoundError:  # a reader not built (or not installed) yet is still one line
        raise IngestError(p, f"looks like a {kind} file, which this installation cannot read") from None
    paged = on_page is not None and "on_page" in inspect.signature(module.read).parameters
    try:
        doc = module.read(p, data, on_page=on_page) if paged else module.read(p, data)
    except IngestError:
        raise
    except Exception as e:  # a reader's crash on a hostile file is still one line for the user
        raise IngestError(p, f"could not be read as {kind}: {type(e).__name__}: {e}") from None
    if not doc.text.strip():
        raise IngestError(p, f"has no text ({kind})")
    return doc

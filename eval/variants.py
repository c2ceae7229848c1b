"""Real reports re-encoded the ways publishing and crawling re-encode a page, scored against their own gold.

The gold of a real report does not change when its text is joined into one line, double-spaced,
wrapped at a page width, printed in full-width digits, saved as GB18030 with CRLF line ends, or set
in `<p>` or `<br>` HTML: the cells are the same cells. A parser that reads d01–d16 only because of
their own line breaks fails here, which the generated corpus (built on the parser's assumptions)
cannot show. The text variants re-encode plain-text reports (.txt, .md); a markdown file is not joined
into one line (no crawler hands out flattened markdown), and no variant cuts inside a number. Two
more, named with --variant because they need Chromium and OCR time, take the HTML pages: printed to
PDF by Chromium (its table borders are filled paths, not lines), and that print scanned back at
200 dpi, as a report printed, stamped and scanned reaches a user.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TEXT_SUFFIXES = (".txt", ".md")
HTML_SUFFIXES = (".html", ".htm")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")
SCAN_DPI = 200  # a common office scanner setting
PAGE_WIDTH = 30  # characters per line of the wrapped variant (a narrow PDF column)
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@dataclass(frozen=True)
class Variant:
    name: str
    about: str
    suffix: str | None  # the file's new suffix, None to keep it
    encode: Callable[[str, str], bytes | None]  # (text, suffix) → the file's bytes, None: not this file
    sources: tuple[str, ...] = TEXT_SUFFIXES  # the reports it re-encodes, by suffix
    default: bool = True  # in the run when no --variant is named (printing needs Chromium, scans need OCR time)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8")


def _one_line(text: str, suffix: str) -> bytes | None:
    return None if suffix == ".md" else _utf8(re.sub(r"\s+", " ", text).strip())


def _wrap_line(line: str, width: int = PAGE_WIDTH) -> list[str]:
    """Cut a line every `width` characters, moving each cut past a number it would split (12|34, 3.|5)."""
    if "|" in line:  # a markdown table row stays whole, as converters print it
        return [line]
    out = []
    while len(line) > width:
        i = width
        while i < len(line) and (line[i].isdigit() or line[i] in ".,") and (line[i - 1].isdigit() or line[i - 1] in ".,"):
            i += 1
        out.append(line[:i])
        line = line[i:]
    return [*out, line]


def _wrapped(text: str, suffix: str) -> bytes:
    return _utf8("\n".join(part for line in text.split("\n") for part in _wrap_line(line)))


def _html(text: str, tag: str) -> bytes:
    lines = [html.escape(line) for line in text.split("\n")]
    body = "".join(f"<p>{line}</p>\n" for line in lines) if tag == "p" else "<div>" + "<br>".join(lines) + "</div>"
    return _utf8(f'<html><head><meta charset="utf-8"></head><body>{body}</body></html>')


def _no_rules(page: str) -> str:
    """The page with its tables' borders left out, as many Word reports print their tables."""
    page = re.sub(r"""(<table\b[^>]*?\bborder\s*=\s*)["']?\d+["']?""", r'\g<1>"0"', page, flags=re.I)
    return page.replace("</head>", "<style>table, td, th { border: none !important; }</style></head>", 1)


def print_to_pdf(page: str) -> bytes:
    """An HTML page printed to PDF by Debian's Chromium, as a user saving a web page as PDF does."""
    import subprocess
    import tempfile

    if not CHROMIUM.exists():
        raise ValueError(f"printing a page to PDF needs Debian's chromium at {CHROMIUM} (make system-deps)")
    with tempfile.TemporaryDirectory() as tmp:
        src, pdf = Path(tmp) / "page.html", Path(tmp) / "page.pdf"
        src.write_text(page, encoding="utf-8")
        subprocess.run([str(CHROMIUM), *CHROMIUM_ARGS, f"--user-data-dir={Path(tmp) / 'profile'}",
                        f"--print-to-pdf={pdf}", "--no-pdf-header-footer", src.as_uri()],
                       check=True, capture_output=True, timeout=180)
        return pdf.read_bytes()


def scan_of(pdf: bytes, dpi: int = SCAN_DPI) -> bytes:
    """A PDF's pages as a grey scan (images only, no text layer), as a printed report scanned back."""
    import io

    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        pages = [doc[i].render(scale=dpi / 72).to_pil().convert("L") for i in range(len(doc))]
    finally:
        doc.close()
    out = io.BytesIO()
    pages[0].save(out, format="PDF", save_all=True, append_images=pages[1:], resolution=dpi)
    return out.getvalue()


VARIANTS: tuple[Variant, ...] = (
    Variant("one_line", "every whitespace run one space: the page joined into one line", None, _one_line),
    Variant("double_spaced", "every line break doubled", None, lambda t, s: _utf8(t.replace("\n", "\n\n"))),
    Variant("wrapped", f"lines cut every {PAGE_WIDTH} characters, never inside a number", None, _wrapped),
    Variant("fullwidth_digits", "every digit full-width (０-９)", None, lambda t, s: _utf8(t.translate(_FULLWIDTH))),
    Variant("gb18030_crlf", "GB18030 bytes, CRLF line ends", None,
            lambda t, s: t.replace("\n", "\r\n").encode("gb18030")),
    Variant("html_p", "an HTML page, one <p> per line", ".html", lambda t, s: _html(t, "p")),
    Variant("html_br", "an HTML page, lines parted by <br>", ".html", lambda t, s: _html(t, "br")),
    Variant("printed_pdf", "an HTML page printed to PDF by Chromium", ".pdf", lambda t, s: print_to_pdf(t),
            HTML_SUFFIXES, default=False),
    Variant("scanned_pdf", f"an HTML page printed, then scanned at {SCAN_DPI} dpi (OCR)", ".pdf",
            lambda t, s: scan_of(print_to_pdf(t)), HTML_SUFFIXES, default=False),
    Variant("printed_pdf_plain", "an HTML page printed to PDF with its tables' rules left out", ".pdf",
            lambda t, s: print_to_pdf(_no_rules(t)), HTML_SUFFIXES, default=False),
    Variant("scanned_pdf_plain", "that print with no rules, scanned (OCR finds no table grid)", ".pdf",
            lambda t, s: scan_of(print_to_pdf(_no_rules(t))), HTML_SUFFIXES, default=False),
)


def write_variants(raw: Path, gold: Path, out: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Write each variant of every text report in `raw` that has gold to OUT/<variant>/, with the gold
    beside it; returns variant name → folder. Nothing is written into `raw` or `gold`."""
    chosen = [v for v in VARIANTS if (v.default if names is None else v.name in names)]
    unknown = set(names or ()) - {v.name for v in VARIANTS}
    if unknown:
        raise ValueError(f"unknown variant(s): {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(v.name for v in VARIANTS)})")
    labelled = [p for p in sorted(raw.iterdir()) if (gold / f"{p.stem}.gold.json").exists()]
    folders = {}
    for v in chosen:
        folder = out / v.name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for p in (p for p in labelled if p.suffix in v.sources):
            data = v.encode(p.read_text(encoding="utf-8"), p.suffix)
            if data is None:
                continue
            name = f"{p.stem}{v.suffix or p.suffix}"
            (folder / name).write_bytes(data)
            label = json.loads((gold / f"{p.stem}.gold.json").read_text(encoding="utf-8"))
            label["report"] = name  # the gold names the file it labels
            (folder / f"{p.stem}.gold.json").write_text(json.dumps(label, ensure_ascii=False, indent=1), encoding="utf-8")
        folders[v.name] = folder
    return folders

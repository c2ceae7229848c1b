"""How far a reader goes before it stops: the readers' limits, in one place.

A report is a few pages with tables of at most a few dozen rows and columns. A hostile or broken
file can still ask for far more (a Word cell spanning two billion columns, an HTML cell spanning
100,000 rows, a 200-inch PDF page, 500 blank scanned pages, elements nested thousands deep). Every
reader bounds its own work with these limits, so reading stays linear in the file's size and the
memory a file can cost is fixed by construction, whatever wraps the reader (a batch runner's time
and memory containment is a second line of defence, not the first).

What happens at each limit is chosen so that nothing is silently lost: a file beyond a limit that
makes it unreadable is refused with one line naming the limit (IngestError); a part of a file
beyond a limit (a table too big to expand, an oversized page) is read in a simpler way or skipped,
and the Document carries a ReaderNote saying so, which becomes a finding in the output.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReaderLimits:
    """The readers' limits. Each field says what it bounds and why its default is safe."""

    # --- files ---
    max_file_bytes: int = 512 << 20
    """Size of one report file. Scanned reports run to tens of MB; a file beyond this is refused
    before it is read into memory."""

    max_text_chars: int = 1_200_000
    """Characters of one report's text that are read. An annual report runs to 5,000–60,000; a text
    file beyond this (a crawl of a whole site pasted into one file, 50 MB on one line) is read up to
    the limit and a note says so, which keeps every later step linear and bounded."""

    # --- tables (HTML <table>, Word w:tbl) ---
    max_span: int = 1000
    """Largest colspan/gridSpan taken as written (the HTML standard clamps colspan at 1000). A span
    is further capped at the table's real size: the widest row's own cells (HTML) or the table's
    declared grid (Word's w:tblGrid), and a rowspan at the rows the table has."""
    max_span_digits: int = 7
    """A span attribute is read from at most this many digits: "rowspan=99999…" (thousands of
    digits) is a big span, not an integer conversion that fails the report."""
    max_table_cells: int = 200_000
    """Positions (rows × columns) one table may expand to. The largest report table has a few
    hundred; a page listing thousands of documents a few tens of thousands. A table that would
    expand beyond this is read row by row as printed (each row's own cells, spans not expanded),
    which is linear in the file, and a note says so."""

    # --- HTML ---
    max_html_depth: int = 2048
    """Element nesting libxml2 builds (its limit with huge_tree). Deeper markup is refused with a
    line that says so; Word's "web pages" nest a few hundred levels at most."""
    max_html_attributes: int = 256
    """Attributes kept per element; libxml2 checks each new attribute against all earlier ones of
    its element, so 100,000 attributes cost minutes. Report pages use a handful; the rest are
    dropped before parsing (they never hold report text)."""

    # --- Word ---
    max_unpacked_bytes: int = 256 << 20
    """Total unpacked size of a .docx's parts. A 37 KB zip may unpack to gigabytes (a zip bomb);
    real reports with photos inside stay well below this."""

    # --- PDF ---
    max_pdf_pages: int = 300
    """Pages one report may have. An annual report has 5 to 40; a file beyond this is refused with
    one line (it is several reports bound together, or not a report)."""
    ocr_dpi: int = 200
    """Resolution scanned pages are rendered at for OCR."""
    max_render_pixels: int = 48_000_000
    """Pixels one page may be rendered to (48 MP ≈ 140 MB of RGB; an A4 page at 200 dpi is 3.9 MP,
    A2 is 15.6 MP). A larger page is rendered at the resolution that fits, down to min_ocr_dpi;
    a page too large even for that is not OCR'd and a note says so."""
    min_ocr_dpi: int = 100
    """Below this, OCR of report-sized print fails; an oversized page is skipped rather than read
    into noise."""
    max_ocr_pages: int = 120
    """Pages without a text layer that are OCR'd in one file (about 10 minutes of CPU). Blank pages
    do not count: they are recognised from a cheap low-resolution rendering and skipped."""

    # --- decoding ---
    max_damaged_fraction: float = 0.005
    """Share of a text file's bytes that may be undecodable and still be read (each replaced by
    U+FFFD and reported with its offset). A handful of flipped bytes in a crawled page is damage; a
    file where one byte in 200 does not decode is the wrong encoding or not text."""
    min_damaged_allowance: int = 16
    """Undecodable bytes always tolerated, however short the file."""
    max_reported_offsets: int = 20
    """Offsets listed in a damaged-bytes finding (the count is always given in full)."""


LIMITS = ReaderLimits()
"""The limits every reader uses."""


def damage_allowance(n_bytes: int, limits: ReaderLimits = LIMITS) -> int:
    """How many undecodable bytes a file of n_bytes may have and still be read."""
    return max(limits.min_damaged_allowance, int(n_bytes * limits.max_damaged_fraction))


def read_span(value: str | None, limits: ReaderLimits = LIMITS) -> int | None:
    """The leading integer of a span attribute ("2", " 3px", "0"), None when there is none.

    At most max_span_digits digits are converted; a longer run of digits reads as one more than
    max_span (it is clamped anyway), so no attribute can make int() fail or grow a huge number.
    """
    if not value:
        return None
    s = value.lstrip()
    n = 0
    while n < len(s) and "0" <= s[n] <= "9":
        n += 1
    if not n:
        return None
    digits = s[:n].lstrip("0") or "0"
    if len(digits) > limits.max_span_digits:
        return limits.max_span + 1
    return int(digits)

"""Generators of hostile inputs for the readers: each builds a small file (a few KB on disk at most,
except where size is the point) that once made a reader blow up in time or memory (issue 11).

Used by tests/test_hostile_inputs.py and scripts/bench_hostile.py; nothing is kept on disk.
"""

from __future__ import annotations

import io
import random
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium

ROOT = Path(__file__).resolve().parent.parent
SEED_TXT = ROOT / "examples" / "reports" / "004_6f1ea477f42cf686.txt"
SEED_DOCX = ROOT / "tests" / "fixtures" / "docs" / "004_6f1ea477f42cf686.docx"


@dataclass(frozen=True)
class Case:
    """One hostile input and what `nianbao extract` must answer."""

    name: str
    build: Callable[[Path], Path]
    exit_code: int
    stderr: str | None = None  # a regex the one stderr line must match (exit 2)
    finding: str | None = None  # a rule id the JSON must hold (exit 0)
    cpu_seconds: float = 20.0  # CPU the whole `extract` may take (imports included)
    max_rss_mb: int = 700  # peak resident memory of the `extract` process
    # a known problem outside the readers that still makes `extract` overrun (the test is then an
    # xfail that turns into a failure the day it is fixed, so the mark is removed)
    known_issue: str | None = None


# ---------------------------------------------------------------- Word

def _patch_docx(src: Path, dst: Path, patch: Callable[[str], str], extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "word/document.xml":
                data = patch(data.decode("utf-8")).encode("utf-8")
            zout.writestr(item, data)
        for name, data in (extra or {}).items():
            zout.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return dst


def _first_cell_property(xml: str, prop: str) -> str:
    """Give the first table cell of the document the cell property `prop` (e.g. a gridSpan)."""
    m = re.search(r"<w:tc>(\s*<w:tcPr>)?", xml)
    assert m, "the seed has no table cell"
    if m.group(1):
        return xml[:m.end()] + prop + xml[m.end():]
    return xml[:m.end()] + f"<w:tcPr>{prop}</w:tcPr>" + xml[m.end():]


def docx_grid_span(tmp: Path) -> Path:
    """A seed report whose first table cell spans two billion columns (was 19 GB, killed)."""
    return _patch_docx(SEED_DOCX, tmp / "gridspan.docx",
                       lambda x: _first_cell_property(x, '<w:gridSpan w:val="2000000000"/>'))


def docx_grid_span_digits(tmp: Path) -> Path:
    """A gridSpan of 5,000 digits (int() refuses more than 4,300)."""
    return _patch_docx(SEED_DOCX, tmp / "gridspan-digits.docx",
                       lambda x: _first_cell_property(x, f'<w:gridSpan w:val="{"9" * 5000}"/>'))


def docx_grid_before(tmp: Path) -> Path:
    """Every table row starts two billion grid columns in (w:gridBefore)."""
    return _patch_docx(SEED_DOCX, tmp / "gridbefore.docx",
                       lambda x: x.replace("<w:tr>", '<w:tr><w:trPr><w:gridBefore w:val="2000000000"/></w:trPr>'))


def docx_wide_grid(tmp: Path) -> Path:
    """A table declaring 300,000 grid columns, every cell spanning all of them."""
    def patch(xml: str) -> str:
        xml = re.sub(r"<w:tblGrid>.*?</w:tblGrid>", lambda _: "<w:tblGrid>" + "<w:gridCol/>" * 300_000 + "</w:tblGrid>",
                     xml, count=1, flags=re.S)
        return re.sub(r"<w:tc>", '<w:tc><w:tcPr><w:gridSpan w:val="300000"/></w:tcPr>', xml)
    return _patch_docx(SEED_DOCX, tmp / "widegrid.docx", patch)


def docx_big_table(tmp: Path) -> Path:
    """A table of 250 rows on a declared grid of 1000 columns (250,000 positions: more than any
    report's table may expand to), after the report."""
    row = '<w:tr><w:tc><w:tcPr><w:gridSpan w:val="1000"/></w:tcPr><w:p><w:r><w:t>x</w:t></w:r></w:p></w:tc></w:tr>'
    table = "<w:tbl><w:tblGrid>" + "<w:gridCol/>" * 1000 + "</w:tblGrid>" + row * 250 + "</w:tbl>"
    return _patch_docx(SEED_DOCX, tmp / "bigtable.docx", lambda x: x.replace("<w:sectPr", table + "<w:sectPr", 1))


def docx_zip_bomb(tmp: Path) -> Path:
    """A seed report carrying a part that unpacks to 300 MB (a few hundred KB zipped)."""
    return _patch_docx(SEED_DOCX, tmp / "bomb.docx", lambda x: x, {"customXml/item9.xml": b" " * (300 << 20)})


# ---------------------------------------------------------------- HTML

def _page(body: str) -> str:
    return f"<html><head><meta charset='utf-8'></head><body>{body}</body></html>"


def html_spans(tmp: Path) -> Path:
    """9.8 KB of cells with rowspan and colspan 100000 (was 2.5 GB and > 300 s)."""
    rows = []
    size = 0
    r = 0
    while size < 9_800:
        row = "<tr>" + "".join(f"<td rowspan=100000 colspan=100000>{r}{c}</td>" for c in range(4)) + "</tr>"
        rows.append(row)
        size += len(row)
        r += 1
    path = tmp / "spans.html"
    path.write_text(_page("<p>一、总体情况</p><table>" + "".join(rows) + "</table>"), "utf-8")
    return path


def html_staircase(tmp: Path) -> Path:
    """Each row's one cell pushed right by the rowspans above it: a table that really is rows ×
    rows positions (14 KB here: 450 × 451), beyond any report's table."""
    rows = "".join("<tr><td rowspan=700>x</td></tr>" for _ in range(450))
    path = tmp / "staircase.html"
    path.write_text(_page("<p>一、总体情况</p><table>" + rows + "</table>"), "utf-8")
    return path


def html_span_digits(tmp: Path) -> Path:
    """Span attributes of 5,000 digits around a real table."""
    digits = "9" * 5000
    table = (f"<table><tr><td colspan={digits}>说明</td></tr></table>"
             f"<table><tr><td rowspan={digits}>规章</td><td>0</td></tr><tr><td>3</td></tr></table>")
    path = tmp / "span-digits.html"
    path.write_text(_page(f"<p>一、总体情况</p><p>发布信息12条。</p>{table}"), "utf-8")
    return path


def html_attributes(tmp: Path) -> Path:
    """One element with 100,000 attributes (was 60 s)."""
    attrs = " ".join(f"a{i}=x" for i in range(100_000))
    path = tmp / "attributes.html"
    path.write_text(_page(f"<p {attrs}>一、总体情况</p><p>发布信息12条。</p>"), "utf-8")
    return path


def html_deep(tmp: Path) -> Path:
    """Elements nested 5,000 deep (was "has no text")."""
    path = tmp / "deep.html"
    path.write_text(_page("<div>" * 5000 + "一、总体情况 发布信息12条。" + "</div>" * 5000), "utf-8")
    return path


# ---------------------------------------------------------------- PDF

def _pdf(pages: list[tuple[float, float]]) -> bytes:
    pdf = pdfium.PdfDocument.new()
    for w, h in pages:
        pdf.new_page(w, h)
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def pdf_huge_page(tmp: Path) -> Path:
    """One blank 14400×14400 pt page, the largest a PDF may declare (was 4.6 GB)."""
    path = tmp / "huge-page.pdf"
    path.write_bytes(_pdf([(14400, 14400)]))
    return path


def pdf_500_blank(tmp: Path) -> Path:
    """500 blank pages (was 8.4 GB and > 300 s: every page rendered up front)."""
    path = tmp / "blank-500.pdf"
    path.write_bytes(_pdf([(595, 842)] * 500))
    return path


def pdf_200_blank(tmp: Path) -> Path:
    """200 blank pages: within the page limit, so each is looked at, cheaply."""
    path = tmp / "blank-200.pdf"
    path.write_bytes(_pdf([(595, 842)] * 200))
    return path


def _pdf_with_content(content: bytes) -> bytes:
    """A one-page PDF written by hand around a content stream (Helvetica, no embedding)."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)


def pdf_huge_numbers(tmp: Path) -> Path:
    """Text, rulings and colours placed with numbers of 400 and 5,000 digits."""
    big, huge = b"9" * 400, b"9" * 5000
    content = (b"BT /F1 12 Tf " + huge + b" 0 0 1 72 700 Tm (2023 annual report line) Tj ET "
               b"BT /F1 12 Tf 1 0 0 1 " + big + b".5 650 Tm (more text here) Tj ET "
               + big + b" 0 0 rg 10 10 1 400 re f 1 w " + big + b" 100 m 200 100 l S "
               b"BT /F1 12 Tf 72 600 Td (A line of the report with enough characters) Tj ET")
    path = tmp / "numbers.pdf"
    path.write_bytes(_pdf_with_content(content))
    return path


# ---------------------------------------------------------------- text

def _flip(data: bytes, n: int, seed: int) -> bytes:
    """n bytes of the Chinese text replaced by bytes that cannot continue it."""
    rng = random.Random(seed)
    out = bytearray(data)
    positions = [i for i, b in enumerate(out) if b >= 0x80]
    for i in rng.sample(positions, n):
        out[i] = 0xFF
    return bytes(out)


def text_flipped_utf8(tmp: Path) -> Path:
    """A UTF-8 seed with 3 damaged bytes (7/10 such files were refused)."""
    path = tmp / "flipped-utf8.txt"
    path.write_bytes(_flip(SEED_TXT.read_bytes(), 3, 11))
    return path


def text_flipped_gbk(tmp: Path) -> Path:
    """A GBK seed with 5 damaged bytes (10/10 such files were refused)."""
    path = tmp / "flipped-gbk.txt"
    path.write_bytes(_flip(SEED_TXT.read_text("utf-8").encode("gbk"), 5, 12))
    return path


def text_nul_byte(tmp: Path) -> Path:
    """A UTF-8 seed with one byte turned into NUL."""
    data = bytearray(SEED_TXT.read_bytes())
    data[len(data) // 2] = 0
    path = tmp / "nul.txt"
    path.write_bytes(bytes(data))
    return path


def text_big(tmp: Path, megabytes: int = 8, one_line: bool = False) -> Path:
    """A seed repeated to `megabytes` MB (as one line: newlines dropped)."""
    seed = SEED_TXT.read_text("utf-8")
    if one_line:
        seed = seed.replace("\n", " ")
    n = (megabytes << 20) // len(seed.encode("utf-8")) + 1
    path = tmp / f"big-{megabytes}mb{'-one-line' if one_line else ''}.txt"
    path.write_text(seed * n, "utf-8")
    return path


def text_tool_line(tmp: Path) -> Path:
    """A page-tools line that made the furniture pattern backtrack exponentially."""
    path = tmp / "tools.txt"
    path.write_text(SEED_TXT.read_text("utf-8") + "\n" + "打印   " * 40 + "x\n", "utf-8")
    return path


# ---------------------------------------------------------------- not files

def fifo(tmp: Path) -> Path:
    """A named pipe nobody writes to (reading it would block forever)."""
    import os

    path = tmp / "pipe.txt"
    os.mkfifo(path)
    return path


def endless_device(tmp: Path) -> Path:
    """A report name that is a link to /dev/zero (endless bytes)."""
    path = tmp / "zero.txt"
    path.symlink_to("/dev/zero")
    return path


def sparse_giant(tmp: Path) -> Path:
    """A 600 MB file (sparse: nothing written to disk)."""
    path = tmp / "giant.txt"
    with path.open("wb") as f:
        f.truncate(600 << 20)
    return path


CASES: list[Case] = [
    Case("docx gridSpan=2000000000", docx_grid_span, 0),
    Case("docx gridSpan of 5000 digits", docx_grid_span_digits, 0),
    Case("docx gridBefore=2000000000", docx_grid_before, 0),
    Case("docx 300000 grid columns", docx_wide_grid, 0),
    Case("docx table of 250000 positions", docx_big_table, 0, finding="ingest.table_not_expanded"),
    Case("docx part unpacking to 300 MB", docx_zip_bomb, 2, stderr=r"bomb\.docx: .*unpack to more than 256 MB"),
    Case("html rowspan/colspan=100000", html_spans, 0, finding="ingest.table_not_expanded"),
    Case("html staircase of rowspans", html_staircase, 0, finding="ingest.table_not_expanded"),
    Case("html span of 5000 digits", html_span_digits, 0),
    Case("html 100000 attributes", html_attributes, 0),
    Case("html nested 5000 deep", html_deep, 2, stderr=r"deep\.html: .*nested more than 2048 elements deep"),
    Case("pdf 14400x14400 pt page", pdf_huge_page, 2,
         stderr=r"huge-page\.pdf: has no text: page 1 \(5080×5080 mm\) is larger than"),
    Case("pdf 500 blank pages", pdf_500_blank, 2, stderr=r"blank-500\.pdf: has 500 pages, more than the 300"),
    Case("pdf placed with 5000-digit numbers", pdf_huge_numbers, 0),
    Case("pdf 200 blank pages", pdf_200_blank, 2, stderr=r"blank-200\.pdf: has no text \(200 blank pages\)",
         cpu_seconds=40.0),
    Case("utf-8 text with 3 damaged bytes", text_flipped_utf8, 0, finding="ingest.damaged_bytes"),
    Case("gbk text with 5 damaged bytes", text_flipped_gbk, 0, finding="ingest.damaged_bytes"),
    Case("text with a NUL byte", text_nul_byte, 0, finding="ingest.damaged_bytes"),
    Case("a line of 40 page tools", text_tool_line, 0),
    Case("a named pipe", fifo, 2, stderr=r"pipe\.txt: .*not a regular file"),
    Case("a link to /dev/zero", endless_device, 2, stderr=r"zero\.txt: .*not a regular file"),
    Case("a 600 MB file", sparse_giant, 2, stderr=r"giant\.txt: is 600 MB, more than the 512 MB"),
]


# ---------------------------------------------------------------- running one under limits

@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    cpu: float  # user + system seconds of the process and its reaped children
    max_rss_mb: float  # peak resident memory of the process (or its largest child)
    wall: float


def run_limited(args: list[str], *, cpu_limit: int = 120, memory_limit_mb: int = 4096,
                wall_limit: float = 300.0) -> Outcome:
    """Run a command with a CPU-time and address-space limit (so a regression fails instead of
    eating the machine) and report its exit code, output, CPU time and peak memory."""
    import os
    import resource
    import signal
    import subprocess
    import tempfile
    import time

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit, cpu_limit + 5))
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit_mb << 20, memory_limit_mb << 20))
        os.setsid()  # its own process group, so a timeout ends it and anything it started

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, preexec_fn=limit)
        deadline = started + wall_limit
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return Outcome(proc.returncode, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                       usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, wall)

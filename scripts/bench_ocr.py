"""Measure OCR throughput (pages per second) on this machine and record it in docs/benchmarks.md.

Reads the scanned fixtures (tests/fixtures/docs/*.scan.pdf) page by page through the same path as
`nianbao extract` (render at the reader's resolution, clean-up, OCR in parallel processes, layout),
and writes the result between the `ocr-bench` markers of docs/benchmarks.md, leaving the rest of
the file (other sections, other authors) untouched.

    .venv/bin/python scripts/bench_ocr.py            # every scanned fixture
    .venv/bin/python scripts/bench_ocr.py --pages 4  # a quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pypdfium2 as pdfium

from nianbao.extract import ingest_ocr, ingest_pdf
from nianbao.extract.layout import build

ROOT = Path(__file__).resolve().parent.parent
SCANS = ROOT / "tests" / "fixtures" / "docs"
BENCH = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- ocr-bench:start -->", "<!-- ocr-bench:end -->"


def pages(limit: int | None) -> list:
    out = []
    for path in sorted(SCANS.glob("*.scan.pdf")):
        doc = pdfium.PdfDocument(str(path))
        for i in range(len(doc)):
            out.append(doc[i].render(scale=ingest_pdf.OCR_DPI / 72).to_pil())
            if limit and len(out) >= limit:
                return out
    return out


def run(images: list, workers: int) -> float:
    ingest_ocr.MAX_WORKERS = workers
    started = time.perf_counter()
    result = ingest_ocr.ocr_images(images, list(range(1, len(images) + 1)))
    for p in result:
        for t in p.tokens:
            t.src = 0
    build(result, "bench", "scan", "")
    return time.perf_counter() - started


def write(section: str) -> None:
    BENCH.parent.mkdir(parents=True, exist_ok=True)
    text = BENCH.read_text(encoding="utf-8") if BENCH.exists() else "# Benchmarks\n"
    block = f"{START}\n{section.rstrip()}\n{END}"
    if START in text and END in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    BENCH.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=None, help="use only the first N pages")
    ap.add_argument("--no-write", action="store_true", help="print, don't touch docs/benchmarks.md")
    args = ap.parse_args()
    images = pages(args.pages)
    ingest_ocr._engine()  # model loading is a one-off cost, not throughput
    rows = []
    for workers in (1, 2):
        secs = run(images, workers)
        rows.append((workers, secs, len(images) / secs))
        print(f"{workers} process(es): {len(images)} pages in {secs:.1f} s = {len(images) / secs:.3f} pages/s")
    w, h = images[0].size
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    section = "\n".join([
        "## OCR throughput (scanned pages)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `scripts/bench_ocr.py` on {platform.machine()}, "
        f"{os.cpu_count()} cores (load average {load:.1f} at the start: the machine was shared), "
        f"rapidocr-onnxruntime PP-OCRv4. {len(images)} pages of tests/fixtures/docs/*.scan.pdf rendered at "
        f"{ingest_pdf.OCR_DPI} dpi ({w}×{h} px); each page: red-seal removal, deskew, detection + "
        "recognition with word boxes, rulings, re-reading of inked empty cells, layout.",
        "",
        "| processes | pages | seconds | pages/s | s/page |",
        "|---:|---:|---:|---:|---:|",
        *[f"| {wk} | {len(images)} | {s:.1f} | {pps:.3f} | {s / len(images):.1f} |" for wk, s, pps in rows],
    ])
    if not args.no_write:
        write(section)
        print("wrote", BENCH)


if __name__ == "__main__":
    main()

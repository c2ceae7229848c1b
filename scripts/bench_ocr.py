"""Measure OCR throughput on the seed scans for several process × thread shapes, and record it.

Each shape runs `nianbao extract tests/fixtures/docs/*.scan.pdf -o DIR` in a fresh process (what a
user runs: model loading, rendering, OCR, layout, parsing), with NIANBAO_OCR_WORKERS and
NIANBAO_OCR_THREADS set. It reports wall time and CPU time (user + system, OCR processes
included), pages per second by both, and checks that every shape reads the same cells as the
first one and as the gold fixtures. On a shared machine wall time depends on the neighbours:
compare CPU seconds, and wall only between runs taken together.

    .venv/bin/python scripts/bench_ocr.py                    # 1×1, 1×2 and 2×1, then write the docs
    .venv/bin/python scripts/bench_ocr.py --shapes 2x1 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pypdfium2 as pdfium

ROOT = Path(__file__).resolve().parent.parent
SCANS = sorted((ROOT / "tests" / "fixtures" / "docs").glob("*.scan.pdf"))
GOLD = ROOT / "tests" / "fixtures"
BENCH = ROOT / "docs" / "benchmarks.md"
NIANBAO = Path(sys.executable).with_name("nianbao")
START, END = "<!-- ocr-bench:start -->", "<!-- ocr-bench:end -->"


def run(shape: tuple[int, int], out: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `extract` over the scans with this processes × threads."""
    env = {**os.environ, "NIANBAO_OCR_WORKERS": str(shape[0]), "NIANBAO_OCR_THREADS": str(shape[1])}
    started = time.perf_counter()
    proc = subprocess.Popen([str(NIANBAO), "extract", *map(str, SCANS), "-o", str(out)], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"extract failed with shape {shape}")
    return wall, usage.ru_utime + usage.ru_stime


def cells(out: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text("utf-8"))["cells"] for p in sorted(out.glob("*.json"))}


def gold_misses(read: dict[str, dict]) -> int:
    misses = 0
    for name, got in read.items():
        gold = json.loads((GOLD / name.replace(".scan.json", ".gold.json")).read_text("utf-8"))
        skip = set(gold.get("uncertain") or [])
        misses += sum(1 for k, v in gold["cells"].items() if k not in skip and got.get(k) != v)
    return misses


def write(section: str) -> None:
    text = BENCH.read_text(encoding="utf-8") if BENCH.exists() else "# Benchmarks\n"
    block = f"{START}\n{section.rstrip()}\n{END}"
    if START in text and END in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    BENCH.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default="1x1,1x2,2x1", help="processes x threads, comma-separated")
    ap.add_argument("--no-write", action="store_true", help="print, don't touch docs/benchmarks.md")
    args = ap.parse_args()
    shapes = [tuple(int(x) for x in s.split("x")) for s in args.shapes.split(",")]
    pages = sum(len(pdfium.PdfDocument(str(p))) for p in SCANS)
    load = os.getloadavg()[0]
    rows, reference = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for shape in shapes:
            out = Path(tmp) / f"{shape[0]}x{shape[1]}"
            wall, cpu = run(shape, out)
            read = cells(out)
            reference = reference or read
            same = read == reference
            rows.append((shape, wall, cpu, same, gold_misses(read)))
            print(f"{shape[0]} process(es) × {shape[1]} thread(s): {pages} pages, wall {wall:.1f} s "
                  f"({pages / wall:.3f} pages/s), CPU {cpu:.1f} s ({pages / cpu:.3f} pages per CPU-second), "
                  f"same cells as the first shape: {same}, cells off gold: {rows[-1][4]}", flush=True)
    section = "\n".join([
        "## OCR throughput (scanned pages)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `scripts/bench_ocr.py` on {platform.machine()}, "
        f"{os.cpu_count()} cores, load average {load:.1f} at the start (the machine was shared: compare CPU "
        f"seconds; wall times only within this table). `nianbao extract` over the {len(SCANS)} scanned seeds "
        f"(tests/fixtures/docs/*.scan.pdf, {pages} pages, rendered at 200 dpi), models loaded once per "
        "process, pages rendered lazily; every shape read the same cells.",
        "",
        "| processes × onnxruntime threads | pages | wall s | pages/s (wall) | CPU s | pages per CPU-s | cells off gold |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *[f"| {p} × {t} | {pages} | {wall:.1f} | {pages / wall:.3f} | {cpu:.1f} | {pages / cpu:.3f} | {miss} |"
          for (p, t), wall, cpu, _, miss in rows],
    ])
    if not all(same for *_, same, _ in rows):
        raise SystemExit("shapes read different cells")
    if not args.no_write:
        write(section)
        print("wrote", BENCH)


if __name__ == "__main__":
    main()

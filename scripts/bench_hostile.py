"""Time and memory of `nianbao extract` on each hostile input of tests/hostile_files.py.

Each file is built in a temporary folder and run in its own process under a CPU-time and
address-space limit; the table gives the exit code, CPU seconds (imports included, about 0.6 s),
peak resident memory, and the one line or the reader's finding. With --write the table goes
between the `hostile-bench` markers of docs/benchmarks.md.

    .venv/bin/python scripts/bench_hostile.py
    .venv/bin/python scripts/bench_hostile.py --only pdf --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hostile_files import CASES, run_limited  # noqa: E402

NIANBAO = str(Path(sys.executable).with_name("nianbao"))
BENCH = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- hostile-bench:start -->", "<!-- hostile-bench:end -->"


def answer(out) -> str:
    if out.exit_code == 2:
        line = out.stderr.strip().splitlines()[-1]
        return line.split(": ", 1)[-1]
    if out.exit_code != 0:
        return f"killed or failed ({out.exit_code})"
    rules = sorted({f["rule"] for f in json.loads(out.stdout)["findings"] if f["rule"].startswith("ingest.")})
    return "report read" + (f"; {', '.join(rules)}" if rules else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="cases whose name contains this")
    ap.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            if args.only not in case.name:
                continue
            path = case.build(Path(tmp))
            out = run_limited([NIANBAO, "extract", str(path)], cpu_limit=180, memory_limit_mb=6144, wall_limit=900)
            size = path.stat().st_size
            rows.append(f"| {case.name} | {size / 1024:,.0f} KB | {out.exit_code} | {out.cpu:.1f} | "
                         f"{out.max_rss_mb:.0f} | {answer(out).replace('|', '/')} |")
            print(rows[-1], flush=True)
            path.unlink()
    section = "\n".join([
        "## Hostile inputs (readers)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `scripts/bench_hostile.py` (load average "
        f"{os.getloadavg()[0]:.1f}: CPU seconds, not wall). Each file built by tests/hostile_files.py and read by "
        "`nianbao extract` in its own process; CPU includes about 0.6 s of start-up.",
        "",
        "| input | size | exit | CPU s | peak RSS MB | answer |",
        "|---|---:|---:|---:|---:|---|",
        *rows,
    ])
    if args.write:
        text = BENCH.read_text(encoding="utf-8") if BENCH.exists() else "# Benchmarks\n"
        block = f"{START}\n{section}\n{END}"
        if START in text:
            text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
        BENCH.write_text(text, encoding="utf-8")
        print("wrote", BENCH)


if __name__ == "__main__":
    main()

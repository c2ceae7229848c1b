#!/usr/bin/env python3
"""`nianbao run` on a folder, once per worker count, with the whole process tree's memory watched.

    scripts/bench_run.py DIR [--workers 1,2] [--repeat 1]

For each run: a fresh SQLite store, wall time, CPU time of the tree (parent + workers), and the
peak of the tree's summed RSS (parent + every worker, sampled every 0.2 s; shared copy-on-write
pages are counted in each process, so this overstates, never understates). Prints a Markdown
table; the machine's load average before and after each run says how idle it was.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil


def measure(cmd: list[str]) -> dict[str, float]:
    started = time.monotonic()
    load0 = os.getloadavg()[0]
    proc = psutil.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    cpu: dict[int, float] = {}
    parent_cpu = 0.0
    while proc.poll() is None:
        total = 0
        try:
            procs = [proc, *proc.children(recursive=True)]
        except psutil.Error:
            procs = [proc]
        for p in procs:
            try:
                total += p.memory_info().rss
                t = p.cpu_times()
                cpu[p.pid] = t.user + t.system + t.children_user + t.children_system
                if p.pid == proc.pid:
                    parent_cpu = t.user + t.system
            except psutil.Error:
                pass
        peak = max(peak, total)
        time.sleep(0.2)
    wall = time.monotonic() - started
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    summary = next((line for line in err.splitlines() if line.startswith("stored")), err[-300:])
    return {"wall": wall, "cpu": sum(cpu.values()), "parent_cpu": parent_cpu, "peak_mb": peak / 2**20, "load0": load0,
            "load1": os.getloadavg()[0], "rc": proc.returncode, "summary": summary}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    nianbao = str(Path(sys.executable).with_name("nianbao"))
    n = sum(1 for p in args.folder.rglob("*") if p.is_file() and not p.name.endswith(".gold.json"))
    print(f"{n} reports in {args.folder}; {os.cpu_count()} cores\n")
    print("| workers | wall s | reports/s | CPU s (tree) | of which the parent (storing) | peak RSS of the tree MB "
          "| load avg before → after | result |")
    print("|---:|---:|---:|---:|---:|---:|---|---|")
    for w in [int(x) for x in args.workers.split(",")]:
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                r = measure([nianbao, "run", str(args.folder), "--db", f"{tmp}/bench.db", "--workers", str(w)])
            print(f"| {w} | {r['wall']:.1f} | {n / r['wall']:.0f} | {r['cpu']:.1f} | {r['parent_cpu']:.1f} | {r['peak_mb']:.0f} | "
                  f"{r['load0']:.1f} → {r['load1']:.1f} | rc {r['rc']}: {r['summary']} |", flush=True)


if __name__ == "__main__":
    main()

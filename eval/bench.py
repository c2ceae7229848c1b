"""Benchmarks of the rules backend on generated reports, written into docs/benchmarks.md.

Only the section between our markers is rewritten, so other sections of the file (e.g. OCR's)
survive a rerun. Timings include reading the file, extraction and the rules, as `nianbao extract`
does them.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from nianbao.eval.score import percentile
from nianbao.eval.synth import SynthOptions, write_corpus

START, END = "<!-- rules-bench:start -->", "<!-- rules-bench:end -->"


@dataclass
class BenchResult:
    n: int
    one_core_seconds: float
    one_core_rate: float
    workers: int
    all_cores_seconds: float
    all_cores_rate: float
    peak_rss_mb: float
    failed: int
    median_ms: float = 0.0
    p95_ms: float = 0.0
    max_ms: float = 0.0
    by_size: list[tuple[int, float]] = field(default_factory=list)  # (characters, ms per report)
    llm: dict[str, dict[str, float]] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)


def _read_one(path: str) -> tuple[float, bool]:
    from nianbao.pipeline import process_file

    started = time.perf_counter()
    try:
        process_file(path, "rules")
        ok = True
    except Exception:
        ok = False
    return time.perf_counter() - started, ok


def _timed(paths: list[str]) -> tuple[list[float], int]:
    out = []
    fails = 0
    for p in paths:
        s, ok = _read_one(p)
        out.append(s)
        fails += not ok
    return out, fails


def _chunk(paths: list[str]) -> tuple[float, int]:
    fails = 0
    total = 0.0
    for p in paths:
        s, ok = _read_one(p)
        total += s
        fails += not ok
    return total, fails


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def size_growth(seed: int = 0, repeats: tuple[int, ...] = (0, 10, 100, 1000)) -> list[tuple[int, float]]:
    """ms per report as section 一's prose is padded: how time grows with report size."""
    from nianbao.document import Document
    from nianbao.eval.synth import generate
    from nianbao.pipeline import process_document

    rep = generate(SynthOptions(n=1, seed=seed, layouts=("tab",)))[0]
    filler = "加强政府信息管理，严格落实信息发布审核制度，共发布信息12条。\n"
    out = []
    for k in repeats:
        text = rep.text.replace("（二）依申请公开情况", filler * k + "（二）依申请公开情况", 1)
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            process_document(Document(name=rep.name + ".txt", kind="txt", text=text), "rules")
            runs.append(time.perf_counter() - started)
        out.append((len(text), 1000 * min(runs)))
    return out


def llm_usage(paths: list[str], backends: list[str]) -> dict[str, dict[str, float]]:
    """Calls and tokens per report for backends that report usage (e.g. llm, hybrid)."""
    from nianbao.pipeline import process_file

    out = {}
    for name in backends:
        calls = prompt = completion = 0
        for p in paths:
            u = process_file(p, name).usage
            calls += int(u.get("calls") or 0)
            prompt += int(u.get("prompt_tokens") or 0)
            completion += int(u.get("completion_tokens") or 0)
        n = max(len(paths), 1)
        out[name] = {"calls": calls / n, "prompt_tokens": prompt / n, "completion_tokens": completion / n}
    return out


def run_bench(n: int = 10000, seed: int = 0, workers: int | None = None,
              llm_backends: list[str] | None = None) -> BenchResult:
    workers = workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="nianbao-bench-") as tmp:
        names = write_corpus(Path(tmp), SynthOptions(n=n, seed=seed, damage=0.05, row_damage=0.1))
        paths = sorted(str(p) for p in Path(tmp).iterdir() if not p.name.endswith(".gold.json"))
        assert len(paths) == len(names)
        started = time.perf_counter()
        per_report, failed = _timed(paths)
        one = time.perf_counter() - started
        # small interleaved chunks: layouts differ in cost, so equal shares of paths are not equal work
        chunks = [paths[i:i + 20] for i in range(0, len(paths), 20)]
        started = time.perf_counter()
        with get_context("fork" if sys.platform != "win32" else "spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(_chunk, chunks):
                pass
        many = time.perf_counter() - started
        llm = llm_usage(paths[:20], llm_backends or [])
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return BenchResult(
        n=n, one_core_seconds=one, one_core_rate=n / one if one else 0.0, workers=workers,
        all_cores_seconds=many, all_cores_rate=n / many if many else 0.0, peak_rss_mb=peak, failed=failed,
        median_ms=1000 * statistics.median(per_report) if per_report else 0.0,
        p95_ms=1000 * percentile(per_report, 95), max_ms=1000 * max(per_report, default=0.0),
        by_size=size_growth(seed), llm=llm,
        machine={"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
                 "platform": platform.platform(), "load": os.getloadavg()[0], "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")})


def render_section(r: BenchResult) -> str:
    m = r.machine
    lines = [
        START,
        "## Rules backend throughput",
        "",
        f"Regenerate with `nianbao eval bench --n {r.n}`. Machine: {m['cpu']}, {m['cores']} cores, "
        f"Python {m['python']}, {m['platform']}; run {m['date']}, load average {m.get('load', 0):.1f} at the end "
        "(other processes share these cores).",
        "",
        f"Corpus: {r.n} generated reports (`nianbao eval synth`, every layout in turn, 5% of number cells "
        "and 10% of rows damaged); each timing reads the file, extracts and runs the rules.",
        "",
        "| run | seconds | reports/second |",
        "|---|---:|---:|",
        f"| one core | {r.one_core_seconds:.2f} | {r.one_core_rate:.1f} |",
        f"| {r.workers} processes | {r.all_cores_seconds:.2f} | {r.all_cores_rate:.1f} |",
        "",
        f"Per report on one core: median {r.median_ms:.1f} ms, p95 {r.p95_ms:.1f} ms, slowest {r.max_ms:.0f} ms.",
        "",
        f"Peak memory (largest process): {r.peak_rss_mb:.0f} MB. Reports that failed to read: {r.failed}.",
        "",
        "How time grows with report size (section 一 padded with prose; best of 3):",
        "",
        "| characters | ms per report |",
        "|---:|---:|",
        *[f"| {chars} | {ms:.2f} |" for chars, ms in r.by_size],
        "",
    ]
    if r.llm:
        lines += ["LLM backends (first 20 reports):", "", "| backend | calls/report | prompt tokens | completion tokens |",
                  "|---|---:|---:|---:|"]
        lines += [f"| {b} | {v['calls']:.1f} | {v['prompt_tokens']:.0f} | {v['completion_tokens']:.0f} |"
                  for b, v in r.llm.items()]
    else:
        lines.append("LLM backends: calls and tokens per report come from `nianbao eval DIR --backend llm` "
                     "(its usage rows); none was run here.")
    lines.append(END)
    return "\n".join(lines)


def write_section(doc: Path, section: str) -> None:
    """Replace our marked section of `doc`, or append it; other sections are left as they are."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n\n"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")

"""Benchmarks of the rules backend, in CPU time, written into docs/benchmarks.md.

Wall-clock timings on a shared machine move with everyone else's load, so the figures that matter
here are process CPU time and a ratio: each repeat reads the same generated corpus twice in a fresh
process, once only as far as the floor (reading the file, decoding it and normalising the text: the
ingest step every reader pays) and once through extraction and the rules, as `nianbao extract` does.
CPU ms per report and the ratio to the floor are given as min / median / max over the repeats.

The pathological inputs of issue 12 (exponential digit-run corners, a padded section 一, many reports
in one file, a 50 MB one-line text) each run in their own process under a CPU-time limit, so a slow
parser makes the bench say "over limit" instead of stalling it; their CPU seconds and peak memory
are reported. Only the section between our markers is rewritten, so other sections (e.g. OCR's)
survive a rerun.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nianbao.eval.isolate import Outcome, map_isolated, run_isolated
from nianbao.eval.score import percentile
from nianbao.eval.synth import LAYOUTS, SynthOptions, generate, write_corpus

START, END = "<!-- rules-bench:start -->", "<!-- rules-bench:end -->"
WARMUP = 20  # reports read before timing starts in each fresh process (imports, compiled patterns, caches)


@dataclass
class Spread:
    """min / median / max of one figure over the repeats."""

    values: list[float]

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def max(self) -> float:
        return max(self.values)


@dataclass
class Pathological:
    case: str
    what: str
    size_chars: int
    outcome: Outcome
    cpu_limit: float

    @property
    def result(self) -> str:
        if self.outcome.over_limit == "cpu":
            return f"over limit (> {self.cpu_limit:g} s CPU)"
        if self.outcome.over_limit:
            return f"over limit ({self.outcome.error})"
        if self.outcome.error:
            return f"failed: {self.outcome.error}"
        return str(self.outcome.value)


@dataclass
class BenchResult:
    n: int
    repeats: int
    cpu_ms: Spread  # rules backend, CPU ms per report
    floor_ms: Spread  # read + decode + normalise, CPU ms per report
    ratio: Spread  # cpu_ms / floor_ms, per repeat
    rate: Spread  # reports per CPU second on one core
    per_report_ms: tuple[float, float, float] = (0.0, 0.0, 0.0)  # median, p95, max (median repeat)
    failed: int = 0
    workers: int = 1
    all_cores_wall: Spread | None = None  # reports per wall second, every core (noisy on a shared machine)
    all_cores_cpu_ms: float = 0.0
    peak_rss_mb: float = 0.0
    layouts: tuple[str, ...] = LAYOUTS
    by_size: list[tuple[int, float]] = field(default_factory=list)  # (characters, CPU ms per report)
    by_layout: dict[str, tuple[float, float]] = field(default_factory=dict)  # layout → (rules, floor) CPU ms
    pathological: list[Pathological] = field(default_factory=list)
    llm: dict[str, dict[str, float]] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)

    # the figures earlier callers read
    @property
    def one_core_rate(self) -> float:
        return self.rate.median


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ---------------------------------------------------------------------------------------------
# one repeat: a fresh process reads the corpus to the floor, then through the rules

def _floor(path: str) -> None:
    from nianbao.extract import read_document

    read_document(path)


def _full(path: str) -> None:
    from nianbao.app.pipeline import process_file

    process_file(path, "rules")


def _timed(step: Callable[[str], None], paths: list[str]) -> tuple[list[float], int]:
    times: list[float] = []
    failed = 0
    clock = time.process_time
    for p in paths:
        started = clock()
        try:
            step(p)
        except Exception:
            failed += 1
        times.append(clock() - started)
    return times, failed


def _repeat(paths: list[str]) -> dict[str, Any]:
    """Runs in a fresh child: warm up, then CPU seconds per report for the floor and for the rules."""
    warm = paths[:WARMUP]
    _timed(_floor, warm)
    _timed(_full, warm)
    floor, _ = _timed(_floor, paths)
    full, failed = _timed(_full, paths)
    return {"floor": floor, "full": full, "failed": failed}


def _chunk(paths: list[str]) -> int:
    return _timed(_full, paths)[1]


def size_growth(seed: int = 0, repeats: tuple[int, ...] = (0, 10, 100, 1000)) -> list[tuple[int, float]]:
    """CPU ms per report as section 一's prose is padded (best of 3): how time grows with report size."""
    from nianbao.app.pipeline import process_document
    from nianbao.document import Document

    rep = generate(SynthOptions(n=1, seed=seed, layouts=("tab",)))[0]
    filler = "加强政府信息管理，严格落实信息发布审核制度，共发布信息12条。\n"
    out = []
    for k in repeats:
        text = rep.text.replace("（二）依申请公开情况", filler * k + "（二）依申请公开情况", 1)
        runs = []
        for _ in range(3):
            started = time.process_time()
            process_document(Document(name=rep.name + ".txt", kind="txt", text=text), "rules")
            runs.append(time.process_time() - started)
        out.append((len(text), 1000 * min(runs)))
    return out


def llm_usage(paths: list[str], backends: list[str]) -> dict[str, dict[str, float]]:
    """Calls and tokens per report for backends that report usage (e.g. llm, hybrid)."""
    from nianbao.app.pipeline import process_file

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


# ---------------------------------------------------------------------------------------------
# pathological inputs (issue 12): each a text file, read in its own process under a CPU limit

def _base_report(seed: int, layout: str = "tab") -> str:
    """A plain 2021 report with applications (no wrapped labels, no page breaks) to plant a case in."""
    from nianbao.eval.synth import make_report
    from nianbao.eval.tables import random_cells

    rng = random.Random(seed)
    cells = random_cells("2021", rng)
    while not cells["t3.new_received.total"]:
        cells = random_cells("2021", rng)
    meta = {"agency": "测试县城关镇", "year": 2023, "template": "2021"}
    return make_report("bench", cells, meta, layout, rng, features=set()).text


def _replace_t4(text: str, row: str) -> str:
    """Table 四's data row (the last line with text before section 五) replaced by `row`."""
    five = text.index("\n五、")
    head = text[:five].rstrip("\n")
    start = head.rindex("\n") + 1
    return head[:start] + row + text[len(head):]


def _t4_values(rng: random.Random, two_digit: int) -> list[int]:
    """15 cells whose group sums hold, the first `two_digit` of them two-digit numbers where possible."""
    out: list[int] = []
    for _ in range(3):
        parts = [rng.randint(10, 24) if len(out) + i < two_digit else rng.randint(0, 9) for i in range(4)]
        out += [*parts, sum(parts)]
    return out


CASES = {
    "t4_spaced_k13": "table 四, 13 two-digit cells printed as '1 2'",
    "t4_run_24": "table 四 as one 24-digit run",
    "t4_run_200": "table 四 as one 200-digit run",
    "t3_run_200": "a 200-digit run after a table-三 label",
    "section1_1m": "section 一 padded to 1,000,000 characters",
    "concat_200": "200 whole reports in one file",
    "oneline_50mb": "a 50 MB one-line text (a crawled report repeated)",
}


def pathological_text(case: str, seed: int = 0) -> str:
    """The text of one pathological input (CASES names them)."""
    rng = random.Random(f"{seed}:{case}")
    base = _base_report(seed)
    digits = "".join(rng.choice("0123456789") for _ in range(200))
    if case == "t4_spaced_k13":
        vals = _t4_values(rng, 15)
        return _replace_t4(base, "\t".join(" ".join(str(v)) if i < 13 else str(v) for i, v in enumerate(vals)))
    if case == "t4_run_24":
        run = ""
        while len(run) != 24:  # a real table 四 (its groups add up) whose cells print 24 digits
            run = "".join(map(str, _t4_values(rng, rng.randint(4, 10))))
        return _replace_t4(base, run)
    if case == "t4_run_200":
        return _replace_t4(base, digits)
    if case == "t3_run_200":
        at = base.index("一、本年新收")
        return base[:base.index("\t", at)] + "\t" + digits + base[base.index("\n", at):]
    if case == "section1_1m":
        filler = "加强政府信息管理，严格落实信息发布审核制度，共发布信息12条。\n"
        pad = (filler * (1_000_000 // len(filler) + 1))[:1_000_000]
        return base.replace("（二）依申请公开情况", pad + "（二）依申请公开情况", 1)
    if case == "concat_200":
        return "\n".join(r.text for r in generate(SynthOptions(n=200, seed=seed, layouts=("tab", "pipe", "cells"))))
    if case == "oneline_50mb":
        line = _base_report(seed, layout="crawl_line").split("正文 ====================\n", 1)[-1].replace("\n", " ")
        target = 50 * 1024 * 1024  # bytes of UTF-8
        chars = int(target * len(line) / len(line.encode("utf-8")))
        return (line * (chars // len(line) + 1))[:chars]
    raise ValueError(f"unknown case {case!r} (choose from {', '.join(CASES)})")


def _read_case(path: str) -> str:
    """What the reader made of a pathological file, in a few words (runs in the child)."""
    from nianbao.app.pipeline import process_file

    ex = process_file(path, "rules")
    cells = sum(1 for v in ex.values().values() if v is not None)
    rules = Counter(f.rule for f in ex.findings if f.severity in ("error", "warning"))
    top = ", ".join(f"{r} ×{n}" for r, n in rules.most_common(2)) or "no error/warning finding"
    return f"tables {''.join({'t2': '二', 't3': '三', 't4': '四'}[t] for t in sorted(set(ex.tables_found))) or '—'}, " \
           f"{cells} cells, {len(ex.uncertain)} uncertain; {top}"


def run_pathological(seed: int = 0, cpu_limit: float = 10.0, memory_mb: float | None = 2048,
                     only: set[str] | None = None) -> list[Pathological]:
    """Each case written to a file and read in its own process under the CPU limit (and memory allowance)."""
    out = []
    with tempfile.TemporaryDirectory(prefix="nianbao-patho-") as tmp:
        for case, what in CASES.items():
            if only and case not in only:
                continue
            text = pathological_text(case, seed)
            path = Path(tmp) / f"{case}.txt"
            path.write_text(text, encoding="utf-8")
            outcome = run_isolated(_read_case, str(path), cpu_limit=cpu_limit, memory_mb=memory_mb)
            out.append(Pathological(case, what, len(text), outcome, cpu_limit))
            path.unlink()
    return out


# ---------------------------------------------------------------------------------------------

def _by_layout(paths: list[str], layouts: tuple[str, ...], run: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Mean CPU ms per report of each layout (report i of the corpus has layout i mod len(layouts))."""
    sums: dict[str, list[float]] = {lay: [0.0, 0.0, 0] for lay in layouts}  # type: ignore[misc]
    for p, full, floor in zip(paths, run["full"], run["floor"], strict=True):
        lay = layouts[int(Path(p).stem.rsplit("_", 1)[1]) % len(layouts)]
        sums[lay][0] += full
        sums[lay][1] += floor
        sums[lay][2] += 1
    return {lay: (1000 * a / c, 1000 * b / c) for lay, (a, b, c) in sums.items() if c}


def run_bench(n: int = 1000, seed: int = 0, workers: int | None = None, repeats: int = 3,
              llm_backends: list[str] | None = None, pathological: bool = True, case_limit: float = 10.0,
              layouts: tuple[str, ...] = LAYOUTS) -> BenchResult:
    workers = workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="nianbao-bench-") as tmp:
        names = write_corpus(Path(tmp), SynthOptions(n=n, seed=seed, damage=0.05, row_damage=0.1, layouts=layouts))
        paths = sorted(str(p) for p in Path(tmp).iterdir() if not p.name.endswith(".gold.json"))
        assert len(paths) == len(names)
        runs = []
        peak = 0.0
        for _ in range(max(1, repeats)):
            o = run_isolated(_repeat, paths)
            if o.error:
                raise RuntimeError(f"bench repeat failed: {o.error}")
            runs.append(o.value)
            peak = max(peak, o.peak_mb)
        full = [sum(r["full"]) for r in runs]
        floor = [sum(r["floor"]) for r in runs]
        mid = sorted(range(len(runs)), key=lambda i: full[i])[len(runs) // 2]
        per = runs[mid]["full"]
        by_layout = _by_layout(paths, layouts, runs[mid])
        chunks = [paths[i:i + 25] for i in range(0, len(paths), 25)]
        walls, cpu_total = [], 0.0
        for _ in range(max(1, repeats)):
            started = time.perf_counter()
            outs = [o for _, o in map_isolated(_chunk, chunks, workers=workers)]
            walls.append(n / (time.perf_counter() - started))
            cpu_total = sum(o.cpu_seconds for o in outs)
            peak = max([peak, *(o.peak_mb for o in outs)])
        llm = llm_usage(paths[:20], llm_backends or [])
    return BenchResult(
        n=n, repeats=len(runs),
        cpu_ms=Spread([1000 * f / n for f in full]), floor_ms=Spread([1000 * f / n for f in floor]),
        ratio=Spread([f / max(fl, 1e-9) for f, fl in zip(full, floor, strict=True)]),
        rate=Spread([n / max(f, 1e-9) for f in full]),
        per_report_ms=(1000 * statistics.median(per), 1000 * percentile(per, 95), 1000 * max(per)),
        failed=runs[mid]["failed"], workers=workers, all_cores_wall=Spread(walls),
        all_cores_cpu_ms=1000 * cpu_total / n, peak_rss_mb=peak, layouts=layouts, by_size=size_growth(seed),
        by_layout=by_layout,
        pathological=run_pathological(seed, case_limit) if pathological else [], llm=llm,
        machine={"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
                 "platform": platform.platform(), "load": os.getloadavg()[0],
                 "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")})


def render_section(r: BenchResult) -> str:
    m = r.machine

    def row(label: str, s: Spread, fmt: str) -> str:
        return f"| {label} | {s.min:{fmt}} | {s.median:{fmt}} | {s.max:{fmt}} |"

    lines = [
        START,
        "## Rules backend: CPU time per report",
        "",
        f"Regenerate with `nianbao eval bench --n {r.n} --repeat {r.repeats}`. Machine: {m['cpu']}, {m['cores']} cores, "
        f"Python {m['python']}, {m['platform']}; run {m['date']}, load average {m.get('load', 0):.1f} at the end "
        "(other processes share these cores: CPU time and the ratio are the figures to compare, not wall time).",
        "",
        f"Corpus: {r.n} generated reports (`nianbao eval synth`, layouts {', '.join(r.layouts)} in turn, 5% of "
        "number cells and 10% of rows damaged). Each repeat is a fresh process that reads "
        f"{WARMUP} reports to warm up, then the whole corpus to the floor (read + decode + normalise: "
        "`read_document`) and through the rules backend (`process_file`: ingest, extraction, rules).",
        "",
        f"| figure (one core, process CPU time; {r.repeats} repeats) | min | median | max |",
        "|---|---:|---:|---:|",
        row("CPU ms per report, rules backend", r.cpu_ms, ".2f"),
        row("CPU ms per report, floor (read + decode + normalise)", r.floor_ms, ".2f"),
        row("ratio rules / floor", r.ratio, ".1f"),
        row("reports per CPU second", r.rate, ".0f"),
        "",
        f"Per report (median repeat): median {r.per_report_ms[0]:.1f} ms, p95 {r.per_report_ms[1]:.1f} ms, "
        f"slowest {r.per_report_ms[2]:.0f} ms CPU. Reports that failed to read: {r.failed}.",
        "",
    ]
    if r.all_cores_wall:
        lines += [f"Every core ({r.workers} processes, chunks of 25 reports): "
                  f"{r.all_cores_wall.min:.0f} / {r.all_cores_wall.median:.0f} / {r.all_cores_wall.max:.0f} "
                  f"reports per wall second (min/median/max; wall time, so it moves with the machine's load), "
                  f"{r.all_cores_cpu_ms:.2f} CPU ms per report. Peak memory of one process: {r.peak_rss_mb:.0f} MB.", ""]
    if r.by_layout:
        lines += ["By layout (median repeat): some forms cost the parser far more than others.", "",
                  "| layout | CPU ms per report | floor ms | ratio |", "|---|---:|---:|---:|"]
        lines += [f"| {lay} | {a:.2f} | {b:.2f} | {a / max(b, 1e-9):.1f} |" for lay, (a, b) in r.by_layout.items()]
        lines.append("")
    lines += ["How CPU time grows with report size (section 一 padded with prose; best of 3):", "",
              "| characters | CPU ms per report |", "|---:|---:|",
              *[f"| {chars} | {ms:.2f} |" for chars, ms in r.by_size], ""]
    if r.pathological:
        lines += ["Pathological inputs (issue 12), each read in its own process under a CPU-time limit "
                  "(`--case-limit`); peak memory is that process's:", "",
                  "| case | input | characters | CPU s | peak MB | result |", "|---|---|---:|---:|---:|---|"]
        lines += [f"| {p.case} | {p.what} | {p.size_chars} | {p.outcome.cpu_seconds:.2f} | {p.outcome.peak_mb:.0f} | "
                  f"{p.result} |" for p in r.pathological]
        lines.append("")
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

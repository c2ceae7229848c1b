"""`nianbao eval fuzz`: seeded damaged variants of real reports, run through the runner with its limits.

Seeds are the example reports, their Word/PDF/scan renderings (tests/fixtures/docs) and the dev
corpus (../shared/reports/dev/raw). Each variant takes one seed and one damage: byte flips, a
truncation, a shuffle of lines (or 4 KB blocks), or a splice with another seed of the same kind.
A .docx is damaged inside its document.xml and zipped again, so the reader gets past the zip.
What is counted: reports read, files refused with one line (exit 2, by design), unexpected
exceptions (a traceback without the runner: bugs, must be 0) and limit overruns (time, memory,
a dead worker: must be 0 at the default limits).
"""

from __future__ import annotations

import io
import random
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DAMAGES = ("flip", "truncate", "shuffle", "splice")
SEED_SUFFIXES = {".txt", ".md", ".html", ".htm", ".docx", ".pdf"}


@dataclass
class FuzzReport:
    n: int
    seed: int
    by_kind: Counter = field(default_factory=Counter)  # variants per seed kind
    read: int = 0
    refused: int = 0
    unexpected: list[tuple[str, str]] = field(default_factory=list)
    overruns: list[tuple[str, str]] = field(default_factory=list)
    refusals: Counter = field(default_factory=Counter)  # the refusal lines, by kind of problem
    seconds: float = 0.0
    peak_rss: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"variants": self.n, "seed": self.seed, "by_kind": dict(self.by_kind), "read": self.read,
                "refused_one_line": self.refused, "unexpected_exceptions": len(self.unexpected),
                "limit_overruns": len(self.overruns), "exit_codes": {"0": self.read, "2": self.refused +
                                                                     len(self.unexpected) + len(self.overruns)},
                "seconds": round(self.seconds, 1), "peak_rss_mb": self.peak_rss >> 20,
                "unexpected": self.unexpected[:50], "overruns": self.overruns[:50]}


def seed_files(root: Path, shared: Path) -> list[Path]:
    """The seeds, in a fixed order (same seed, same variants)."""
    found = sorted((root / "examples" / "reports").glob("*.txt"))
    found += sorted(p for p in (root / "tests" / "fixtures" / "docs").glob("*") if p.suffix in SEED_SUFFIXES)
    found += sorted(p for p in (shared / "reports" / "dev" / "raw").glob("*") if p.suffix in SEED_SUFFIXES)
    return found


def kind_of(path: Path) -> str:
    return "scan" if path.name.endswith(".scan.pdf") else path.suffix.lstrip(".")


def damage(data: bytes, how: str, rng: random.Random, other: bytes) -> bytes:
    """One damage applied to bytes (never returns the input unchanged unless it is empty)."""
    if not data:
        return data
    b = bytearray(data)
    if how == "flip":
        for _ in range(rng.randint(1, 12)):
            i = rng.randrange(len(b))
            b[i] = rng.randrange(256) if rng.random() < 0.5 else b[i] ^ (1 << rng.randrange(8))
        return bytes(b)
    if how == "truncate":
        return bytes(b[: rng.randrange(len(b))])
    if how == "shuffle":
        parts = data.split(b"\n") if data.count(b"\n") > 8 else [data[i:i + 4096] for i in range(0, len(data), 4096)]
        if len(parts) > 2:
            i = rng.randrange(len(parts) - 1)
            j = rng.randrange(i + 1, min(len(parts), i + 40) + 1)
            window = parts[i:j]
            rng.shuffle(window)
            parts[i:j] = window
        sep = b"\n" if data.count(b"\n") > 8 else b""
        return sep.join(parts)
    if how == "splice":
        return bytes(b[: rng.randrange(len(b))]) + other[rng.randrange(max(1, len(other))):]
    raise ValueError(how)


def _docx_member(data: bytes, how: str, rng: random.Random, other: bytes) -> bytes:
    """Damage word/document.xml inside the zip and zip it again."""
    try:
        src = zipfile.ZipFile(io.BytesIO(data))
        other_xml = zipfile.ZipFile(io.BytesIO(other)).read("word/document.xml")
    except (zipfile.BadZipFile, KeyError):
        return damage(data, how, rng, other)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item)
            if item.filename == "word/document.xml":
                body = damage(body, how, rng, other_xml)
            dst.writestr(item, body)
    return out.getvalue()


def make_variants(seeds: list[Path], n: int, seed: int, folder: Path, kinds: set[str] | None = None) -> list[Path]:
    """Write n damaged variants into folder (kinds in turn, so scans are not drowned by text)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    by_kind: dict[str, list[Path]] = {}
    for p in seeds:
        if kinds is None or kind_of(p) in kinds:
            by_kind.setdefault(kind_of(p), []).append(p)
    if not by_kind:
        raise FileNotFoundError(f"no seed reports of the kinds {sorted(kinds or [])}")
    kinds = sorted(by_kind)
    cache: dict[Path, bytes] = {}
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        src = rng.choice(by_kind[kind])
        other = rng.choice(by_kind[kind])
        how = rng.choice(DAMAGES)
        data = cache.setdefault(src, src.read_bytes())
        other_data = cache.setdefault(other, other.read_bytes())
        body = _docx_member(data, how, rng, other_data) if kind == "docx" else damage(data, how, rng, other_data)
        suffix = ".scan.pdf" if kind == "scan" else src.suffix
        stem = src.name[: -len(suffix)]
        path = folder / f"{i:05d}-{how}-{stem}{suffix}"
        path.write_bytes(body)
        out.append(path)
    return out


def run_fuzz(n: int, seed: int, folder: Path, root: Path, shared: Path, workers: int | None = None,
             limits: Any = None, advance: Any = None, kinds: set[str] | None = None) -> FuzzReport:
    import time
    from functools import partial

    from nianbao.app.pipeline import default_workers, make_backend, prediction_task
    from nianbao.app.runner import Runner

    seeds = seed_files(root, shared)
    if not seeds:
        raise FileNotFoundError(f"no seed reports under {root} or {shared}")
    variants = make_variants(seeds, n, seed, folder, kinds)
    report = FuzzReport(n=n, seed=seed)
    report.by_kind.update(kind_of(Path(p.name.split("-", 2)[2])) for p in variants)
    backend = make_backend("rules")
    runner = Runner(partial(prediction_task, backend=backend), workers=workers or default_workers(backend),
                    limits=limits)
    started = time.monotonic()
    for out in runner.run(variants):
        if out.ok:
            report.read += 1
        elif out.limit:
            report.overruns.append((out.path.name, out.problem or ""))
        elif out.unexpected:
            report.unexpected.append((out.path.name, out.problem or ""))
        else:
            report.refused += 1
            report.refusals[_problem_kind(out.problem or "")] += 1
        if advance:
            advance()
    report.seconds = time.monotonic() - started
    report.peak_rss = runner.stats.peak_total_rss
    return report


def _problem_kind(problem: str) -> str:
    """A refusal line without its specifics (numbers, offsets), to count alike ones together."""
    import re

    return re.sub(r"\d+", "N", problem.split(":")[0])[:60]


def render(report: FuzzReport) -> str:
    d = report.as_dict()
    lines = [f"fuzz: {report.n} variants (seed {report.seed}) of {', '.join(f'{v} {k}' for k, v in sorted(report.by_kind.items()))}",
             f"  read                  {report.read}",
             f"  refused with one line {report.refused}  (exit 2, by design)",
             f"  unexpected exceptions {len(report.unexpected)}  (tracebacks without the runner; must be 0)",
             f"  limit overruns        {len(report.overruns)}  (time, memory, dead worker; must be 0)",
             f"  wall time {d['seconds']} s, peak RSS of workers and parent {d['peak_rss_mb']} MB"]
    for name, problem in report.unexpected[:20] + report.overruns[:20]:
        lines.append(f"  ! {name}: {problem}")
    for kind, count in report.refusals.most_common(8):
        lines.append(f"    {count:5d} × {kind}")
    return "\n".join(lines)

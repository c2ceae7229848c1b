"""Run backends over folders of reports that have gold, and score what they read.

Reports are read through the one runner (app/runner.py): the same recursive expansion as
`extract` and `run`, worker processes with a time and memory limit. A report that crashes a
backend or passes a limit is scored as an empty prediction with its error kept, so one bad file
never stops the run nor hides the others' figures.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nianbao.eval.prices import cost_of
from nianbao.eval.score import ReportScore, score_report, summarise

GOLD_SUFFIX = ".gold.json"
REPORT_SUFFIXES = {".txt", ".text", ".md", ".markdown", ".html", ".htm", ".shtml", ".docx", ".doc", ".pdf",
                   ".png", ".jpg", ".jpeg", ".tif", ".tiff"}


@dataclass
class Case:
    """One report with its gold fixture."""

    name: str
    path: Path
    gold: dict


@dataclass
class BackendRun:
    backend: str
    scores: list[ReportScore] = field(default_factory=list)
    predictions: dict[str, dict] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


def find_cases(dirs: list[Path], gold_dir: Path | None = None) -> tuple[list[Case], list[str]]:
    """Reports in `dirs` with a gold fixture beside them or in gold_dir; and one line per problem."""
    cases: list[Case] = []
    problems: list[str] = []
    from nianbao.app.runner import expand_inputs

    for d in dirs:
        if not d.is_dir():
            problems.append(f"{d}: not a folder")
            continue
        for path in expand_inputs([d], keep=lambda p: p.suffix.lower() in REPORT_SUFFIXES).files:
            candidates = [path.with_name(path.stem + GOLD_SUFFIX)]
            if gold_dir:
                candidates.insert(0, gold_dir / (path.stem + GOLD_SUFFIX))
            gp = next((c for c in candidates if c.is_file()), None)
            if gp is None:
                continue
            try:
                gold = json.loads(gp.read_text(encoding="utf-8"))
                if not isinstance(gold, dict) or "cells" not in gold or "meta" not in gold:
                    raise ValueError("not a gold fixture (needs meta and cells)")
            except (OSError, ValueError) as e:
                problems.append(f"{gp}: {str(e).splitlines()[0]}")
                continue
            cases.append(Case(path.stem, path, gold))
        _orphan_golds(d, {c.name for c in cases}, cases, problems)
    return cases, problems


def _orphan_golds(d: Path, seen: set[str], cases: list[Case], problems: list[str]) -> None:
    """A folder of gold fixtures alone (e.g. ../shared/fixtures): find each report its `report` names,
    in the folder or in a sibling folder (../shared/seeds)."""
    for gp in sorted(d.glob("*" + GOLD_SUFFIX)):
        name = gp.name[: -len(GOLD_SUFFIX)]
        if name in seen:
            continue
        try:
            gold = json.loads(gp.read_text(encoding="utf-8"))
            report = Path(str(gold["report"])).name
        except (OSError, ValueError, KeyError, TypeError):
            continue  # reported above when its report was found; otherwise nothing to score
        siblings = [p for p in sorted(d.resolve().parent.iterdir()) if p.is_dir()] if d.resolve().parent else []
        found = next((p / report for p in [d, *siblings] if (p / report).is_file()), None)
        if found is None:
            problems.append(f"{gp}: its report {report} is neither beside it nor in a sibling folder")
            continue
        seen.add(name)
        cases.append(Case(name, found, gold))


def predict(path: Path, backend: Any) -> tuple[dict, str | None]:
    """One report's output contract, or ({}, one-line error) — in this process, for one-off use."""
    from nianbao.app.pipeline import prediction_task

    try:
        return prediction_task(path, backend), None
    except Exception as e:  # a crash is a score of zero for this report, not the end of the run
        return {}, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def run_backend(name: str, cases: list[Case], prices: dict, prefer_table: bool = False,
                backend: Any = None, advance: Callable[[], None] | None = None,
                workers: int | None = None, limits: Any = None) -> BackendRun:
    """Read every case with one backend (through the runner) and score it; `advance` after each report."""
    from functools import partial

    from nianbao.app.pipeline import default_workers, isolates, make_backend, prediction_task
    from nianbao.app.runner import Runner

    if backend is None:
        backend = make_backend(name)
    runner = Runner(partial(prediction_task, backend=backend), workers=workers or default_workers(backend),
                    limits=limits, isolate=isolates(backend))
    got: dict[int, tuple[dict, str | None]] = {}
    for out in runner.run([c.path for c in cases]):
        got[out.index] = (out.value, None) if out.ok else ({}, out.problem)
        if advance:
            advance()
    run = BackendRun(name)
    for i, case in enumerate(cases):  # scored in case order, whatever order the workers finished in
        pred, error = got.get(i, ({}, "not run"))
        s = score_report(case.name, case.gold, pred)
        s.error = error
        s.cost_usd = cost_of(s.usage, prices, prefer_table)
        run.scores.append(s)
        run.predictions[case.name] = pred
    run.summary = summarise(run.scores)
    return run


def score_predictions(cases: list[Case], predictions: dict[str, dict]) -> list[ReportScore]:
    """Score ready-made predictions (e.g. files written by `nianbao extract -o`)."""
    return [score_report(c.name, c.gold, predictions.get(c.name) or {}) for c in cases]


def to_json(runs: list[BackendRun], per_report: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"backends": {r.backend: r.summary for r in runs}}
    if per_report:
        out["reports"] = {
            r.backend: {
                s.name: {
                    "cells_right": s.cells_right, "cells_total": s.cells_total,
                    "wrong": [{"key": w.key, "gold": w.gold, "got": w.got, "span": w.span} for w in s.wrong],
                    "meta_wrong": s.meta_wrong, "narrative": [s.narr_matched, s.narr_gold, s.narr_pred],
                    "findings": [s.find_hit, s.find_expected], "missed": s.missed,
                    "false_positives": s.false_pos, "seconds": s.seconds, "error": s.error,
                } for s in r.scores}
            for r in runs}
    return out

"""A quality report for reports nobody has labelled: how cleanly each one was read.

Without gold there is no accuracy, but the template checks itself: a report read cleanly has its
three tables, every row, identities that hold, no uncertain cell, no structure flag (a structure
note of severity info, such as a digit run the identities split one way only, is no flag), and an
agency and a year. `nianbao eval stats DIR` (or `nianbao eval DIR --unlabelled`) prints those per report
and in total, so a supervisor running 3,000 reports sees which ones to look at, and a developer
gets a daily gauge on real text. Each report is read in a worker of the one runner (app/runner.py): a file
that crashes, hangs or runs away with memory is one line of the report, not the end of the run.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nianbao.eval.harness import GOLD_SUFFIX, REPORT_SUFFIXES

TABLES = ("t2", "t3", "t4")


@dataclass
class ReportStats:
    name: str
    tables: list[str] = field(default_factory=list)  # tables found
    rows_read: int = 0  # template rows with at least one value
    rows_total: int = 0
    cells_read: int = 0
    cells_total: int = 0
    identities_hold: int = 0
    identities_fail: int = 0
    identities_open: int = 0  # a cell missing: not checked
    uncertain: int = 0
    structure: int = 0  # structure flags, warning or error (a row with a cell too few, a missing table…)
    notes: int = 0  # structure notes, info (a digit run the identities split one way only): nothing to check
    errors: int = 0  # findings of severity error
    warnings: int = 0
    narrative: int = 0
    agency: str | None = None
    year: int | None = None
    template: str | None = None
    failure: str | None = None  # the report could not be read at all (one line)
    over_limit: str | None = None
    cpu_seconds: float = 0.0

    @property
    def clean(self) -> bool:
        """Read without a doubt: every table, no failing identity, nothing uncertain, no structure flag, meta found."""
        return (self.failure is None and len(self.tables) == len(TABLES) and self.identities_fail == 0
                and self.uncertain == 0 and self.structure == 0 and bool(self.agency) and bool(self.year))


def read_stats(path: str) -> dict[str, Any]:
    """One report's figures (runs in the child: returns a small dict, not the Extraction)."""
    from nianbao.app.pipeline import process_file
    from nianbao.identities import identities
    from nianbao.spec import resolve_template, rows

    ex = process_file(path, "rules")
    values = ex.values()
    template = resolve_template(ex.meta.template)
    template_rows = rows(template)
    hold = fail = unknown = 0
    for ident in identities(template):
        r = ident.residual(values)
        if r is None:
            unknown += 1
        elif abs(r) < 1e-6:
            hold += 1
        else:
            fail += 1
    severities = Counter(f.severity for f in ex.findings)
    return {
        "tables": sorted(set(ex.tables_found)),
        "rows_read": sum(1 for r in template_rows if any(values.get(k) is not None for k in r.keys)),
        "rows_total": len(template_rows),
        "cells_read": sum(1 for v in values.values() if v is not None),
        "cells_total": sum(len(r.keys) for r in template_rows),
        "identities_hold": hold, "identities_fail": fail, "identities_open": unknown,
        "uncertain": len(set(ex.uncertain)),
        "structure": sum(1 for f in ex.findings if f.category == "structure" and f.severity != "info"),
        "notes": sum(1 for f in ex.findings if f.category == "structure" and f.severity == "info"),
        "errors": severities.get("error", 0), "warnings": severities.get("warning", 0),
        "narrative": len(ex.narrative),
        "agency": ex.meta.agency, "year": ex.meta.year, "template": ex.meta.template,
    }


def find_reports(paths: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """Report files under these paths, found the way every command finds them (app/runner.py:
    recursive, regular files only); one line per path that cannot be used. Gold files are skipped."""
    from nianbao.app.runner import expand_inputs

    inputs = expand_inputs(paths)
    found = [f for f in inputs.files if not f.name.endswith(GOLD_SUFFIX) and f.suffix.lower() in REPORT_SUFFIXES]
    return found, [f"{p}: {problem}" for p, problem in inputs.refused]


def _timed_stats(path: Path) -> tuple[dict[str, Any], float]:
    started = time.process_time()
    figures = read_stats(str(path))
    return figures, time.process_time() - started


def collect(paths: list[Path], workers: int = 1, cpu_limit: float | None = 60.0,
            advance: Callable[[], None] | None = None) -> list[ReportStats]:
    """Read every report in a worker of the one runner (a crash, a hang or a memory runaway is that
    report's line, not the end of the run) and gather its figures, in the order given."""
    from nianbao.app.runner import Limits, Runner

    out: list[ReportStats | None] = [None] * len(paths)
    runner = Runner(_timed_stats, workers=workers, limits=Limits(timeout=cpu_limit, max_memory=2 << 30))
    for outcome in runner.run(paths):
        s = ReportStats(name=paths[outcome.index].name)
        if not outcome.ok:
            s.failure = outcome.problem
            s.over_limit = outcome.limit in ("timeout", "memory")
        else:
            figures, s.cpu_seconds = outcome.value
            for k, v in figures.items():
                setattr(s, k, v)
        out[outcome.index] = s
        if advance:
            advance()
    return [s for s in out if s is not None]


def totals(stats: list[ReportStats]) -> dict[str, Any]:
    read = [s for s in stats if s.failure is None]
    n = len(read)
    return {
        "reports": len(stats),
        "clean": sum(1 for s in stats if s.clean),
        "failed": len(stats) - n,
        "over_limit": sum(1 for s in stats if s.over_limit),
        "all_tables": sum(1 for s in read if len(s.tables) == len(TABLES)),
        **{f"with_{t}": sum(1 for s in read if t in s.tables) for t in TABLES},
        "rows_read": sum(s.rows_read for s in read), "rows_total": sum(s.rows_total for s in read),
        "cells_read": sum(s.cells_read for s in read), "cells_total": sum(s.cells_total for s in read),
        "identities_hold": sum(s.identities_hold for s in read),
        "identities_fail": sum(s.identities_fail for s in read),
        "identities_open": sum(s.identities_open for s in read),
        "reports_with_failing_identity": sum(1 for s in read if s.identities_fail),
        "uncertain": sum(s.uncertain for s in read),
        "reports_with_uncertain": sum(1 for s in read if s.uncertain),
        "structure": sum(s.structure for s in read),
        "reports_with_structure": sum(1 for s in read if s.structure),
        "notes": sum(s.notes for s in read),
        "agency_found": sum(1 for s in read if s.agency), "year_found": sum(1 for s in read if s.year),
        "cpu_seconds": round(sum(s.cpu_seconds for s in stats), 3),
    }


def to_json(stats: list[ReportStats]) -> dict[str, Any]:
    per = []
    for s in stats:
        d = {k: v for k, v in s.__dict__.items()}
        d["clean"] = s.clean
        d["cpu_seconds"] = round(s.cpu_seconds, 4)
        per.append(d)
    return {"totals": totals(stats), "reports": per}


def print_stats(stats: list[ReportStats], console: Any, problems_only: bool = False) -> None:
    """One row per report (report text is shown as text, never as markup), then the totals."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="label-free quality (rules backend)", title_justify="left")
    for col, just in (("report", "left"), ("tables", "left"), ("rows", "right"), ("identities hold/fail/open", "right"),
                      ("uncertain", "right"), ("structure flags/notes", "right"), ("agency", "left"), ("year", "right"),
                      ("", "left")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    names = {"t2": "二", "t3": "三", "t4": "四"}
    for s in stats:
        if problems_only and s.clean:
            continue
        if s.failure is not None:
            table.add_row(Text(s.name), "", "", "", "", "", "", "", Text(f"not read: {s.failure}", style="red"))
            continue
        status = Text("clean", style="green") if s.clean else Text("check", style="yellow")
        table.add_row(Text(s.name), "".join(names[t] for t in s.tables) or "—", f"{s.rows_read}/{s.rows_total}",
                      f"{s.identities_hold}/{s.identities_fail}/{s.identities_open}", str(s.uncertain),
                      f"{s.structure}/{s.notes}", Text(s.agency or "—"), str(s.year or "—"), status)
    console.print(table)
    t = totals(stats)
    n = t["reports"] - t["failed"]
    lines = [
        f"{t['reports']} reports: {t['clean']} read cleanly, {t['reports'] - t['clean'] - t['failed']} to check, "
        f"{t['failed']} not read ({t['over_limit']} over the time limit)",
        f"tables found: 二 {t['with_t2']}/{n}, 三 {t['with_t3']}/{n}, 四 {t['with_t4']}/{n} (all three in {t['all_tables']})",
        f"rows read {t['rows_read']}/{t['rows_total']}, cells {t['cells_read']}/{t['cells_total']}",
        f"identities: {t['identities_hold']} hold, {t['identities_fail']} fail "
        f"(in {t['reports_with_failing_identity']} reports), {t['identities_open']} not checked (a cell missing)",
        f"uncertain cells: {t['uncertain']} in {t['reports_with_uncertain']} reports; "
        f"structure flags: {t['structure']} in {t['reports_with_structure']} reports "
        f"(and {t['notes']} notes of severity info, such as runs split one way only)",
        f"agency found {t['agency_found']}/{n}, year found {t['year_found']}/{n}; CPU {t['cpu_seconds']:.2f} s",
    ]
    for line in lines:
        console.print(line, markup=False, highlight=False)

"""The terminal view of an eval: one column per backend, side by side, then the wrong cells."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from nianbao.eval.gates import deltas
from nianbao.eval.harness import BackendRun

# (figure, label, kind) in display order; kind: pct, int, sec, usd, num
FIGURES = (
    ("reports", "reports", "int"),
    ("errors", "reports that failed", "int"),
    ("cell_accuracy", "cell accuracy", "pct"),
    ("t2", "  table 二", "table"),
    ("t3", "  table 三", "table"),
    ("t4", "  table 四", "table"),
    ("meta_accuracy", "meta accuracy", "pct"),
    ("narrative_precision", "narrative precision", "pct"),
    ("narrative_recall", "narrative recall", "pct"),
    ("narrative_f1", "narrative F1", "pct"),
    ("finding_recall", "finding recall (expected)", "pct"),
    ("false_positives", "false positives", "int"),
    ("seconds_per_report", "seconds/report (median)", "sec"),
    ("seconds_p95", "seconds/report (p95)", "sec"),
    ("calls_per_report", "LLM calls/report", "num"),
    ("prompt_tokens_per_report", "prompt tokens/report", "num"),
    ("completion_tokens_per_report", "completion tokens/report", "num"),
    ("cost_usd_per_report", "cost/report (USD)", "usd"),
)


def fmt(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind in ("pct", "table"):
        return f"{100 * value:.2f}%"
    if kind == "int":
        return str(int(value))
    if kind == "sec":
        return f"{value:.4f}"
    if kind == "usd":
        return f"{value:.5f}"
    return f"{value:.1f}"


def summary_table(runs: list[BackendRun], baseline: dict[str, dict] | None = None) -> Table:
    table = Table(title="nianbao eval", show_lines=False)
    table.add_column("figure")
    for r in runs:
        table.add_column(r.backend, justify="right")
    for name, label, kind in FIGURES:
        cells: list[Text | str] = []
        for r in runs:
            s = r.summary
            value = s.get("cell_accuracy_by_table", {}).get(name) if kind == "table" else s.get(name)
            text = Text(fmt(value, kind))
            base = (baseline or {}).get(r.backend)
            if base and kind != "table":
                d = deltas(s, base).get(name)
                if d:
                    delta, worse = d
                    if abs(delta) > 1e-12:
                        shown = f"{100 * delta:+.2f}" if kind == "pct" else f"{delta:+g}"
                        text.append(f" ({shown})", style="bold red" if worse else "green")
            cells.append(text)
        table.add_row(label, *cells)
    cats = sorted({c for r in runs for c in r.summary.get("findings_by_category", {})})
    for c in cats:
        cells = []
        for r in runs:
            v = r.summary["findings_by_category"].get(c)
            cells.append(f"{v['hit']}/{v['expected']} fp {v['false_positives']}" if v else "—")
        table.add_row(f"  {c}", *cells)
    return table


def wrong_table(run: BackendRun, limit: int = 40) -> Table | None:
    rows = [(s.name, w) for s in run.scores for w in s.wrong]
    problems = [s for s in run.scores if s.error or s.missed or s.false_pos or s.meta_wrong]
    if not rows and not problems:
        return None
    table = Table(title=f"{run.backend}: wrong cells ({len(rows)})")
    for col in ("report", "key", "gold", "got", "span"):
        table.add_column(col)
    for name, w in rows[:limit]:
        table.add_row(*(Text(str(x)) for x in (name, w.key, w.gold, w.got, f"{w.span[0]}–{w.span[1]}" if w.span else "")))
    if len(rows) > limit:
        table.add_row("…", f"{len(rows) - limit} more", "", "", "")
    for s in problems[:limit]:
        notes = []
        if s.error:
            notes.append(f"failed: {s.error}")
        if s.meta_wrong:
            notes.append("meta: " + ",".join(s.meta_wrong))
        if s.missed:
            notes.append("missed: " + "; ".join(s.missed[:3]))
        if s.false_pos:
            notes.append("false positives: " + "; ".join(s.false_pos[:3]))
        table.add_row(Text(s.name), Text(" | ".join(notes)), "", "", "")
    return table


def print_runs(runs: list[BackendRun], console: Console, baseline: dict[str, dict] | None = None,
               show_wrong: bool = True) -> None:
    console.print(summary_table(runs, baseline))
    if show_wrong:
        for r in runs:
            t = wrong_table(r)
            if t is not None:
                console.print(t)

"""A readable terminal summary of one Extraction (`--format table`)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from nianbao.models import Extraction

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


def print_summary(ex: Extraction, console: Console | None = None) -> None:
    console = console or Console()
    m = ex.meta
    console.print(f"[bold]{ex.report}[/bold]  {m.agency or '?'} · {m.year or '?'} · 模板 {m.template or '?'}"
                  f" · backend {ex.backend}", highlight=False)
    filled = sum(1 for c in ex.cells.values() if c.value is not None)
    console.print(f"cells {filled}/{len(ex.cells)} read · narrative claims {len(ex.narrative)}"
                  f" · findings {len(ex.findings)}", highlight=False)
    nonzero = {k: c for k, c in ex.cells.items() if c.value not in (0, None)}
    if nonzero:
        t = Table("key", "value", "as printed", title="non-zero cells")
        for k, c in nonzero.items():
            t.add_row(k, str(c.value), c.raw)
        console.print(t)
    if ex.findings:
        t = Table("severity", "category", "rule", "message", title="findings")
        for f in ex.findings:
            t.add_row(f"[{SEVERITY_STYLE[f.severity]}]{f.severity}[/]", f.category, f.rule, f.message)
        console.print(t)

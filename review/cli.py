"""`nianbao run`, `nianbao export`, `nianbao review`: the store's commands."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import typer
from rich.console import Console

err = Console(stderr=True, highlight=False)

DB_HELP = "SQLite file (default nianbao.db) or any SQLAlchemy URL, e.g. postgresql://…"


def _bad(path: object, problem: str) -> None:
    err.print(f"[red]error[/red] {path}: {problem}", markup=True, soft_wrap=True, highlight=False,
              emoji=False)


def _open(db: str, must_exist: bool = False):  # -> Store
    """The store at `db`; for reading commands a SQLite file that is not there is an error, not a new file."""
    from nianbao.review.store import Store

    if must_exist and "://" not in db and not Path(db).expanduser().is_file():
        _bad(db, "no such store; make one with `nianbao run DIR --db " + db + "`")
        raise typer.Exit(2)
    try:
        return Store(db)
    except Exception as e:  # a bad URL or a file that is not a database
        _bad(db, f"cannot open the store: {type(e).__name__}: {str(e).splitlines()[0]}")
        raise typer.Exit(2) from None


def _read_hierarchy(path: Path) -> list[tuple[str, str]]:
    """agency,parent rows (a header row, in English or Chinese, is recognised and skipped)."""
    from nianbao.review.hierarchy import HierarchyError, read_csv

    try:
        return read_csv(path)
    except (HierarchyError, OSError) as e:
        _bad(path, str(e))
        raise typer.Exit(2) from None


def run(
    files: list[Path] = typer.Argument(..., help="Report files or folders."),
    db: str = typer.Option("nianbao.db", "--db", help=DB_HELP),
    backend: str = typer.Option("rules", "--backend", "-b", help="rules (embedded default), llm or hybrid."),
    model: str | None = typer.Option(None, "--model", help="Model name for LLM backends."),
    workers: int | None = typer.Option(None, "--workers", "-w", min=1,
                                       help="Parallel workers (default: every core for rules, 4 for LLMs)."),
    force: bool = typer.Option(False, "--force", help="Extract again even what is already stored."),
    hierarchy: Path | None = typer.Option(None, "--hierarchy", exists=True, dir_okay=False,
                                          help="CSV of agency,parent for summary-report checks."),
) -> None:
    """Extract a batch of reports into the store (resumable; Ctrl-C keeps what is done)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from nianbao import __version__
    from nianbao.extract import available_backends, get_backend
    from nianbao.review.batch import describe_backend, expand, run_batch
    from nianbao.review.store import RunSettings

    if backend not in available_backends():
        _bad("--backend", f"unknown backend {backend!r}; choose from {', '.join(available_backends())}")
        raise typer.Exit(2)
    options = tuple(sorted({"model": model}.items())) if model else ()
    try:  # a misconfigured backend fails here, once, not in every worker
        identity = describe_backend(get_backend(backend, **dict(options)))
    except (ValueError, RuntimeError) as e:
        _bad("--backend", str(e).splitlines()[0] if str(e) else type(e).__name__)
        raise typer.Exit(2) from None
    store = _open(db)
    if hierarchy:
        n = store.load_hierarchy(_read_hierarchy(hierarchy))
        err.print(f"hierarchy: {n} agencies")
    paths = expand(files)
    missing = [p for p in paths if not p.exists()]
    for p in missing:
        _bad(p, "no such file")
    paths = [p for p in paths if p.exists()]
    settings = RunSettings(backend=backend, options=options, version=__version__, identity=identity)
    with Progress(TextColumn("[bold]run"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=err, transient=False) as prog:
        task = prog.add_task("", total=len(paths))
        res = run_batch(store, paths, settings, workers=workers, force=force,
                        on_error=lambda p, e: prog.console.print(f"[red]error[/red] {p}: {e}", markup=True,
                                                                 highlight=False, emoji=False, soft_wrap=True),
                        progress=lambda n, name: prog.update(task, advance=n, description=name[-40:]))
    rechecked = f" ({res.rechecked} re-checked with the current rules)" if res.rechecked else ""
    err.print(f"stored {res.done}, skipped {res.skipped} already done{rechecked}, {len(res.errors)} failed"
              f"{' (interrupted)' if res.interrupted else ''} → {store.url}")
    from collections import Counter

    open_by = Counter(f["severity"] for f in store.findings() if f["status"] == "open")
    if open_by:
        err.print("open findings: " + ", ".join(f"{open_by[s]} {s}" for s in ("error", "warning", "info")
                                                 if open_by[s]) + f"  (nianbao review --db {db})")
    if res.interrupted:
        raise typer.Exit(130)
    if missing or res.errors:
        raise typer.Exit(2)


def export(
    db: str = typer.Option("nianbao.db", "--db", help=DB_HELP),
    fmt: str = typer.Option("csv", "--format", "-f", help="csv, xlsx, parquet, jsonl, or gold (a folder)."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Output file (a folder for gold)."),
    wide: bool = typer.Option(False, "--wide", help="One row per report, one column per key."),
    diff: str | None = typer.Option(None, "--diff", help="Year-over-year diff of one agency's numbers."),
    changed_only: bool = typer.Option(False, "--changed", help="With --diff: only keys that changed."),
) -> None:
    """Export the store: long or wide table, an agency's year-over-year diff, or gold fixtures."""
    from nianbao.review.export import DIFF_COLUMNS, FORMATS, diff_rows, export_gold, write_table
    from nianbao.review.export import export as do_export

    store = _open(db, must_exist=True)
    if fmt == "gold":
        if output is None:
            _bad("-o", "--format gold needs -o DIR")
            raise typer.Exit(2)
        skipped: list[str] = []
        written = export_gold(store, output, skipped)
        for name in skipped:
            _bad(name, "left out of the gold export: its agency, year or template is unknown")
        err.print(f"{len(written)} reviewed reports → {output}")
        return
    if fmt not in FORMATS:
        _bad("--format", f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}, gold")
        raise typer.Exit(2)
    if diff is not None:
        rows = diff_rows(store, diff, changed_only=changed_only)
        if not rows:
            _bad(diff, "fewer than two years of this agency in the store")
            raise typer.Exit(2)
        if output is None:
            for r in rows:
                typer.echo(json.dumps(r, ensure_ascii=False))
            return
        write_table(DIFF_COLUMNS, rows, fmt, output)
        err.print(f"{len(rows)} rows → {output}")
        return
    if output is None:
        _bad("-o", "an output file is needed")
        raise typer.Exit(2)
    n = do_export(store, fmt, output, wide=wide)
    err.print(f"{n} rows → {output}")


def review(
    db: str = typer.Option("nianbao.db", "--db", help=DB_HELP),
    port: int = typer.Option(8765, "--port", min=1, max=65535),
    user: str | None = typer.Option(None, "--user", help="Name written into the audit trail."),
) -> None:
    """Serve the review page on 127.0.0.1."""
    from nianbao.review.web import serve

    store = _open(db, must_exist=True)
    who = user or getpass.getuser()
    err.print(f"review: http://127.0.0.1:{port}/  ({store.url}, as {who}); Ctrl-C to stop")
    serve(store, port=port, who=who)


def register(app: typer.Typer) -> None:
    """Add the store/review commands to the main app."""
    app.command("run")(run)
    app.command("export")(export)
    app.command("review")(review)

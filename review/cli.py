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
    files: list[Path] = typer.Argument(..., help="Report files or folders (searched recursively)."),
    db: str = typer.Option("nianbao.db", "--db", help=DB_HELP),
    backend: str = typer.Option("rules", "--backend", "-b", help="rules (embedded default), llm or hybrid."),
    model: str | None = typer.Option(None, "--model", help="Model name for LLM backends."),
    workers: int | None = typer.Option(None, "--workers", "-w", min=1,
                                       help="Parallel workers (default: every core for rules, 4 for LLMs)."),
    force: bool = typer.Option(False, "--force", help="Extract again even what is already stored."),
    hierarchy: Path | None = typer.Option(None, "--hierarchy", exists=True, dir_okay=False,
                                          help="CSV of agency,parent for summary-report checks."),
    timeout: float = typer.Option(60.0, "--timeout", help="Wall-time limit per file in seconds (0: none)."),
    max_memory: str = typer.Option("2G", "--max-memory", help="Memory limit per file, e.g. 2G or 500M (0: none)."),
    cluster: str | None = typer.Option(None, "--cluster", help="Dask scheduler address (tcp://host:8786): "
                                       "workers on other machines extract, this process stores."),
) -> None:
    """Extract a batch of reports into the store (resumable; Ctrl-C keeps what is done)."""
    from nianbao import __version__
    from nianbao.app.options import bad, limits_from, say
    from nianbao.app.pipeline import make_backend
    from nianbao.app.progress import Bar
    from nianbao.app.runner import StopSignal, expand_inputs, nothing_matched
    from nianbao.extract import available_backends
    from nianbao.review.batch import describe_backend, run_batch
    from nianbao.review.store import RunSettings

    limits = limits_from(timeout, max_memory)
    if backend not in available_backends():
        bad("--backend", f"unknown backend {backend!r}; choose from {', '.join(available_backends())}")
        raise typer.Exit(2)
    options = tuple(sorted({"model": model}.items())) if model else ()
    identity = describe_backend(make_backend(backend, **dict(options)))  # a misconfigured backend fails here, once
    inputs = expand_inputs(files)
    for p, problem in inputs.refused:
        bad(p, problem)
    if not inputs.files and not inputs.refused and not hierarchy:
        raise nothing_matched(files)
    store = _open(db)
    if hierarchy:
        n = store.load_hierarchy(_read_hierarchy(hierarchy))
        say(f"hierarchy: {n} agencies")
        if not inputs.files:  # only the hierarchy: check the stored reports against it
            say(f"{nothing_matched(files)}; {store.cross_check()} cross-report findings")
            return
    settings = RunSettings(backend=backend, options=options, version=__version__, identity=identity)
    with StopSignal().installed() as stop, Bar("run", len(inputs.files)) as bar:
        def advance(n: int, name: str) -> None:
            bar.advance(n)
            bar.working_on(name)

        common = dict(force=force, on_error=lambda p, e: bar.print(f"error {p}: {e}"), progress=advance, stop=stop)
        if cluster:
            from nianbao.review.cluster import run_on_cluster

            res = run_on_cluster(store, inputs.files, settings, cluster, limits=limits, **common)
        else:
            res = run_batch(store, inputs.files, settings, workers=workers, limits=limits,
                            on_page=lambda name, d, t: bar.working_on(f"{name} page {d}/{t}"), **common)
    rechecked = f" ({res.rechecked} re-checked with the current rules)" if res.rechecked else ""
    say(f"stored {res.done}, skipped {res.skipped} already done{rechecked}, {len(res.errors)} failed"
        f"{' (interrupted)' if res.interrupted else ''} → {store.url}")
    open_by = store.open_counts()
    if open_by:
        say("open findings: " + ", ".join(f"{open_by[s]} {s}" for s in ("error", "warning", "info")
                                          if open_by.get(s)) + f"  (nianbao review --db {db})")
    if res.interrupted:
        raise typer.Exit(130)
    if res.stopped:
        bad("run", f"stopped early: {res.stopped}")
        raise typer.Exit(2)
    if inputs.refused or res.errors:
        raise typer.Exit(2)


def export(
    db: str = typer.Option("nianbao.db", "--db", help=DB_HELP),
    fmt: str = typer.Option("csv", "--format", "-f",
                            help="csv, xlsx (every table in one workbook), parquet, jsonl; issues (问题清单, "
                                 "XLSX, one sheet per agency); gold (a folder of fixtures)."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Output file (a folder for gold)."),
    wide: bool = typer.Option(False, "--wide", help="One row per report, one column per key."),
    table: str | None = typer.Option(None, "--table", help="For csv/parquet/jsonl: long (default), wide, "
                                     "reports, claims, findings or audit."),
    template: str | None = typer.Option(None, "--template", help="With --wide: only reports of this template "
                                        "(2019 or 2021), its columns only."),
    labels: str | None = typer.Option(None, "--labels", help="Column headers: id or zh (Chinese). "
                                      "Default zh for xlsx, id otherwise."),
    diff: str | None = typer.Option(None, "--diff", help="Year-over-year diff of one agency's numbers."),
    changed_only: bool = typer.Option(False, "--changed", help="With --diff: only keys that changed."),
) -> None:
    """Export the store: tables for analysis, an issue list per agency, diffs, or gold fixtures."""
    from nianbao.review.export import (
        DIFF_COLUMNS,
        FORMATS,
        TABLES,
        diff_rows,
        export_gold,
        export_issues,
        write_table,
    )
    from nianbao.review.export import export as do_export

    if labels not in (None, "id", "zh"):
        _bad("--labels", f"unknown labels {labels!r}; choose id or zh")
        raise typer.Exit(2)
    if table is not None and table not in TABLES:
        _bad("--table", f"unknown table {table!r}; choose from {', '.join(TABLES)}")
        raise typer.Exit(2)
    if template is not None and template not in ("2019", "2021"):
        _bad("--template", f"unknown template {template!r}; choose 2019 or 2021")
        raise typer.Exit(2)
    if fmt not in (*FORMATS, "gold", "issues"):
        _bad("--format", f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}, issues, gold")
        raise typer.Exit(2)
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
    if fmt == "issues":
        if output is None or output.suffix.lower() != ".xlsx":
            _bad("-o", "--format issues needs -o FILE.xlsx")
            raise typer.Exit(2)
        sheets = export_issues(store, output)
        err.print(f"问题清单: {len(sheets)} agencies, {sum(sheets.values())} issues → {output}")
        return
    if diff is not None:
        rows = diff_rows(store, diff, changed_only=changed_only)
        if not rows:
            _bad(diff, "fewer than two years of this agency in the store")
            raise typer.Exit(2)
        if output is None:
            for r in rows:
                typer.echo(json.dumps(r, ensure_ascii=False))
            return
        write_table(DIFF_COLUMNS, rows, fmt, output, labels or ("zh" if fmt == "xlsx" else "id"))
        err.print(f"{len(rows)} rows → {output}")
        return
    if output is None:
        _bad("-o", "an output file is needed")
        raise typer.Exit(2)
    n = do_export(store, fmt, output, wide=wide, labels=labels, table=table, template=template)
    what = "every table (字段说明, 报告, 宽表, 长表, 正文数字, 问题, 审核记录)" if (
        fmt == "xlsx" and not wide and table in (None, "long")) else (table or ("wide" if wide else "long"))
    err.print(f"{n} rows → {output}  ({what})")


def review(
    db: str = typer.Option("nianbao.db", "--db", help=DB_HELP),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on. Anything but loopback needs "
                             "login: add reviewers first with `nianbao user add NAME`."),
    port: int = typer.Option(8765, "--port", min=1, max=65535),
    user: str | None = typer.Option(None, "--user", help="On loopback: the name written into the audit trail."),
) -> None:
    """Serve the review page (127.0.0.1 without login; other addresses only with login)."""
    from nianbao.review.accounts import user_names
    from nianbao.review.web import LOOPBACK, serve

    store = _open(db, must_exist=True)
    if host not in LOOPBACK:
        if not user_names(store):
            _bad("--host", f"serving on {host} needs login, and the store has no reviewers: "
                           f"add one with `nianbao user add NAME --db {db}`")
            raise typer.Exit(2)
        err.print(f"review: http://{host}:{port}/  ({store.url}; login required); Ctrl-C to stop")
    else:
        who = user or getpass.getuser()
        err.print(f"review: http://127.0.0.1:{port}/  ({store.url}, as {who}); Ctrl-C to stop")
    serve(store, host=host, port=port, who=user or getpass.getuser())


user_app = typer.Typer(no_args_is_help=True, help="Reviewers' accounts for `nianbao review --host`.")


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="The reviewer's name, as the audit trail will show it."),
    db: str = typer.Option("nianbao.db", "--db", help=DB_HELP),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    replace: bool = typer.Option(False, "--replace", help="Set a new password for an existing reviewer."),
) -> None:
    """Add a reviewer (the password is asked for, or read from stdin; stored only as a scrypt hash)."""
    import sys

    from nianbao.review.accounts import add_user
    from nianbao.review.store import StoreError

    store = _open(db, must_exist=True)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("密码", hide_input=True, confirmation_prompt=True)
    try:
        add_user(store, name, password, replace=replace)
    except StoreError as e:
        _bad(name, str(e))
        raise typer.Exit(2) from None
    err.print(f"reviewer {name} {'updated' if replace else 'added'} → {store.url}")


@user_app.command("list")
def user_list(db: str = typer.Option("nianbao.db", "--db", help=DB_HELP)) -> None:
    """List the reviewers."""
    from nianbao.review.accounts import user_names

    for n in user_names(_open(db, must_exist=True)):
        typer.echo(n)


def register(app: typer.Typer) -> None:
    """Add the store/review commands to the main app."""
    app.command("run")(run)
    app.command("export")(export)
    app.command("review")(review)
    app.add_typer(user_app, name="user")

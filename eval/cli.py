"""`nianbao eval …`: score backends on labelled reports, generate a corpus, run the benchmarks.

`nianbao eval DIR…` is the scoring command itself (the subcommand `run` is implied), so the first
thing a contributor types after a change is short.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import typer
from rich.console import Console
from typer.core import TyperGroup

err = Console(stderr=True, highlight=False)


class _DefaultRun(TyperGroup):
    """A group whose default subcommand is `run`: `nianbao eval DIR` means `nianbao eval run DIR`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(cls=_DefaultRun, no_args_is_help=True, add_completion=False,
                       help="Score backends against gold (nianbao eval DIR…), make a corpus (synth), benchmark (bench).")


def _bad(what: object, problem: str) -> None:
    err.print("[red]error[/red] ", end="")
    err.print(f"{what}: {problem}", markup=False, soft_wrap=True)


@eval_app.command("run")
def run_cmd(
    dirs: list[Path] = typer.Argument(..., help="Folders of reports; those with <stem>.gold.json are scored."),
    backend: list[str] = typer.Option(["rules"], "--backend", "-b", help="Backend to score; repeat to compare."),
    gold: Path | None = typer.Option(None, "--gold", help="Folder of <stem>.gold.json (else beside the reports)."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON (accuracies as fractions)."),
    html: Path | None = typer.Option(None, "--html", help="Write one self-contained HTML page with charts."),
    fail_under: str | None = typer.Option(
        None, "--fail-under",
        help="NAME=VALUE,… exit 1 when a figure is below (or, for false_positives/seconds/cost, above) it."),
    baseline: Path | None = typer.Option(None, "--baseline", help="A saved --json; show deltas, exit 1 on a drop."),
    prices: Path | None = typer.Option(None, "--prices", help="Price table TOML (default nianbao/data/prices.toml)."),
    save_predictions: Path | None = typer.Option(None, "--save-predictions",
                                                 help="Write each backend's JSON per report to DIR/<backend>/."),
) -> None:
    """Run each backend over the reports that have gold and print their figures side by side."""
    from nianbao.eval.gates import check_thresholds, deltas, load_baseline, parse_thresholds
    from nianbao.eval.harness import find_cases, run_backend, to_json
    from nianbao.eval.prices import load_prices
    from nianbao.eval.terminal import print_runs
    from nianbao.extract import get_backend
    from nianbao.progress import Bar

    try:
        thresholds = parse_thresholds(fail_under) if fail_under else {}
        table = load_prices(prices)
        base = load_baseline(baseline) if baseline else None
    except ValueError as e:
        _bad("eval", str(e))
        raise typer.Exit(2) from None
    cases, problems = find_cases(dirs, gold)
    for p in problems:
        _bad("eval", p)
    if not cases:
        _bad("eval", f"no report with a gold fixture in {', '.join(map(str, dirs))}")
        raise typer.Exit(2)
    runs = []
    for name in backend:
        try:
            be = get_backend(name)
        except (ValueError, RuntimeError) as e:
            _bad("--backend", str(e))
            raise typer.Exit(2) from None
        with Bar(f"eval {name}", len(cases), console=err) as bar:
            runs.append(run_backend(name, cases, table, prefer_table=prices is not None, backend=be,
                                    advance=bar.advance))
    if save_predictions:
        for r in runs:
            out = save_predictions / r.backend
            out.mkdir(parents=True, exist_ok=True)
            for name, pred in r.predictions.items():
                (out / f"{name}.json").write_text(json.dumps(pred, ensure_ascii=False, indent=1), "utf-8")
    if as_json:
        sys.stdout.write(json.dumps(to_json(runs), ensure_ascii=False, indent=1) + "\n")
    else:
        print_runs(runs, Console(highlight=False), base)
    if html:
        from nianbao.eval.html_report import write_html

        write_html(html, runs, {c.name: c for c in cases})
        err.print(f"wrote {html}", markup=False)
    failures = check_thresholds({r.backend: r.summary for r in runs}, thresholds)
    if base:
        for r in runs:
            if r.backend in base:
                failures += [f"{r.backend}: {k} dropped by {abs(d):.4g} from the baseline"
                             for k, (d, worse) in deltas(r.summary, base[r.backend]).items() if worse]
    for f in failures:
        _bad("eval gate", f)
    if failures:
        raise typer.Exit(1)


@eval_app.command("synth")
def synth_cmd(
    output: Path = typer.Option(..., "-o", "--output", help="Folder for <name>.txt|.html and <name>.gold.json."),
    n: int = typer.Option(20, "--n", help="How many reports."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same bytes."),
    damage: float = typer.Option(0.0, "--damage", help="Share of number cells damaged the way OCR does (0–1)."),
    row_damage: float | None = typer.Option(None, "--row-damage",
                                            help="Share of rows with a dropped or doubled cell (default damage×2)."),
    inject: int = typer.Option(0, "--inject", help="How many reports get one arithmetic error each."),
    layout: list[str] = typer.Option([], "--layout", help="Only these layouts (default: all, in turn)."),
    gold_tables: Path | None = typer.Option(None, "--from-gold",
                                            help="Reuse these gold fixtures' tables for every fifth report."),
) -> None:
    """Generate reports in every real-world layout, damaged and with injected errors, plus their gold."""
    from nianbao.eval.synth import LAYOUTS, SynthOptions, write_corpus

    bad = [x for x in layout if x not in LAYOUTS]
    if bad or not 0 <= damage <= 1 or n < 0 or inject < 0:
        _bad("synth", f"unknown layout {bad[0]!r} (choose from {', '.join(LAYOUTS)})" if bad
             else "--damage must be within 0–1 and --n, --inject not negative")
        raise typer.Exit(2)
    opts = SynthOptions(n=n, seed=seed, damage=damage, row_damage=2 * damage if row_damage is None else row_damage,
                        inject=min(inject, n), layouts=tuple(layout) or LAYOUTS, gold_dir=gold_tables)
    names = write_corpus(output, opts)
    err.print(f"wrote {len(names)} reports and their gold to {output}", markup=False)


@eval_app.command("bench")
def bench_cmd(
    n: int = typer.Option(10000, "--n", help="Generated reports to read."),
    seed: int = typer.Option(0, "--seed"),
    workers: int = typer.Option(0, "--workers", help="Processes for the all-cores run (0 = every core)."),
    doc: Path = typer.Option(Path("docs/benchmarks.md"), "--doc", help="Markdown file to rewrite our section of."),
    no_write: bool = typer.Option(False, "--no-write", help="Print the section instead of writing it."),
    llm_backend: list[str] = typer.Option([], "--llm-backend", help="Also count calls/tokens of this backend."),
) -> None:
    """Throughput and memory of the rules backend on generated reports; writes docs/benchmarks.md."""
    from nianbao.eval.bench import render_section, run_bench, write_section

    result = run_bench(n=n, seed=seed, workers=workers or None, llm_backends=llm_backend)
    section = render_section(result)
    if no_write:
        sys.stdout.write(section + "\n")
    else:
        write_section(doc, section)
        err.print(f"wrote {doc}", markup=False)


@eval_app.command("fuzz")
def fuzz_cmd(
    n: int = typer.Option(100, "--n", min=1, help="How many damaged variants."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same variants."),
    keep: Path | None = typer.Option(None, "--keep", help="Write the variants here (default: a temporary folder)."),
    workers: int | None = typer.Option(None, "--workers", "-w", min=1, help="Worker processes (default: every core)."),
    timeout: float = typer.Option(60.0, "--timeout", help="Wall-time limit per file in seconds."),
    max_memory: str = typer.Option("2G", "--max-memory", help="Memory limit per file, e.g. 2G."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    kind: list[str] = typer.Option([], "--kind", help="Only seeds of this kind (txt, md, html, docx, pdf, scan); "
                                   "repeat for more."),
) -> None:
    """Damage real reports (byte flips, truncations, shuffles, splices) and run them with the limits.

    Exits 1 when any variant raised an unexpected exception or went past a limit.
    """
    import tempfile

    from nianbao.cli import limits_from
    from nianbao.eval.fuzz import render, run_fuzz
    from nianbao.progress import Bar

    root = Path(__file__).resolve().parent.parent
    shared = root.parent / "shared"
    with tempfile.TemporaryDirectory(prefix="nianbao-fuzz-") as tmp, Bar("fuzz", n, console=err) as bar:
        report = run_fuzz(n, seed, keep or Path(tmp), root, shared, workers=workers,
                          limits=limits_from(timeout, max_memory), advance=bar.advance, kinds=set(kind) or None)
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render(report) + "\n")
    if report.unexpected or report.overruns:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the eval commands to the main app."""
    app.add_typer(eval_app, name="eval")

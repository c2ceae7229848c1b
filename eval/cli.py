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
    unlabelled: bool = typer.Option(False, "--unlabelled",
                                    help="No gold needed: how cleanly each report was read (same as `eval stats`)."),
    timeout: float = typer.Option(60.0, "--timeout", help="Wall-time limit per report in seconds (0: none); an LLM "
                                  "backend on a slow local server needs more."),
) -> None:
    """Run each backend over the reports that have gold and print their figures side by side."""
    if unlabelled:
        stats_cmd(dirs, as_json=as_json, workers=1, timeout=60.0, problems_only=False)
        return
    from nianbao.app.options import limits_from
    from nianbao.app.progress import Bar
    from nianbao.errors import InputError
    from nianbao.eval.gates import check_thresholds, deltas, load_baseline, parse_thresholds
    from nianbao.eval.harness import find_cases, run_backend, to_json
    from nianbao.eval.prices import load_prices
    from nianbao.eval.terminal import print_runs
    from nianbao.extract import get_backend

    try:
        thresholds = parse_thresholds(fail_under) if fail_under else {}
        table = load_prices(prices)
        base = load_baseline(baseline) if baseline else None
        limits = limits_from(timeout, "2G")
    except (ValueError, InputError) as e:
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
                                    advance=bar.advance, limits=limits))
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
    n: int = typer.Option(1000, "--n", help="Generated reports to read."),
    seed: int = typer.Option(0, "--seed"),
    repeat: int = typer.Option(3, "--repeat", help="Fresh-process repeats; figures are min / median / max."),
    workers: int = typer.Option(0, "--workers", help="Processes for the all-cores run (0 = every core)."),
    layout: list[str] = typer.Option([], "--layout", help="Only these layouts (default: all, in turn)."),
    case_limit: float = typer.Option(10.0, "--case-limit", help="CPU seconds each pathological input may take."),
    no_pathological: bool = typer.Option(False, "--no-pathological", help="Skip the pathological inputs."),
    doc: Path = typer.Option(Path("docs/benchmarks.md"), "--doc", help="Markdown file to rewrite our section of."),
    no_write: bool = typer.Option(False, "--no-write", help="Print the section instead of writing it."),
    llm_backend: list[str] = typer.Option([], "--llm-backend", help="Also count calls/tokens of this backend."),
) -> None:
    """CPU time per report of the rules backend against the read+normalise floor, and the pathological inputs."""
    from nianbao.eval.bench import render_section, run_bench, write_section
    from nianbao.eval.synth import LAYOUTS

    bad = [x for x in layout if x not in LAYOUTS]
    if bad or n < 1 or repeat < 1:
        _bad("bench", f"unknown layout {bad[0]!r} (choose from {', '.join(LAYOUTS)})" if bad
             else "--n and --repeat must be at least 1")
        raise typer.Exit(2)
    result = run_bench(n=n, seed=seed, workers=workers or None, repeats=repeat, llm_backends=llm_backend,
                       pathological=not no_pathological, case_limit=case_limit, layouts=tuple(layout) or LAYOUTS)
    section = render_section(result)
    if no_write:
        sys.stdout.write(section + "\n")
    else:
        write_section(doc, section)
        err.print(f"wrote {doc}", markup=False)


@eval_app.command("stats")
def stats_cmd(
    paths: list[Path] = typer.Argument(..., help="Report files or folders of reports (no gold needed)."),
    as_json: bool = typer.Option(False, "--json", help="Print per-report figures and totals as JSON."),
    workers: int = typer.Option(1, "--workers", help="Reports read at once (each in its own process)."),
    timeout: float = typer.Option(60.0, "--timeout", help="CPU seconds one report may take before it is stopped."),
    problems_only: bool = typer.Option(False, "--problems", help="List only the reports that need a look."),
) -> None:
    """Label-free quality of a folder: tables, rows, identities, uncertain cells, structure flags, agency/year."""
    from nianbao.eval.stats import collect, find_reports, print_stats, to_json

    files, problems = find_reports(paths)
    for p in problems:
        _bad("stats", p)
    if not files:
        _bad("stats", f"no report files in {', '.join(map(str, paths))}")
        raise typer.Exit(2)
    from nianbao.app.progress import Bar

    with Bar("stats", len(files), console=err) as bar:
        stats = collect(files, workers=max(1, workers), cpu_limit=timeout or None, advance=bar.advance)
    if as_json:
        sys.stdout.write(json.dumps(to_json(stats), ensure_ascii=False, indent=1) + "\n")
    else:
        wide = None if sys.stdout.isatty() else 160  # a log or a pipe: keep report names whole
        print_stats(stats, Console(highlight=False, width=wide), problems_only)
    for s in stats:
        if s.failure is not None:
            _bad(s.name, s.failure)


@eval_app.command("variants")
def variants_cmd(
    raw: Path = typer.Argument(..., help="Folder of real text reports (.txt, .md), e.g. ../shared/reports/dev/raw."),
    gold: Path = typer.Option(..., "--gold", help="Folder of their <stem>.gold.json."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the re-encoded copies (one subfolder each)."),
    variant: list[str] = typer.Option(None, "--variant", help="Only these variants (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print each variant's figures as JSON."),
    fail_under: str | None = typer.Option(None, "--fail-under", help="NAME=VALUE,… every variant must meet."),
) -> None:
    """Re-encode real reports (one line, wrapped, full-width digits, GB18030, HTML…) and score each form
    against the same gold: what the parser reads only because of a file's own line breaks shows here."""
    from nianbao.eval.gates import check_thresholds, parse_thresholds
    from nianbao.eval.harness import find_cases, run_backend
    from nianbao.eval.prices import load_prices
    from nianbao.eval.variants import VARIANTS, write_variants

    try:
        thresholds = parse_thresholds(fail_under) if fail_under else {}
        folders = write_variants(raw, gold, out, variant or None)
    except (ValueError, OSError) as e:
        _bad("eval variants", str(e))
        raise typer.Exit(2) from None
    about = {v.name: v.about for v in VARIANTS}
    prices = load_prices(None)
    summaries: dict[str, dict] = {}
    for name, folder in folders.items():
        cases, problems = find_cases([folder])
        for p in problems:
            _bad(name, p)
        if cases:
            summaries[name] = run_backend("rules", cases, prices).summary
    if as_json:
        sys.stdout.write(json.dumps(summaries, ensure_ascii=False, indent=1) + "\n")
    else:
        from rich.table import Table

        table = Table("variant", "reports", "cells", "meta", "narrative F1", "findings", "false flags", "what")
        for name, s in summaries.items():
            table.add_row(name, str(s["reports"]), f"{s['cells_right']}/{s['cells_total']}",
                          f"{s['meta_accuracy']:.3f}", f"{s['narrative_f1']:.3f}",
                          f"{s['findings_hit']}/{s['findings_expected']}", str(s["false_positives"]), about[name])
        Console(highlight=False, width=None if sys.stdout.isatty() else 160).print(table)
    failures = check_thresholds(summaries, thresholds)
    for f in failures:
        _bad("eval gate", f)
    if failures:
        raise typer.Exit(1)


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

    from nianbao.app.options import limits_from
    from nianbao.app.progress import Bar
    from nianbao.eval.fuzz import render, run_fuzz

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

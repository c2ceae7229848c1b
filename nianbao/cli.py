"""The `nianbao` command.

Exit codes: 0 ok; 1 findings of severity error (only with --fail-on-error); 2 bad input (or, for
`llm`, a model step that failed); 3 `hybrid` kept the rules reading because the model could not be
consulted (unless --allow-fallback).
A bad file gets one line on stderr and the batch goes on.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console

from nianbao import __version__

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Read 政府信息公开工作年度报告: extract every number, flag the ones that contradict.")
err = Console(stderr=True, highlight=False)


class OutputFormat(StrEnum):
    json = "json"
    table = "table"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nianbao {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Show the version and exit.")) -> None:
    """nianbao."""


def _expand(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.is_file() and not q.name.startswith(".")
                              and not q.name.endswith(".gold.json")))
        else:
            out.append(p)
    return out


def _bad(path: object, problem: str) -> None:
    from rich.markup import escape

    # file names and problems are untrusted text: '[x]' in a name must print as written
    err.print(f"[red]error[/red] {escape(str(path))}: {escape(problem)}", markup=True, soft_wrap=True,
              highlight=False)


@app.command()
def extract(
    files: list[Path] = typer.Argument(..., help="Report files or folders (txt, md, html, docx, pdf, images)."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write DIR/<stem>.json per report."),
    backend: str | None = typer.Option(None, "--backend", "-b", help="rules, llm or hybrid (default: hybrid "
                                       "when an LLM endpoint is configured, else rules)."),
    fmt: OutputFormat = typer.Option(OutputFormat.json, "--format", "-f", help="json or a readable table."),
    fail_on_error: bool = typer.Option(False, "--fail-on-error", help="Exit 1 when a finding is an error."),
    provider: str | None = typer.Option(None, "--provider", help="LLM provider preset (nianbao/data/providers.toml)."),
    model: str | None = typer.Option(None, "--model", help="LLM model name sent to the endpoint."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint URL."),
    # -- LLM backends (issue 10): request settings and what a failed model step does to the exit code --
    mode: str | None = typer.Option(None, "--mode", help="How a structured reply is asked for: tools, "
                                    "json_schema, json, json_object_schema or md_json."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", min=1, help="Reply length cap per call "
                                          "(default: by model size, nianbao/data/llm.toml)."),
    token_budget: int | None = typer.Option(None, "--token-budget", min=1, help="Tokens for the whole run."),
    deadline: float | None = typer.Option(None, "--deadline", min=1, help="Seconds for the whole run's model calls."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the reply cache."),
    allow_fallback: bool = typer.Option(False, "--allow-fallback", help="hybrid: exit 0 (not 3) when the "
                                        "model could not be consulted and the rules reading was kept."),
) -> None:
    """Extract every cell and narrative count of each report and check them against the template."""
    from nianbao.extract import IngestError, get_backend
    from nianbao.extract.backends import default_backend
    from nianbao.extract.llm_errors import BackendError
    from nianbao.extract.llm_outcome import RunOutcome
    from nianbao.pipeline import process_file

    backend = backend or default_backend()
    llm_options = {k: v for k, v in {"provider": provider, "model": model, "base_url": base_url, "mode": mode,
                                     "max_tokens": max_tokens, "token_budget": token_budget,
                                     "deadline": deadline, "no_cache": no_cache or None}.items() if v}
    outcome = RunOutcome(backend, allow_fallback=allow_fallback)
    try:
        be = get_backend(backend, **(llm_options if backend != "rules" else {}))
    except (ValueError, RuntimeError) as e:
        _bad("--backend", str(e))
        raise typer.Exit(2) from None
    paths = _expand(files)
    if output:
        output.mkdir(parents=True, exist_ok=True)
    bad = 0
    errors = 0
    results = []
    for i, path in enumerate(paths):
        try:
            ex = process_file(path, be)
        except IngestError as e:
            _bad(e.path, e.problem)
            bad += 1
            continue
        except BackendError as e:  # the model step failed: one line naming why
            _bad(path, str(e))
            bad += 1
            if e.stops_run:  # endpoint down, key refused, budget or deadline spent: later reports would fail too
                outcome.stop(str(e), paths[i + 1:])
                break
            continue
        except Exception as e:  # one report's crash must not stop the batch
            _bad(path, f"extraction failed: {type(e).__name__}: {e}")
            bad += 1
            continue
        outcome.note(path, ex.usage)
        errors += sum(1 for f in ex.findings if f.severity == "error")
        doc = ex.to_contract()
        if output:
            (output / f"{path.stem}.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1), "utf-8")
        if fmt is OutputFormat.table:
            from nianbao.summary import print_summary
            print_summary(ex)
        elif not output:
            results.append(doc)
    if results:
        if len(results) == 1:
            sys.stdout.write(json.dumps(results[0], ensure_ascii=False, indent=1) + "\n")
        else:
            for doc in results:
                sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
    for line in outcome.lines():
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    if bad:
        raise typer.Exit(2)
    if outcome.exit_code() is not None:
        raise typer.Exit(outcome.exit_code())
    if fail_on_error and errors:
        raise typer.Exit(1)


@app.command()
def check(
    files: list[Path] = typer.Argument(..., help="Extraction JSON files (the output contract), e.g. edited."),
    fmt: OutputFormat = typer.Option(OutputFormat.json, "--format", "-f"),
    fail_on_error: bool = typer.Option(False, "--fail-on-error", help="Exit 1 when a finding is an error."),
) -> None:
    """Re-run the rules on extraction JSON (after a hand edit) and print the findings."""
    from nianbao.contract_input import ContractError, read_extraction
    from nianbao.pipeline import check as run_check

    bad = errors = 0
    for path in files:
        try:
            ex = read_extraction(path)  # validated against the output contract: bad input is one line
        except ContractError as e:
            _bad(path, str(e))
            bad += 1
            continue
        ex = run_check(None, ex)
        errors += sum(1 for f in ex.findings if f.severity == "error")
        if fmt is OutputFormat.table:
            from nianbao.summary import print_summary
            print_summary(ex)
        else:
            out = ex.to_contract()
            sys.stdout.write(json.dumps({"report": out["report"], "findings": out["findings"], "cells": out["cells"]},
                                        ensure_ascii=False, indent=1) + "\n")
    if bad:
        raise typer.Exit(2)
    if fail_on_error and errors:
        raise typer.Exit(1)


def _register_rooms() -> None:
    """Commands that live with their room (eval/, review/) register themselves here."""
    from nianbao.eval.cli import register as register_eval
    from nianbao.review.cli import register as register_review

    register_eval(app)
    register_review(app)


_register_rooms()

if __name__ == "__main__":
    app()

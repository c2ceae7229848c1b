"""The `nianbao` command.

Exit codes: 0 ok; 1 findings of severity error (only with --fail-on-error); 2 bad input (or, for
`llm`, a model step that failed); 3 `hybrid` kept the rules reading because the model could not be
consulted (unless --allow-fallback); 130 interrupted. A bad file gets one line on stderr and the
batch goes on. Errors map to exit codes in one place, `main()`, through the error tree in
nianbao/errors.py.

Commands that live with their room (`run`, `export`, `review` in review/, `eval` in eval/) are
imported only when asked for, so `nianbao extract one.txt` does not pay for the web app.
"""

from __future__ import annotations

import hashlib
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from nianbao import __version__
from nianbao.app.options import MEMORY_HELP, TIMEOUT_HELP, WORKERS_HELP, bad, limits_from, say
from nianbao.errors import NianbaoError, one_line

# command → module whose `register(app)` adds it (imported on first use)
LAZY_COMMANDS: dict[str, str] = {
    "run": "nianbao.review.cli",
    "export": "nianbao.review.cli",
    "review": "nianbao.review.cli",
    "eval": "nianbao.eval.cli",
}


class _LazyGroup(TyperGroup):
    """A click group that imports a room's commands on first use (and all of them for --help)."""

    def _room(self, module: str) -> Any:
        import importlib

        scratch = typer.Typer()
        importlib.import_module(module).register(scratch)
        return typer.main.get_group(scratch)

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (NianbaoError, KeyboardInterrupt) as e:
            raise typer.Exit(exit_code_for(e)) from None

    def get_command(self, ctx: Any, name: str) -> Any | None:
        cmd = super().get_command(ctx, name)
        if cmd is not None:
            return cmd
        modules = [LAZY_COMMANDS[name]] if name in LAZY_COMMANDS else sorted(set(LAZY_COMMANDS.values()))
        for module in modules:
            found = self._room(module).get_command(ctx, name)
            if found is not None:
                return found
        return None


app = typer.Typer(cls=_LazyGroup, add_completion=False, no_args_is_help=True,
                  help="Read 政府信息公开工作年度报告: extract every number, flag the ones that contradict.")


class OutputFormat(StrEnum):
    json = "json"
    table = "table"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nianbao {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Show the version and exit.")) -> None:
    """nianbao."""


# ---------------------------------------------------------------- extract


def output_names(files: list[Path], folder: Path) -> dict[int, Path]:
    """One output path per input that no other input of the batch can take.

    `<stem>.json` when the stem is unique; else `<stem>.<ext>.json` (same stem, other kinds); else
    that plus 8 hex digits of the input's full path (same name in different folders).
    """
    def candidates(p: Path) -> list[str]:
        full = os.fsencode(os.path.abspath(p))
        return [f"{p.stem}.json", f"{p.name}.json", f"{p.name}.{hashlib.sha1(full).hexdigest()[:8]}.json"]

    stems: dict[str, int] = {}
    for p in files:
        stems[p.stem] = stems.get(p.stem, 0) + 1
    names: dict[str, int] = {}
    for p in files:
        names[p.name] = names.get(p.name, 0) + 1
    taken: set[str] = set()
    out: dict[int, Path] = {}
    for i, p in enumerate(files):
        options = candidates(p)
        start = 0 if stems[p.stem] == 1 else 1 if names[p.name] == 1 else 2
        for name in options[start:]:
            if name not in taken:
                break
        else:
            name = f"{p.name}.{i}.json"
        taken.add(name)
        out[i] = folder / name
    return out


@app.command()
def extract(
    files: list[Path] = typer.Argument(..., help="Report files or folders (txt, md, html, docx, pdf, images)."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write DIR/<stem>.json per report "
                                       "(names that would collide get the extension, then a path hash)."),
    backend: str | None = typer.Option(None, "--backend", "-b", help="rules, llm or hybrid (default: hybrid "
                                       "when an LLM endpoint is configured, else rules)."),
    fmt: OutputFormat = typer.Option(OutputFormat.json, "--format", "-f", help="json or a readable table."),
    indent: int | None = typer.Option(None, "--indent", min=0, help="Pretty-print JSON with this indent "
                                      "(default: compact)."),
    fail_on_error: bool = typer.Option(False, "--fail-on-error", help="Exit 1 when a finding is an error."),
    provider: str | None = typer.Option(None, "--provider", help="LLM provider preset (nianbao/data/providers.toml)."),
    model: str | None = typer.Option(None, "--model", help="LLM model name sent to the endpoint."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint URL."),
    workers: int | None = typer.Option(None, "--workers", "-w", min=1, help=WORKERS_HELP),
    timeout: float = typer.Option(60.0, "--timeout", help=TIMEOUT_HELP),
    max_memory: str = typer.Option("2G", "--max-memory", help=MEMORY_HELP),
    # -- LLM backends: request settings and what a failed model step does to the exit code --
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
    from functools import partial

    from nianbao.app.pipeline import contract_task, default_workers, isolates, make_backend, model_task
    from nianbao.app.progress import Bar
    from nianbao.app.runner import Runner, StopSignal, expand_inputs, nothing_matched
    from nianbao.extract.backends import default_backend
    from nianbao.extract.llm.outcome import RunOutcome

    limits = limits_from(timeout, max_memory)
    name = backend or default_backend()
    llm_options = {k: v for k, v in {"provider": provider, "model": model, "base_url": base_url, "mode": mode,
                                     "max_tokens": max_tokens, "token_budget": token_budget,
                                     "deadline": deadline, "no_cache": no_cache or None}.items() if v}
    be = make_backend(name, **(llm_options if name != "rules" else {}))
    outcome = RunOutcome(name, allow_fallback=allow_fallback)
    inputs = expand_inputs(files)
    for p, problem in inputs.refused:
        bad(p, problem)
    if not inputs.files:
        if inputs.refused:
            raise typer.Exit(2)
        raise nothing_matched(files)
    paths = inputs.files
    targets = output_names(paths, output) if output else {}
    if output:
        output.mkdir(parents=True, exist_ok=True)
    table = fmt is OutputFormat.table
    task = partial(model_task, backend=be) if table else partial(contract_task, backend=be, indent=indent)
    isolated = isolates(be)
    failed = errors = finished = 0
    seen: set[int] = set()
    ready: dict[int, Any] = {}  # stdout keeps input order: results wait for the files before them
    settled: set[int] = set()  # failed, or written to a file: nothing to print
    next_out = 0
    with StopSignal().installed() as stop, Bar("extract", len(paths)) as bar:
        runner = Runner(task, workers=workers or default_workers(be), limits=limits, isolate=isolated,
                        stop=stop, on_page=lambda i, d, n: bar.working_on(f"{paths[i].name} page {d}/{n}"))
        for out in runner.run(paths):
            finished += 1
            seen.add(out.index)
            bar.advance()
            flight = runner.in_flight()
            bar.working_on(flight[0].name if flight else "")
            if not out.ok:
                failed += 1
                settled.add(out.index)
                bad(out.path, out.problem or "failed")
            elif table:
                from nianbao.models import Extraction

                ex = Extraction.model_validate_json(out.value)
                errors += sum(1 for f in ex.findings if f.severity == "error")
                outcome.note(out.path, ex.usage)
                ready[out.index] = ex
            else:
                text, n_errors, llm_error = out.value
                errors += n_errors
                outcome.note(out.path, {"llm_error": llm_error} if llm_error else {})
                if output:
                    target = targets[out.index]
                    target.write_text(text + "\n", encoding="utf-8")
                    settled.add(out.index)
                    if target.name != f"{out.path.stem}.json":
                        say(f"{out.path} → {target}")
                else:
                    ready[out.index] = text
            while next_out in ready or next_out in settled:
                item = ready.pop(next_out, None)
                settled.discard(next_out)
                if item is not None:
                    _emit(item, table)
                next_out += 1
        for index in sorted(ready):  # interrupted: what was finished is still printed
            _emit(ready.pop(index), table)
    if stop.is_set():
        say(f"interrupted: {len(paths) - finished} of {len(paths)} files not finished")
        raise typer.Exit(130)
    if runner.halted:  # endpoint down, key refused, budget or deadline spent: later reports were not tried
        outcome.stop("", [p for i, p in enumerate(paths) if i not in seen])
    for line in outcome.lines():
        say(line)
    if runner.halted or failed or inputs.refused:
        raise typer.Exit(2)
    if outcome.exit_code() is not None:
        raise typer.Exit(outcome.exit_code())
    if fail_on_error and errors:
        raise typer.Exit(1)


def _emit(item: Any, table: bool) -> None:
    if table:
        from nianbao.app.summary import print_summary

        print_summary(item)
    else:
        sys.stdout.write(item + "\n")


# ---------------------------------------------------------------- check


@app.command()
def check(
    files: list[Path] = typer.Argument(..., help="Extraction JSON files (the output contract), e.g. edited."),
    fmt: OutputFormat = typer.Option(OutputFormat.json, "--format", "-f"),
    fail_on_error: bool = typer.Option(False, "--fail-on-error", help="Exit 1 when a finding is an error."),
    indent: int | None = typer.Option(None, "--indent", min=0, help="Pretty-print JSON (default: compact)."),
) -> None:
    """Re-run the rules on extraction JSON (after a hand edit) and print the findings."""
    from nianbao.app.pipeline import check as run_check
    from nianbao.app.pipeline import dumps
    from nianbao.contract_input import ContractError, read_extraction

    failed = errors = 0
    for path in files:
        try:
            ex = read_extraction(path)  # validated against the output contract: bad input is one line
        except ContractError as e:
            bad(path, str(e))
            failed += 1
            continue
        ex = run_check(None, ex)
        errors += sum(1 for f in ex.findings if f.severity == "error")
        if fmt is OutputFormat.table:
            from nianbao.app.summary import print_summary
            print_summary(ex)
        else:
            out = ex.to_contract()
            sys.stdout.write(dumps({"report": out["report"], "findings": out["findings"], "cells": out["cells"]},
                                   indent) + "\n")
    if failed:
        raise typer.Exit(2)
    if fail_on_error and errors:
        raise typer.Exit(1)


# ---------------------------------------------------------------- the one place errors become exit codes


def exit_code_for(e: BaseException) -> int:
    """Print what the user needs (one line, never a traceback) and return the exit code."""
    if isinstance(e, KeyboardInterrupt):  # a second Ctrl-C while a batch was stopping
        say("interrupted")
        return 130
    if not isinstance(e, NianbaoError):
        raise e
    if e.exit_code == 130:
        say(one_line(e) or "interrupted")
    else:
        bad(getattr(e, "path", "nianbao"), getattr(e, "problem", None) or str(e))
    return e.exit_code


def main(argv: list[str] | None = None) -> None:
    """The console script: the app, with a closed pipe (`nianbao extract … | head`) not an error."""
    try:
        app(args=argv, prog_name="nianbao")
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)


if __name__ == "__main__":
    main()

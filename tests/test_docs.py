"""The docs stay true: every command and option of `nianbao` is documented in the README or in a
document the README links to (review/README.md, DEVELOPERS.md, docs/*.md), and every file path the
README names exists."""

from __future__ import annotations

import re

import click
import typer
from conftest import ROOT

from nianbao.app.cli import app


def _docs() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = re.findall(r"\]\(((?!https?:)[^)#]+\.md)\)", readme)
    return readme + "".join((ROOT / p).read_text(encoding="utf-8") for p in linked if (ROOT / p).is_file())


def _commands():
    group = typer.main.get_group(app)
    ctx = click.Context(group)

    def walk(cmd: click.Command, path: list[str]):
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                yield from walk(cmd.get_command(ctx, name), [*path, name])
        yield path, [o for p in cmd.params for o in p.opts if o.startswith("--") and o != "--help"]

    yield from walk(group, [])


def test_every_command_and_option_is_documented():
    docs = _docs()
    missing = []
    for path, options in _commands():
        command = " ".join(["nianbao", *path])
        if path and command not in docs:
            missing.append(command)
        missing += [f"{command} {o}" for o in options if o not in docs]
    assert not missing, "undocumented: " + "; ".join(missing)


def test_paths_the_readme_names_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:extract|rules|review|eval|app|nianbao|docs|scripts|tests|prompts)/[\w./-]+)`", readme))
    gone = sorted(p for p in named if not (ROOT / p.rstrip("/")).exists())
    assert not gone, gone


def test_ci_runs_the_readmes_test_command():
    """The README sets up with exactly `make demo` and `make test`; CI runs exactly `make test`, with CI set
    so that it runs every test rather than the fast ones."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set up", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in setup.splitlines()] == ["make demo", "make test"]
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    commands = [line for line in lines if line and not line.startswith("#")]
    assert commands[-1] == "make test" and "export CI=true" in commands, commands

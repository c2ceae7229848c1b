"""Prompt templates: plain files in prompts/, versioned in their names (table.v1.md), loaded by name.

A file is a Jinja template; the part before a line of `=====` is the system message, the rest the
user message. The loaded name (e.g. "table.v1") is recorded in every result's usage.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined

SEPARATOR = "\n=====\n"
DEFAULTS = {"table": "table.v2", "narrative": "narrative.v1"}


def prompts_dir() -> Path:
    """NIANBAO_PROMPTS_DIR if set, else the installed `nianbao.prompts` package (the repo's prompts/)."""
    env = os.environ.get("NIANBAO_PROMPTS_DIR")
    if env:
        return Path(env)
    return Path(str(resources.files("nianbao.prompts")))


@dataclass(frozen=True)
class Prompt:
    name: str  # with version, e.g. "table.v1"
    system: str
    user: str

    def messages(self, **values: Any) -> list[dict[str, str]]:
        env = Environment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)
        out = []
        system = env.from_string(self.system).render(**values).strip()
        if system:
            out.append({"role": "system", "content": system})
        out.append({"role": "user", "content": env.from_string(self.user).render(**values).strip()})
        return out


@cache
def load_prompt(name: str) -> Prompt:
    """Load prompts/<name>.md; `name` carries the version ("table.v1")."""
    path = prompts_dir() / f"{name}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise FileNotFoundError(f"prompt {name!r} not found at {path}") from None
    if SEPARATOR in text:
        system, user = text.split(SEPARATOR, 1)
    else:
        system, user = "", text
    system = "\n".join(line for line in system.splitlines() if not line.startswith("{#"))
    return Prompt(name, system, user)

"""The vocabulary and settings nianbao reads (Chinese words, patterns, labels, prices), in one place.

`load("layout")` reads nianbao/data/layout.json or layout.toml once per process. Everything the code
matches on or prints in Chinese lives in these files, so widening a word list is a data change.
"""

from __future__ import annotations

import json
import tomllib
from functools import cache
from importlib import resources
from typing import Any


@cache
def load(name: str) -> Any:
    """The parsed data file `name` (without extension): JSON or TOML, read once."""
    root = resources.files("nianbao.data")
    for ext, parse in ((".json", json.loads), (".toml", tomllib.loads)):
        f = root.joinpath(name + ext)
        if f.is_file():
            return parse(f.read_text(encoding="utf-8"))
    raise FileNotFoundError(f"nianbao/data/{name}.json or .toml")

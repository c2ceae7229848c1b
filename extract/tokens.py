"""The parser's word lists (nianbao/data/layout.json), and the cell separators other readers share."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

CELL_SPLIT = re.compile(r"\t|\||｜|\s{2,}")


@cache
def layout() -> dict:
    return json.loads(resources.files("nianbao.data").joinpath("layout.json").read_text(encoding="utf-8"))

"""What every batch command shares: one-line messages on stderr and the per-file limits' options.

The commands of `nianbao` (app/cli.py) and of the rooms (review/cli.py, eval/cli.py) use these, so
they live below all of them.
"""

from __future__ import annotations

import sys
from typing import Any

from nianbao.errors import InputError, one_line, printable


def bad(path: object, problem: str) -> None:
    """One line on stderr naming the file and the problem (undecodable name bytes shown as \\xNN)."""
    sys.stderr.write(f"error {printable(str(path))}: {one_line(problem)}\n")
    sys.stderr.flush()


def say(text: str) -> None:
    sys.stderr.write(printable(text) + "\n")
    sys.stderr.flush()


# ---------------------------------------------------------------- options the batch commands share

TIMEOUT_HELP = ("Wall-time limit per file in seconds, and as much again for each page of a PDF or image, "
                "since a scanned page needs OCR (0: none).")
MEMORY_HELP = "Memory limit per file, e.g. 2G or 500M (0: none)."
WORKERS_HELP = "Parallel workers (default: every core for rules, 4 for LLM backends)."


def parse_size(text: str) -> int | None:
    """'2G', '500M', '1.5GB' or a number of bytes; 0 means no limit (None)."""
    s = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(s[-1:], 1)
    try:
        n = float(s[:-1] if mult != 1 else s) * mult
    except ValueError:
        raise InputError(f"--max-memory: not a size: {text!r} (e.g. 2G, 500M)") from None
    if n < 0:
        raise InputError("--max-memory: must not be negative")
    return int(n) or None


def limits_from(timeout: float, max_memory: str) -> Any:
    from nianbao.app.runner import Limits

    if timeout < 0:
        raise InputError("--timeout: must not be negative")
    return Limits(timeout=timeout or None, max_memory=parse_size(max_memory))

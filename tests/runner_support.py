"""Small generators of files that misbehave in a batch, and a way to run the real CLI with them.

The hostile readers themselves are the ingest tests' business (tests/test_hostile_inputs.py);
these files make a *worker* misbehave on purpose, whatever the readers become: a report whose
text says HANG sleeps forever, HOG allocates without bound, KILL sends SIGKILL to its own
worker. Everything else is read by the real rules backend.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from nianbao.document import Document
from nianbao.models import Extraction

ROOT = Path(__file__).resolve().parent.parent
MARKERS = ("HANG", "HOG", "KILL")


class MisbehavingBackend:
    """The rules backend, except for the three marker texts."""

    name = "rules"

    def __init__(self) -> None:
        from nianbao.extract import get_backend

        self.rules = get_backend("rules")

    def extract(self, doc: Document) -> Extraction:
        head = doc.text[:20]
        if "HANG" in head:
            time.sleep(3600)
        if "HOG" in head:
            hoard = []
            while True:
                hoard.append(bytearray(64 << 20))  # filled with zeros: resident at once
        if "KILL" in head:
            os.kill(os.getpid(), signal.SIGKILL)
        return self.rules.extract(doc)


def write_misbehaving(folder: Path, *markers: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for m in markers:
        p = folder / f"{m.lower()}.txt"
        # the folder in the text: two of them in one batch are two contents, not one read once
        p.write_text(f"{m} 某县2023年政府信息公开工作年度报告\n一、总体情况\n{folder.name}\n", encoding="utf-8")
        out.append(p)
    return out


# The real CLI, with the misbehaving backend put where `run` and `extract` get theirs.
LAUNCH = """
import sys
sys.path.insert(0, {tests!r})
from runner_support import MisbehavingBackend
import nianbao.app.pipeline, nianbao.review.batch
nianbao.app.pipeline.make_backend = lambda name, **o: MisbehavingBackend()
nianbao.review.batch._backend = lambda name, options: MisbehavingBackend()
from nianbao.app.cli import main
sys.argv = ["nianbao", *sys.argv[1:]]
main()
"""


def cli_with_misbehaving_backend(*args: str) -> list[str]:
    """argv for a subprocess running `nianbao ARGS…` with MisbehavingBackend."""
    return [sys.executable, "-c", LAUNCH.format(tests=str(ROOT / "tests")), *args]

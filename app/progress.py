"""Progress: a hook readers call per page, and the bar every batch command shows.

Readers (OCR, PDF) call `page(done, total)` after each page; it costs nothing unless a runner
installed a hook in the worker, which then forwards the page to the parent's bar. The bar shows
files done of total, the rate, an ETA, and the file(s) being worked on now (not the last one
finished), with the page when a reader reports one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_page_hook: Callable[[int, int], None] | None = None


def set_page_hook(hook: Callable[[int, int], None] | None) -> None:
    """Install (or remove, with None) what `page()` calls; runners do this in their workers."""
    global _page_hook
    _page_hook = hook


def page(done: int, total: int) -> None:
    """A reader finished page `done` of `total` of the file it is reading."""
    if _page_hook is not None:
        try:
            _page_hook(done, total)
        except Exception:  # progress is best effort; it never fails a report
            pass


class Bar:
    """A rich progress bar on stderr: label, bar, n/total, files/s, ETA, elapsed, what is in flight.

    Silent (but still counting) when stderr is not a terminal, so logs and tests stay clean.
    """

    def __init__(self, label: str, total: int, console: Any = None, enabled: bool | None = None) -> None:
        import sys

        self._progress = None
        on = sys.stderr.isatty() if enabled is None and console is None else enabled
        if on is False:  # nothing to draw: rich is not even imported (start-up cost of one-file runs)
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = console or Console(stderr=True, highlight=False)
        on = self.console.is_terminal if enabled is None else enabled
        self._progress = Progress(
            TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TextColumn("ETA"), TimeRemainingColumn(),
            TimeElapsedColumn(), TextColumn("{task.description}"),
            console=self.console, transient=False, disable=not on)
        self._task = self._progress.add_task("", total=total, rate="")

    def __enter__(self) -> Bar:
        if self._progress is not None:
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def advance(self, n: int = 1) -> None:
        if self._progress is None:
            return
        self._progress.advance(self._task, n)
        task = self._progress.tasks[0]
        speed = task.finished_speed or task.speed
        self._progress.update(self._task, rate=f"{speed:.1f}/s" if speed else "")

    def working_on(self, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=text[-60:])

    def print(self, text: str) -> None:
        """A line above the bar (markup off: file names are untrusted text)."""
        if self._progress is None:
            import sys

            from nianbao.errors import printable

            sys.stderr.write(printable(text) + "\n")
            sys.stderr.flush()
            return
        self._progress.console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)

"""What a run's model step came to: the lines a command ends with and the exit code they imply.

- `llm`: a report whose model step failed gets one error line (the command's usual bad-input line)
  and exit 2; an error every later report would meet too (`stops_run`: endpoint down, key refused,
  budget or deadline spent) ends the run, and the last line names the reports not attempted.
- `hybrid`: the parser's reading is kept for such reports; one line per run says for how many the
  model was not consulted and why, and the exit code is 3 unless the user allowed the fallback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

FALLBACK_EXIT = 3
SHOWN = 10  # report names listed in one line before "…"


def _names(paths: list[str]) -> str:
    shown = ", ".join(paths[:SHOWN])
    return shown + (f", … ({len(paths) - SHOWN} more)" if len(paths) > SHOWN else "")


class RunOutcome:
    def __init__(self, backend: str, *, allow_fallback: bool = False) -> None:
        self.backend = backend
        self.allow_fallback = allow_fallback
        self.reports = 0
        self.fallbacks: list[tuple[str, str]] = []  # (report, why the model was not consulted)
        self.not_attempted: list[str] = []
        self.stop_reason: str | None = None

    def note(self, path: Path, usage: dict[str, Any]) -> None:
        """A report that came out: was its model step skipped (hybrid's fallback)?"""
        self.reports += 1
        if usage.get("llm_error"):
            self.fallbacks.append((path.name, str(usage["llm_error"])))

    def stop(self, reason: str, remaining: list[Path]) -> None:
        """The run ends early: `remaining` reports are not attempted."""
        self.stop_reason = reason
        self.not_attempted = [p.name for p in remaining]

    def lines(self) -> list[str]:
        out = []
        if self.fallbacks:
            reasons = list(dict.fromkeys(r for _, r in self.fallbacks))
            more = f" (and {len(reasons) - 1} other reasons)" if len(reasons) > 1 else ""
            out.append(f"{self.backend}: the model was not consulted for {len(self.fallbacks)} of {self.reports} "
                       f"reports ({_names([n for n, _ in self.fallbacks])}): {reasons[0]}{more}; the rules "
                       "readings are kept" + ("" if self.allow_fallback else
                                              f" (exit {FALLBACK_EXIT}; --allow-fallback accepts this)"))
        if self.not_attempted:
            out.append(f"not attempted ({len(self.not_attempted)}): {_names(self.not_attempted)}")
        return out

    def exit_code(self) -> int | None:
        """FALLBACK_EXIT when a fallback was not allowed; None when the model step adds nothing."""
        if self.fallbacks and not self.allow_fallback:
            return FALLBACK_EXIT
        return None

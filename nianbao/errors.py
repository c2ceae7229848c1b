"""One error tree, so the CLI maps failures to exit codes in one place.

Every error nianbao raises on purpose is a `NianbaoError`; its `exit_code` is what the command
exits with when it is the only input (a batch names the file and goes on). `str()` is one line.
"""

from __future__ import annotations


class NianbaoError(Exception):
    """Something nianbao refuses or cannot do; str() is one line meant for the user."""

    exit_code = 1


class InputError(NianbaoError):
    """A file or argument that is not usable input (not a report, unreadable, a FIFO…)."""

    exit_code = 2


class BackendError(NianbaoError):
    """A backend that cannot be used as configured (unknown name, no endpoint, bad options)."""

    exit_code = 2


class StopRun(NianbaoError):
    """Later files would fail the same way (e.g. the token budget is spent): the batch stops."""

    exit_code = 2


class LimitExceeded(NianbaoError):
    """One file went past a limit of the run (wall time, memory) or killed its worker."""

    exit_code = 2

    def __init__(self, limit: str, message: str) -> None:
        self.limit = limit  # "timeout" | "memory" | "crash"
        super().__init__(message)


class Interrupted(NianbaoError):
    """Ctrl-C or SIGTERM: what was finished is kept, the rest is left for the next run."""

    exit_code = 130


def one_line(text: object) -> str:
    """The first line of a message, safe to print whatever bytes a file name carried.

    File names the OS gives as undecodable bytes arrive as lone surrogates (surrogateescape);
    they are shown as \\xNN escapes instead of raising UnicodeEncodeError at print time.
    """
    s = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return printable(s)


def printable(text: str) -> str:
    """`text` with undecodable bytes (surrogate escapes) written as \\xNN."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # surrogates outside the escape range
        return text.encode("utf-8", "backslashreplace").decode("utf-8")

"""In CI a missing required dependency or ../shared is a failure, never a skip.

Locally a contributor without Chromium or ../shared still gets a useful run (those tests skip and
say why); with `CI` set, the same skips fail the run, so a broken CI image cannot pass by skipping.
`tests/conftest.py` imports the hook and `require_dir`; tests/test_eval_ci.py runs them in a real
inner pytest session.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# skip reasons that mean a required dependency or required data is missing
REQUIRED = ("could not import", "no module named", "../shared", "chromium", "fonts-noto-cjk")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_dir(path: Path, what: str) -> Path:
    """`path` if it is a folder; otherwise skip (locally) or fail (in CI) naming `what`."""
    if path.is_dir():
        return path
    message = f"{what} is missing ({path})"
    if in_ci():
        pytest.fail(f"{message}; CI is set, so this is a failure, not a skip", pytrace=False)
    pytest.skip(message)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """Turn a skip for a missing required dependency into a failure when CI is set."""
    outcome = yield
    report = outcome.get_result()
    if not (in_ci() and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if any(word in reason.lower() for word in REQUIRED):
        report.outcome = "failed"
        report.longrepr = f"required dependency missing, and CI is set (a skip here is a failure): {reason}"

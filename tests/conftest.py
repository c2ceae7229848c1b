"""Shared test helpers: where the example reports, gold fixtures and ../shared live.

With `CI` set, a test that would skip because ../shared or a required dependency is missing fails
instead (tests/ci_skips.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ci_skips import pytest_runtest_makereport, require_dir  # noqa: F401  (the hook is registered by name)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "reports"
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = ROOT.parent / "shared"


def seed_names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES.glob("*.txt"))


def load_gold(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.gold.json").read_text(encoding="utf-8"))


@pytest.fixture
def shared_dir() -> Path:
    return require_dir(SHARED, "../shared (seeds, fixtures, dev reports, tools/score.py)")


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def chromium(request: pytest.FixtureRequest):
    """Debian's Chromium driven by Playwright, one browser per test (the browser tests' real part).

    A test using it must be marked `browser`, so that the fast suite (`make test` outside CI) never
    starts a browser."""
    assert request.node.get_closest_marker("browser"), f"{request.node.nodeid} drives Chromium: mark it browser"
    assert CHROMIUM.exists(), "Debian's chromium is required (make system-deps)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()

"""`nianbao eval …` commands (placeholder until the eval harness lands)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the eval commands to the main app."""

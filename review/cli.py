"""`nianbao run`, `nianbao export`, `nianbao review` (placeholder until the store lands)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the store/review commands to the main app."""

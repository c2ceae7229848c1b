"""What an LLM call cost, from the editable price table (nianbao/data/prices.toml or --prices FILE).

Prices are USD per 1,000 tokens, looked up by the model's exact name, then by the longest listed
prefix; unknown models cost 0 so a local model never breaks the eval.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from nianbao.data import load


@cache
def _default_table() -> dict[str, dict[str, float]]:
    return load("prices").get("models", {})


def load_prices(path: Path | None = None) -> dict[str, dict[str, float]]:
    """The price table: the packaged one, or the user's file (same shape: [models."name"])."""
    if path is None:
        return _default_table()
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")).get("models", {})
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"{path}: cannot read price table: {str(e).splitlines()[0]}") from None


def price_for(model: str | None, table: dict[str, dict[str, float]]) -> dict[str, float] | None:
    if not model:
        return None
    if model in table:
        return table[model]
    prefixes = [m for m in table if model.startswith(m)]
    return table[max(prefixes, key=len)] if prefixes else None


def cost_of(usage: dict[str, Any], table: dict[str, dict[str, float]], prefer_table: bool = False) -> float:
    """The cost of one report's calls: the backend's own cost_usd if it gave one, else from tokens.

    With prefer_table (the user passed --prices), tokens are re-priced whenever the model is listed.
    """
    price = price_for(usage.get("model"), table)
    if usage.get("cost_usd") is not None and not (prefer_table and price):
        try:
            return float(usage["cost_usd"])
        except (TypeError, ValueError):
            pass
    if not price:
        return 0.0
    return (int(usage.get("prompt_tokens") or 0) * float(price.get("prompt", 0))
            + int(usage.get("completion_tokens") or 0) * float(price.get("completion", 0))) / 1000

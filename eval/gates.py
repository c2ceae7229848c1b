"""CI gates: --fail-under thresholds and comparison with a committed baseline.

Most figures are better when higher; for the few where lower is better (false positives, seconds,
cost) a --fail-under threshold is read as a ceiling, so one flag serves every figure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LOWER_IS_BETTER = {"false_positives", "reports_with_false_positives", "errors", "seconds_per_report",
                   "seconds_p95", "cost_usd_per_report", "calls_per_report", "prompt_tokens_per_report",
                   "completion_tokens_per_report"}
# figures compared with a baseline: quality only (timings vary from machine to machine)
QUALITY = ("cell_accuracy", "meta_accuracy", "narrative_precision", "narrative_recall", "narrative_f1",
           "finding_recall", "false_positives")


def parse_thresholds(spec: str) -> dict[str, float]:
    """'cell_accuracy=0.99,false_positives=0' → {name: value}; raises ValueError naming the bad part."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, value = part.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--fail-under: {part!r} is not NAME=NUMBER") from None
    return out


def check_thresholds(summaries: dict[str, dict[str, Any]], thresholds: dict[str, float]) -> list[str]:
    """One line per backend figure that misses its threshold."""
    failures = []
    for backend, summary in summaries.items():
        for name, limit in thresholds.items():
            if name not in summary or not isinstance(summary[name], int | float):
                failures.append(f"{backend}: unknown figure {name!r}")
                continue
            value = summary[name]
            if name in LOWER_IS_BETTER:
                if value > limit:
                    failures.append(f"{backend}: {name} = {value:g} > {limit:g}")
            elif value < limit - 1e-12:
                failures.append(f"{backend}: {name} = {value:.4f} < {limit:g}")
    return failures


def load_baseline(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return dict(data["backends"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a baseline (--json output): {str(e).splitlines()[0]}") from None


def deltas(summary: dict[str, Any], base: dict[str, Any]) -> dict[str, tuple[float, bool]]:
    """figure → (current − baseline, dropped?) for the quality figures both have."""
    out = {}
    for name in QUALITY:
        if isinstance(summary.get(name), int | float) and isinstance(base.get(name), int | float):
            d = summary[name] - base[name]
            worse = d > 1e-9 if name in LOWER_IS_BETTER else d < -1e-9
            out[name] = (d, worse)
    return out

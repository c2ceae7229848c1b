"""Settle readings the identities left open with what the prose says.

A digit run such as `1001` for a row can split several ways that all satisfy the table's sums;
when the narrative says 本年新收申请 10 件, only one split agrees. Claims carry a subject
(nianbao/data/subjects.json) naming the cells they should equal.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from nianbao.models import Claim, Extraction


@cache
def subject_cells() -> dict[str, list[str]]:
    data = json.loads(resources.files("nianbao.data").joinpath("subjects.json").read_text(encoding="utf-8"))
    return {k: v["cells"] for k, v in data["subjects"].items()}


def _expected(claims: list[Claim], key: str) -> set[float]:
    out = set()
    for c in claims:
        cells = subject_cells().get(c.subject or "", [])
        if cells == [key] and c.unit != "%":
            out.add(float(c.value))
    return out


def settle_with_narrative(ex: Extraction) -> None:
    """Pick the reading of an ambiguous row that the narrative confirms, when exactly one does."""
    claims = list(ex.narrative) + list(ex.facts)
    for issue in ex.issues:
        if issue.kind != "ambiguous_split" or "row_keys" not in issue.data:
            continue
        keys = issue.data["row_keys"]
        options = issue.data.get("options") or []
        agreeing = []
        for opt in options:
            ok = True
            checked = False
            for k, v in zip(keys, opt, strict=False):
                exp = _expected(claims, k)
                if exp and v is not None:
                    checked = True
                    ok = ok and float(v) in exp
            if checked and ok:
                agreeing.append(opt)
        if len({tuple(o) for o in agreeing}) != 1:
            continue
        for k, v in zip(keys, agreeing[0], strict=False):
            cell = ex.cells.get(k)
            if cell is not None:
                cell.value = v
                cell.note = "split decided by the narrative"
        ex.uncertain = [k for k in ex.uncertain if k not in keys]
        issue.detail += "；正文的数字确定了拆分"
        issue.data["settled_by"] = "narrative"

"""Match printed row labels to the template's rows, tolerant of OCR damage, wrapping and rewording.

The row list and its labels come from the spec (nianbao/spec.py), so a new template version or a
reworded label is a data change. Matching is by containment (the row's label inside the printed
text), fragments (a wrapped piece of the label) and character-bigram similarity (OCR damage).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from nianbao.spec import T3_COLUMNS, rows

ORDINAL = re.compile(r"^[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十\d]{1,3}[)）]|^\d{1,2}[.、．]")
NOISE = re.compile(r"[\s\W_a-zA-Z\d]+", re.UNICODE)


@lru_cache(maxsize=65536)
def clean(text: str) -> str:
    """Label text without numbering, punctuation, spaces, Latin letters or digits."""
    s = re.sub(r"\s+", "", text)
    prev = None
    while prev != s:
        prev = s
        s = ORDINAL.sub("", s)
    return NOISE.sub("", s)


def _bigrams(s: str) -> set[str]:
    return {s[i:i + 2] for i in range(len(s) - 1)} if len(s) > 1 else {s}


@dataclass(frozen=True)
class RowSpec:
    """A row the parser looks for: a template row, or a group label (which holds no values)."""

    id: str  # row path, e.g. "denied.state_secret", or "group:denied"
    table: str
    label: str  # cleaned
    n: int  # number of values the row holds (0 for group labels)
    keys: tuple[str, ...]
    bigrams: frozenset[str]

    @property
    def is_group(self) -> bool:
        return self.id.startswith("group:")


@cache
def row_specs(template: str, table: str) -> tuple[RowSpec, ...]:
    """The rows of one table in printed order, with group labels where the template has them."""
    out: list[RowSpec] = []
    seen_groups: set[str] = set()
    for r in rows(template):
        if r.table != table:
            continue
        if r.parent and r.parent not in seen_groups:
            seen_groups.add(r.parent)
            g = clean(r.parent)
            out.append(RowSpec(f"group:{r.row.split('.')[0]}", table, g, 0, (), frozenset(_bigrams(g))))
        lab = clean(r.label)
        out.append(RowSpec(r.row, table, lab, len(r.fields), tuple(r.keys), frozenset(_bigrams(lab))))
    return tuple(out)


def group_children(template: str, group_id: str) -> list[RowSpec]:
    prefix = group_id.split(":", 1)[1] + "."
    return [s for s in row_specs(template, "t3") if s.id.startswith(prefix)]


def score(text_clean: str, spec: RowSpec) -> float:
    """How well printed (cleaned) label text names this row, 0..1."""
    return _score(text_clean, spec.label)


@lru_cache(maxsize=65536)
def _label_bigrams(label: str) -> frozenset[str]:
    return frozenset(_bigrams(label))


@lru_cache(maxsize=262144)
def _score(text_clean: str, lab: str) -> float:
    if not text_clean or not lab:
        return 0.0
    if len(lab) <= 2 or len(text_clean) <= 2:
        if text_clean == lab:
            return 1.0
        # one garbled character of a two-character label (总汁 for 总计): enough only for the row
        # expected next (row_assign adds that bonus), never for a header word elsewhere
        if len(text_clean) == len(lab) == 2 and (text_clean[0] == lab[0] or text_clean[1] == lab[1]):
            return 0.5
        return 0.0
    if lab in text_clean:
        return 1.0
    if len(text_clean) >= 3 and text_clean in lab:
        return 0.55 + 0.45 * len(text_clean) / len(lab)
    a = _bigrams(text_clean)
    lab_bigrams = _label_bigrams(lab)
    inter = len(a & lab_bigrams)
    dice = 2 * inter / (len(a) + len(lab_bigrams))
    # a damaged label that still carries most of the row's bigrams (prefix of a wrapped label)
    cover = inter / len(lab_bigrams)
    best = max(dice, cover * 0.9 if inter >= 3 else 0.0)
    if best < 0.6 and len(lab) <= 8 and len(text_clean) <= 10:
        # short labels: one garbled character breaks two of three bigrams, so compare characters
        best = max(best, 2 * _lcs(text_clean, lab) / (len(text_clean) + len(lab)))
    return best


def _lcs(a: str, b: str) -> int:
    prev = [0] * (len(b) + 1)
    for ch in a:
        cur = [0]
        for j, bj in enumerate(b):
            cur.append(prev[j] + 1 if ch == bj else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


T3_HEADER_WORDS = ("自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "总计", "申请人情况", "法人或其他组织")


def t3_column_order() -> tuple[str, ...]:
    return T3_COLUMNS

"""Grounding: find every value the model gave in the source text, or say it is not there.

A model's quote is first looked up exactly; failing that, it is aligned on normalised text (NFKC, no
whitespace) with a character-level aligner, since Chinese has no word boundaries and models often
change spaces, tabs or full-width forms. The number itself must then appear inside the located
quote; a number that does not is the model's invention and is never kept as read.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher

NUMBER = re.compile(r"(?<![0-9０-９.．])([0-9０-９]+(?:[.．][0-9０-９]+)?)(?![0-9０-９])")
ORDINAL_AFTER = re.compile(r"\s*[、.．)）](?![0-9０-９])")
FUZZY_MIN = 0.8


@dataclass(frozen=True)
class Located:
    start: int
    end: int
    exact: bool
    score: float  # 1.0 for exact, the alignment ratio otherwise


def normalise(text: str) -> tuple[str, list[int]]:
    """NFKC text without whitespace, with each character's index in the original."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch):
            if c.isspace():
                continue
            out.append(c)
            index.append(i)
    return "".join(out), index


def locate(text: str, needle: str, start: int = 0, end: int | None = None) -> Located | None:
    """Where `needle` sits in text[start:end]: exactly, or by alignment on normalised text."""
    end = len(text) if end is None else end
    if not needle.strip():
        return None
    pos = text.find(needle, start, end)
    if pos >= 0:
        return Located(pos, pos + len(needle), True, 1.0)
    hay, index = normalise(text[start:end])
    pin, _ = normalise(needle)
    if not pin or not hay:
        return None
    pos = hay.find(pin)
    if pos >= 0:
        s, e = index[pos], index[pos + len(pin) - 1] + 1
        return Located(start + s, start + e, False, 1.0)
    best = _align(hay, pin)
    if best is None:
        return None
    s, e, score = best
    return Located(start + index[s], start + index[e - 1] + 1, False, score)


def _align(hay: str, pin: str) -> tuple[int, int, float] | None:
    """Best window of `hay` for `pin`: candidates voted by shared bigrams, scored with difflib."""
    n = len(pin)
    if n < 4:
        return None
    grams: dict[str, list[int]] = {}
    for i in range(len(hay) - 1):
        grams.setdefault(hay[i:i + 2], []).append(i)
    votes: Counter[int] = Counter()
    for j in range(n - 1):
        for p in grams.get(pin[j:j + 2], ()):
            votes[p - j] += 1
    best: tuple[int, int, float] | None = None
    for cand, _ in votes.most_common(8):
        for width in (n, n - n // 10, n + n // 10):
            s = max(0, cand)
            e = min(len(hay), s + width)
            if e <= s:
                continue
            score = SequenceMatcher(None, hay[s:e], pin, autojunk=False).ratio()
            if best is None or score > best[2]:
                best = (s, e, score)
    if best is None or best[2] < FUZZY_MIN:
        return None
    return best


def number_value(raw: str) -> float:
    return float(unicodedata.normalize("NFKC", raw).replace("．", "."))


def numbers_in(text: str, start: int, end: int) -> list[tuple[int, int, float]]:
    """Numbers printed in text[start:end] as (start, end, value), skipping ordinals such as 1. or 2、"""
    out = []
    for m in NUMBER.finditer(text, start, end):
        if ORDINAL_AFTER.match(text, m.end()):
            continue
        out.append((m.start(1), m.end(1), number_value(m.group(1))))
    return out


def find_value(text: str, value: float, start: int, end: int) -> tuple[int, int] | None:
    """The first printed number equal to `value` in text[start:end]."""
    for s, e, v in numbers_in(text, start, end):
        if abs(v - float(value)) < 1e-9:
            return s, e
    return None


@dataclass(frozen=True)
class GroundedValue:
    value: float | int | None
    span: tuple[int, int] | None
    verified: bool
    how: str  # "exact", "aligned", "invented", "evidence not found", "null"


def ground_row(text: str, evidence: str, values: list[tuple[str, float | int | None]],
               window: tuple[int, int] | None = None) -> tuple[Located | None, dict[str, GroundedValue]]:
    """Locate a row's evidence, then each value inside it in printed order."""
    lo, hi = window or (0, len(text))
    where = locate(text, evidence, lo, hi) if evidence else None
    if where is None and window is not None and evidence:
        where = locate(text, evidence)
    out: dict[str, GroundedValue] = {}
    cursor = where.start if where else 0
    for name, value in values:
        if value is None:
            out[name] = GroundedValue(None, None, True, "null")
            continue
        if where is None:
            out[name] = GroundedValue(value, None, False, "evidence not found")
            continue
        hit = find_value(text, value, cursor, where.end)  # cells are printed in column order
        if hit is None:
            out[name] = GroundedValue(value, None, False, "invented")
            continue
        cursor = hit[1]
        out[name] = GroundedValue(value, hit, True, "exact" if where.exact else "aligned")
    return where, out


def ground_quote(text: str, quote: str, value: float,
                 window: tuple[int, int] | None = None) -> tuple[Located | None, tuple[int, int] | None]:
    """Locate a narrative quote and the claimed number inside it (None when the number is not there)."""
    lo, hi = window or (0, len(text))
    where = locate(text, quote, lo, hi) or (locate(text, quote) if window else None)
    if where is None:
        return None, None
    return where, find_value(text, value, where.start, where.end)

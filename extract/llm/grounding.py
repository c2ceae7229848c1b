"""Grounding: find every value the model gave in the source text, where it belongs, or drop it.

A table value counts only when it is printed inside its table's region, inside its row's span when
the parser placed that row, inside the row evidence the model copied, and not inside a date, a phone
number or a document number (2024年1月1日, 0371-63212345, 〔2023〕5号). Row evidence is the row's
numbers as printed (the label may come with them, it need not: table 四's numbers sit on lines of
their own); it is matched with whitespace and full-width forms folded, since models re-space tabs.
Identical evidence printed several times (three rows of "0 0 0 0 0") is told apart by the row's
span, the line the model named, and the template's row order.

Narrative quotes are looked up exactly, then on folded text, then aligned character by character
(difflib), since Chinese has no word boundaries and models change spaces or full-width forms; the
claimed number must be inside the located quote.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cache

from nianbao.data import load

NUMBER = re.compile(r"(?<![0-9０-９.．])([0-9０-９]+(?:[.．][0-9０-９]+)?)(?![0-9０-９])")
ORDINAL_AFTER = re.compile(r"\s*[、.．)）](?![0-9０-９])")
FUZZY_MIN = 0.8
Span = tuple[int, int]


@dataclass(frozen=True)
class Located:
    start: int
    end: int
    exact: bool
    score: float  # 1.0 for exact or folded matches, the alignment ratio otherwise


# ---- text folding ------------------------------------------------------------------------------

def fold(text: str, *, spaces: bool) -> tuple[str, list[int]]:
    """NFKC text with each character's index in the original; whitespace dropped, or with
    `spaces` each whitespace run kept as one space (so "0 0" is never read as "00")."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch):
            if c.isspace():
                if not spaces or (out and out[-1] == " "):
                    continue
                c = " "
            out.append(c)
            index.append(i)
    return "".join(out), index


def find_folded(text: str, needle: str, lo: int = 0, hi: int | None = None) -> list[Span]:
    """Every place of `needle` in text[lo:hi], whitespace runs and full-width forms folded.

    A match never starts or ends inside a longer number (evidence "0 0" is not in "10 0").
    """
    hi = len(text) if hi is None else hi
    pin = fold(needle, spaces=True)[0].strip()
    if not pin:
        return []
    hay, index = fold(text[lo:hi], spaces=True)
    out: list[Span] = []
    pos = hay.find(pin)
    while pos >= 0:
        end = pos + len(pin)
        glued_before = pin[0].isdigit() and pos > 0 and (hay[pos - 1].isdigit() or hay[pos - 1] == ".")
        glued_after = pin[-1].isdigit() and end < len(hay) and hay[end].isdigit()
        if not glued_before and not glued_after:
            out.append((lo + index[pos], lo + index[end - 1] + 1))
        pos = hay.find(pin, pos + 1)
    return out


def locate(text: str, needle: str, start: int = 0, end: int | None = None) -> Located | None:
    """Where `needle` sits in text[start:end]: exactly, folded, or by alignment on normalised text."""
    end = len(text) if end is None else end
    if not needle.strip():
        return None
    pos = text.find(needle, start, end)
    if pos >= 0:
        return Located(pos, pos + len(needle), True, 1.0)
    hay, index = fold(text[start:end], spaces=False)
    pin, _ = fold(needle, spaces=False)
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


# ---- numbers -----------------------------------------------------------------------------------

@cache
def _rules() -> dict:
    return load("llm")["grounding"]


@cache
def _not_a_value() -> re.Pattern[str]:
    """Dates, phone numbers and document numbers: no table value is ever taken from inside one."""
    r = _rules()
    d = "[0-9０-９]"
    units = "".join(re.escape(u) for u in r["date_units"])
    after = "|".join(re.escape(u) for u in r["document_number_after"])
    brackets = "|".join(f"{re.escape(a)}[ \\t]*{d}+[ \\t]*{re.escape(b)}[ \\t]*{d}*[ \\t]*(?:{after})?"
                        for a, b in r["document_brackets"])
    patterns = [
        rf"{d}+[ \t]*[{units}](?:[ \t]*{d}+[ \t]*[{units}])*",  # 2024年1月1日, 12月, 31日
        rf"{d}{{4}}[-/.．]{d}{{1,2}}[-/.．]{d}{{1,2}}",  # 2023-12-31, 2023.12.31
        rf"(?<!{d}){d}{{2,5}}(?:[-－]{d}{{3,8}})+(?!{d})",  # 0371-63212345 (checked for length below)
        rf"(?<!{d})1[3-9]{d}{{9}}(?!{d})",  # a mobile number
        brackets,  # 〔2023〕5号, [2023]12号
        rf"{d}+[ \t]*(?:{after})",  # 5号
    ]
    return re.compile("|".join(f"(?:{p})" for p in patterns))


def excluded_spans(text: str, start: int, end: int) -> list[Span]:
    """The dates, phone numbers and document numbers around text[start:end]."""
    lo, hi = max(0, start - 12), min(len(text), end + 12)
    out = []
    n = int(_rules()["phone_min_digits"])
    for m in _not_a_value().finditer(text, lo, hi):
        s = m.group(0)
        if ("-" in s or "－" in s) and not re.search(r"[年月日号]", s) and sum(ch.isdigit() for ch in s) < n:
            continue  # a short range such as 1-12 is not a phone number
        out.append((m.start(), m.end()))
    return out


def number_value(raw: str) -> float:
    return float(unicodedata.normalize("NFKC", raw).replace("．", "."))


def numbers_in(text: str, start: int, end: int, *, quantities_only: bool = False) -> list[tuple[int, int, float]]:
    """Numbers printed in text[start:end] as (start, end, value), skipping ordinals such as 1. or 2、

    With `quantities_only`, numbers inside a date, a phone number or a document number are skipped too.
    """
    out = []
    skip = excluded_spans(text, start, end) if quantities_only else []
    for m in NUMBER.finditer(text, start, end):
        if ORDINAL_AFTER.match(text, m.end()):
            continue
        s, e = m.start(1), m.end(1)
        if any(a <= s and e <= b for a, b in skip):
            continue
        out.append((s, e, number_value(m.group(1))))
    return out


def find_value(text: str, value: float, start: int, end: int, *,
               quantities_only: bool = False) -> tuple[int, int] | None:
    """The first printed number equal to `value` in text[start:end]."""
    for s, e, v in numbers_in(text, start, end, quantities_only=quantities_only):
        if abs(v - float(value)) < 1e-9:
            return s, e
    return None


# ---- rows and quotes ---------------------------------------------------------------------------

@dataclass(frozen=True)
class GroundedValue:
    value: float | int | None
    span: tuple[int, int] | None
    verified: bool
    how: str  # "exact", "aligned", "invented", "evidence not found", "outside its row", "null"


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def place_evidence(text: str, evidence: str, region: Span, *, row: Span | None = None,
                   line: Span | None = None, cursor: int | None = None,
                   fuzzy: bool = True) -> Located | None:
    """Where the row evidence sits inside the table's region.

    Among several places: the one on the row's span, then on the line the model named at or after
    the previous row, then the first at or after the previous row (rows are printed in template
    order), then the first. Without a folded match, an alignment inside the row span (or region).
    """
    if not evidence.strip():
        return None
    places = find_folded(text, evidence, region[0], region[1])
    if places:
        ranked = [
            [p for p in places if row and _overlaps(p, row) and (cursor is None or p[0] >= cursor)],
            [p for p in places if row and _overlaps(p, row)],
            [p for p in places if line and line[0] <= p[0] < line[1] and (cursor is None or p[0] >= cursor)],
            [p for p in places if line and line[0] <= p[0] < line[1]],
            [p for p in places if cursor is not None and p[0] >= cursor],
            places,
        ]
        if row:  # a row the parser placed: only places on it count
            ranked = ranked[:2]
        for group in ranked:
            if group:
                s, e = group[0]
                return Located(s, e, text[s:e] == evidence, 1.0)
        return None
    if not fuzzy:
        return None
    lo, hi = row if row else region
    lo, hi = max(lo, region[0]), min(hi, region[1])
    return locate(text, evidence, lo, hi) if hi > lo else None


def ground_row(text: str, evidence: str, values: list[tuple[str, float | int | None]],
               region: Span | None = None, *, row: Span | None = None, line: Span | None = None,
               cursor: int | None = None) -> tuple[Located | None, dict[str, GroundedValue]]:
    """Locate a row's evidence in the region, then each value inside it (and its row) in printed order."""
    region = region or (0, len(text))
    where = place_evidence(text, evidence, region, row=row, line=line, cursor=cursor)
    out: dict[str, GroundedValue] = {}
    pos = where.start if where else 0
    lo = max(where.start, row[0]) if where and row else (where.start if where else 0)
    hi = min(where.end, row[1]) if where and row else (where.end if where else 0)
    pos = max(pos, lo)
    for name, value in values:
        if value is None:
            out[name] = GroundedValue(None, None, True, "null")
            continue
        if where is None:
            out[name] = GroundedValue(value, None, False, "evidence not found")
            continue
        hit = find_value(text, value, pos, hi, quantities_only=True)  # cells are printed in column order
        if hit is None:
            in_evidence = find_value(text, value, where.start, where.end, quantities_only=True)
            out[name] = GroundedValue(value, None, False, "outside its row" if in_evidence else "invented")
            continue
        pos = hit[1]
        out[name] = GroundedValue(value, hit, True, "exact" if where.score == 1.0 else "aligned")
    return where, out


def ground_quote(text: str, quote: str, value: float,
                 window: tuple[int, int] | None = None) -> tuple[Located | None, tuple[int, int] | None]:
    """Locate a narrative quote and the claimed number inside it (None when the number is not there)."""
    lo, hi = window or (0, len(text))
    where = locate(text, quote, lo, hi) or (locate(text, quote) if window else None)
    if where is None:
        return None, None
    return where, find_value(text, value, where.start, where.end)

"""What a row prints between its label and the next: numbers, blank cells, and nothing else.

The region between two labels is read character by character, whatever its layout. Line breaks,
tabs, pipes, U+3000 and space runs are *evidence* about cell boundaries (recorded as the gap before
each piece), never a requirement: a crawler's `713000074` is one piece that the row's readings cut,
`0 1 1 0 2` is five. A number glued in front of text that is no label (`7 政强制`, `16 件`, `4位小数`,
`1.本机关`, `2023年`) is label debris or prose, not a value. Empty cells are blanks only where the
source says so: an empty grid cell (HTML, Word), or an empty field between two values of a tab or
pipe row. Page marks (— 5 —, 第5页) are no values.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import cache

from nianbao.data import load
from nianbao.readings import Piece

CJK = re.compile(r"[\u3400-\u9fff]")
_SKIP_AFTER = "，,、。；;：:.．"
_PIPE_ROW = re.compile(r"(^\s*[|｜])|([|｜]\s*$)|(\s[|｜]\s)")
_FIELD_SEP = re.compile(r"\t|[|｜]|\u3000+| {2,}")
# words: runs of what is neither space, nor CJK (a label glued to a run: 申请9001Oo10), nor a bracket or
# CJK punctuation (情形）2541I3337: the bracket would keep the run from being read as one OCR-damaged number)
_WORD_NO_PIPE = re.compile(r"[^\s\u3000\u3400-\u9fff（）()【】《》〈〉“”‘’\"'，。、；：！？]+")
_PIPE_SPLIT = re.compile(r"[^|｜]+")
_LATIN = re.compile(r"[A-Za-z]")
_PAGE_HINT = re.compile(r"[-—–－_页/／]")
_SPACED_DECIMAL = re.compile(r"(?<![\d.])\d+[.．] \d+(?![\d.])|(?<![\d.])\d+ [.．]\d+(?![\d.])")
MAX_INT_DIGITS = 18  # longer than this is no one cell's value (its digits may still be cut)


@dataclass(slots=True)
class Printed:
    """A piece with where it was printed."""

    piece: Piece
    start: int
    end: int
    raw: str
    repaired: bool = False  # an OCR glyph was read as a digit
    unit: str | None = None  # "yuan" / "wan" when a money unit is printed in the cell


@dataclass(slots=True)
class Debris:
    """A number-like glyph that is not a value: label debris, an ordinal, prose."""

    start: int
    end: int
    raw: str


@cache
def _units() -> tuple[tuple[str, str], ...]:
    """(printed money unit, "wan" or "yuan"), longest first so 万元 is not read as 万."""
    layout = load("layout")
    pairs = [(w, "wan") for w in layout["wan_suffixes"]] + [(w, "yuan") for w in layout["yuan_suffixes"]]
    return tuple(sorted(pairs, key=lambda p: len(p[0]), reverse=True))


@cache
def _number_pattern() -> re.Pattern[str]:
    """A number as printed: sign, digits (thousands commas), decimals, a money unit (OCR glyphs apart)."""
    units = "|".join(re.escape(w) for w, _ in _units())
    return re.compile(r"[+\-－]?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:[.．]\d+)?(?:" + units + ")?")


@cache
def _page_marks() -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in load("layout")["page_marks"]))


@cache
def _cjk_blanks() -> re.Pattern[str]:
    words = sorted((w for w in load("layout")["blank_markers"] if CJK.search(w)), key=len, reverse=True)
    return re.compile(r"(?<![^\s|｜\u3000])(?:" + "|".join(map(re.escape, words)) + r")(?![^\s|｜\u3000])")


@cache
def _ocr_maps() -> tuple[dict[str, str], dict[str, str], frozenset[str]]:
    return load("layout")["ocr_digits"], load("layout")["ocr_digits_alone"], frozenset(load("layout")["blank_markers"])


def _number(raw: str) -> tuple[int | float | None, str, str, str, str | None]:
    """(value, digits, sign, decimal, unit) of a printed number; value None if too long for a cell."""
    unit = None
    s = raw
    for suffix, unit_id in _units():
        if s.endswith(suffix):
            unit = unit_id
            s = s[: -len(suffix)]
            break
    sign = ""
    if s[:1] in "+-－":
        sign = "-" if s[0] in "-－" else "+"
        s = s[1:]
    s = s.replace("．", ".")
    plain = s.replace(",", "")
    whole, _, frac = plain.partition(".")
    decimal = "." + frac if frac else ""
    digits = whole if "," not in s and unit is None else ""
    if unit is not None and "," not in s:
        digits = whole  # 102339.45万元: a run with its unit still cuts like one
    if len(whole) > MAX_INT_DIGITS:
        return None, whole, sign, decimal, unit
    value: int | float = float(whole + decimal) if decimal else int(whole)
    if sign == "-":
        value = -value
    return value, digits, sign, decimal, unit


def _glyph_number(word: str) -> str | None:
    """A word of digits and digit-like OCR glyphs (O000000, 1O, a lone O or l), repaired; else None."""
    if word.isdigit():
        return None
    digits, alone, _ = _ocr_maps()
    if re.search(r"\d", word):
        body = word[1:] if word[:1] in "+-－" else word  # a signed change (-l4) keeps its sign
        if body and all(ch.isdigit() or ch in digits or ch in ".," for ch in body):
            fixed = "".join(digits.get(ch, ch) for ch in word)
            return fixed if _number_pattern().fullmatch(fixed) else None
        return None
    if len(word) <= 3 and all(ch in alone for ch in word):
        return "".join(alone[ch] for ch in word)
    return None


class Lines:
    """Where each line of a text starts, and which lines are tab or pipe rows (computed once per text)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        i = text.find("\n")
        while i >= 0:
            self.starts.append(i + 1)
            i = text.find("\n", i + 1)
        self._kind: dict[int, str] = {}

    def index(self, pos: int) -> int:
        return bisect.bisect_right(self.starts, pos) - 1

    def bounds(self, i: int) -> tuple[int, int]:
        a = self.starts[i]
        b = self.starts[i + 1] - 1 if i + 1 < len(self.starts) else len(self.text)
        return a, b

    def kind(self, i: int) -> str:
        """"tab", "pipe" or "" for line i: what separates its cells, if anything."""
        k = self._kind.get(i)
        if k is None:
            a, b = self.bounds(i)
            line = self.text[a:b]
            if "\t" in line:
                k = "tab"
            elif ("|" in line or "｜" in line) and _PIPE_ROW.search(line) and line.strip() not in "|｜":
                k = "pipe"
            else:
                k = ""
            self._kind[i] = k
        return k


def _gap(between: str, cell_row: bool) -> str:
    if not between:
        return "none"
    if CJK.search(between) or _LATIN.search(between):
        return "text"
    if "\n" in between:
        return "line"
    if _FIELD_SEP.search(between):
        return "cell"
    return "in_cell" if cell_row else "space"


def read_pieces(text: str, start: int, end: int, blanks: tuple[int, ...] = (),
                lines: Lines | None = None, cuts: tuple[int, ...] = (),
                signed: tuple[tuple[int, int], ...] = ()) -> tuple[list[Printed], list[Debris]]:
    """The pieces printed in text[start:end], in order, and the number-like debris among them.

    `blanks`: positions of empty grid cells in the region (from Document.grids). `lines`: the text's
    line table, when the caller reads many regions of one text. `cuts`: positions where one row's
    region ends and the next begins (labels): nothing is read across them, as if each were read alone.
    `signed`: spans of rows with a cell that may be negative (本年增/减); there a minus glued to the
    digits before it (24-2) starts a signed cell instead of making a date or range (2023-01).
    """
    lines = lines or Lines(text)
    rel_cuts = sorted(c - start for c in cuts if start < c < end)
    region = text[start:end]
    work = region
    if _PAGE_HINT.search(region):
        masked = list(region)
        for m in _page_marks().finditer(region):
            for i in range(m.start(), m.end()):
                if not masked[i].isspace():
                    masked[i] = " "
        work = "".join(masked)
    _, _, markers = _ocr_maps()
    found: list[tuple[int, int, str, bool]] = []  # (start, end, kind, repaired): kind num/blank/debris
    # a decimal parted by a space (54. 5, 54 .5) is one number
    joined = [(m.start(), m.end()) for m in _SPACED_DECIMAL.finditer(work)] if " " in work else []
    found.extend((s, e, "num", False) for s, e in joined)
    # blank markers written in CJK (无, 空, 不适用) stand alone between separators
    for m in _cjk_blanks().finditer(work):
        found.append((m.start(), m.end(), "blank", False))
    for ws, we, word in _segment_words(work, start, lines, rel_cuts):
        if joined and any(s <= ws < e for s, e in joined):
            continue
        if word.isdigit():
            found.append((ws, we, "num", False))
            continue
        if word in markers:
            found.append((ws, we, "blank", False))
            continue
        fixed = _glyph_number(word)
        if fixed is not None and not _number_pattern().fullmatch(word):
            found.append((ws, we, "num", True))
            continue
        for m in _number_pattern().finditer(word):
            s, e = ws + m.start(), ws + m.end()
            if m.start() > 0 and word[m.start() - 1].isdigit() and m.group()[0] in "-－" and \
                    not any(a <= start + s < z for a, z in signed):
                found.append((s, e, "debris", False))  # 2023-01: a date or a range, not a signed cell
                continue
            found.append((s, e, "num", False))
    pieces: list[Printed] = []
    debris: list[Debris] = []
    for s, e, kind, repaired in found:
        if kind == "num":
            e = _with_unit(work, e)
        raw = region[s:e]
        limit = rel_cuts[bisect.bisect_right(rel_cuts, s)] if rel_cuts and s < rel_cuts[-1] else len(work)
        if kind == "debris" or (kind == "num" and _is_debris(work, s, e, limit)):
            debris.append(Debris(start + s, start + e, raw))
            continue
        if kind == "blank":
            pieces.append(Printed(Piece(None, blank=True), start + s, start + e, raw))
            continue
        if not repaired and raw.isdigit():
            value = int(raw) if len(raw) <= MAX_INT_DIGITS else None
            pieces.append(Printed(Piece(value, raw), start + s, start + e, raw))
            continue
        fixed = _glyph_number(raw) if repaired else raw.replace(" ", "")
        value, digits, sign, decimal, unit = _number(fixed or raw)
        pieces.append(Printed(Piece(value, digits, sign, decimal), start + s, start + e, raw, repaired, unit))
    pieces.sort(key=lambda p: p.start)
    abs_cuts = tuple(c + start for c in rel_cuts)
    pieces = _with_empty_fields(text, start, end, pieces, blanks, lines, abs_cuts)
    return _with_gaps(text, pieces, lines, abs_cuts), debris


def _with_unit(work: str, e: int) -> int:
    """Take in a money unit printed right after a number (8403万元, 386000元), unless prose follows it."""
    m = _unit_after().match(work, e)
    return m.end() if m else e


@cache
def _unit_after() -> re.Pattern[str]:
    """A money unit (longest first, so 万元 is not read as 万) not followed by CJK prose."""
    units = "|".join(re.escape(w) for w, _ in _units())
    return re.compile(f"(?:{units})" + r"(?![\u3400-\u9fff])")


def _segment_words(work: str, offset: int, lines: Lines, rel_cuts: list[int]) -> list[tuple[int, int, str]]:
    """Words of each region between cuts: no word runs across a label (0000000|2.其他法律)."""
    if not rel_cuts:
        return _words(work, offset, lines)
    bounds = [0] + [c for c in rel_cuts if 0 < c < len(work)] + [len(work)]
    out: list[tuple[int, int, str]] = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        out.extend((ws + a, we + a, word) for ws, we, word in _words(work[a:b], offset + a, lines))
    return out


def _words(work: str, offset: int, lines: Lines) -> list[tuple[int, int, str]]:
    """(start, end, word) of the region's words: pipes part cells only in a pipe row (judged on the
    whole printed line, not the region's slice of it); elsewhere `|` is a glyph (OCR's 1)."""
    if "|" not in work and "｜" not in work:
        return [(m.start(), m.end(), m.group()) for m in _WORD_NO_PIPE.finditer(work)]
    out: list[tuple[int, int, str]] = []
    for m in _WORD_NO_PIPE.finditer(work):
        word = m.group()
        if ("|" in word or "｜" in word) and lines.kind(lines.index(offset + m.start())) == "pipe":
            out.extend((m.start() + sub.start(), m.start() + sub.end(), sub.group())
                       for sub in _PIPE_SPLIT.finditer(word))
            continue
        out.append((m.start(), m.end(), word))
    return out


def _is_debris(work: str, s: int, e: int, n: int) -> bool:
    """A number followed, in its own cell, by text that is no value: 16 件, 4位, 1.本机关, 2023年, 7 政强制.

    `n`: where the number's region ends (what follows it there is the next label, not debris text)."""
    i = e
    while i < n and work[i] in _SKIP_AFTER:
        i += 1
    while i < n and work[i] == " ":
        if i + 1 < n and work[i + 1] == " ":
            return False  # a run of spaces separates cells
        i += 1
    if i >= n:
        return False
    ch = work[i]
    return bool(CJK.match(ch)) or ch in "%％"


def _crosses(cuts: tuple[int, ...], a: int, b: int) -> bool:
    """Whether a region boundary lies between positions a and b."""
    if not cuts:
        return False
    i = bisect.bisect_right(cuts, a)
    return i < len(cuts) and cuts[i] <= b


def _with_empty_fields(text: str, start: int, end: int, pieces: list[Printed], blanks: tuple[int, ...],
                       lines: Lines, cuts: tuple[int, ...] = ()) -> list[Printed]:
    """Blanks where the source states an empty cell: grid cells, or empty fields between two values."""
    extra = [Printed(Piece(None, blank=True), p, p, "") for p in blanks if start <= p <= end]
    for a, b in zip(pieces, pieces[1:], strict=False):
        if _crosses(cuts, a.end, b.start):
            continue
        between = text[a.end:b.start]
        if "\t" not in between and "|" not in between and "｜" not in between:
            continue
        if "\n" in between or CJK.search(between):
            continue
        kind = lines.kind(lines.index(a.end))
        sep = {"tab": "\t", "pipe": "|"}.get(kind)
        if sep is None:
            continue
        fields = between.replace("｜", "|").split(sep)
        # fields[0] ends a's cell and fields[-1] starts b's; the ones between are empty cells
        for k, f in enumerate(fields[1:-1], start=1):
            if not f.strip():
                pos = a.end + len(sep.join(fields[:k])) + 1
                extra.append(Printed(Piece(None, blank=True), pos, pos, ""))
    if not extra:
        return pieces
    return sorted(pieces + extra, key=lambda p: (p.start, p.end))


def _with_gaps(text: str, pieces: list[Printed], lines: Lines, cuts: tuple[int, ...] = ()) -> list[Printed]:
    """Set each piece's gap (what separates it from the one before) and whether text isolates it."""
    gaps = ["start"]  # "start": the first piece of its region
    for a, b in zip(pieces, pieces[1:], strict=False):
        if _crosses(cuts, a.end, b.start):
            gaps.append("start")
            continue
        between = text[a.end:b.start]
        cell_row = bool(between) and between.strip(" ") == "" and lines.kind(lines.index(b.start)) != ""
        gaps.append(_gap(between, cell_row))
    n = len(pieces)
    seg = [0] * n  # pieces in the same region as each piece
    i = 0
    while i < n:
        j = i + 1
        while j < n and gaps[j] != "start":
            j += 1
        for k in range(i, j):
            seg[k] = j - i
        i = j
    for i, p in enumerate(pieces):
        gap = gaps[i]
        nxt = gaps[i + 1] if i + 1 < n and gaps[i + 1] != "start" else "text"
        p.piece.isolated = seg[i] > 1 and nxt == "text" and gap in ("text", "start")
        p.piece.gap = "cell" if gap == "start" else gap
    return pieces

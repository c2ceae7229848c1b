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

import re
from dataclasses import dataclass
from functools import cache

from nianbao.extract.tokens import layout
from nianbao.readings import Piece

_CJK = re.compile(r"[\u3400-\u9fff]")
_SKIP_AFTER = "，,、。；;：:.．"
_PIPE_ROW = re.compile(r"(^\s*[|｜])|([|｜]\s*$)|(\s[|｜]\s)")
_FIELD_SEP = re.compile(r"\t|[|｜]|\u3000+| {2,}")
# words: runs of what is neither space, nor CJK (a label glued to a run: 申请9001Oo10), nor a pipe cell wall
_WORD = re.compile(r"[^\s|｜\u3000\u3400-\u9fff]+")
_WORD_NO_PIPE = re.compile(r"[^\s\u3000\u3400-\u9fff]+")
# a number as printed: sign, digits (thousands commas), decimals, a unit; OCR glyphs are handled apart
_NUMBER = re.compile(r"[+\-－]?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:[.．]\d+)?(?:万元|元|万)?")
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
    unit: str | None = None  # "元" / "万元" printed in the cell


@dataclass(slots=True)
class Debris:
    """A number-like glyph that is not a value: label debris, an ordinal, prose."""

    start: int
    end: int
    raw: str


@cache
def _page_marks() -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in layout()["page_marks"]))


@cache
def _ocr_maps() -> tuple[dict[str, str], dict[str, str], frozenset[str]]:
    return layout()["ocr_digits"], layout()["ocr_digits_alone"], frozenset(layout()["blank_markers"])


def _number(raw: str) -> tuple[int | float | None, str, str, str, str | None]:
    """(value, digits, sign, decimal, unit) of a printed number; value None if too long for a cell."""
    unit = None
    s = raw
    for suffix in ("万元", "元", "万"):
        if s.endswith(suffix):
            unit = "万元" if suffix in layout()["wan_suffixes"] else "元"
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
    digits, alone, _ = _ocr_maps()
    if re.search(r"\d", word):
        if all(ch.isdigit() or ch in digits or ch in ".," for ch in word):
            fixed = "".join(digits.get(ch, ch) for ch in word)
            return fixed if _NUMBER.fullmatch(fixed) else None
        return None
    if len(word) <= 3 and all(ch in alone for ch in word):
        return "".join(alone[ch] for ch in word)
    return None


def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    a = text.rfind("\n", 0, pos) + 1
    b = text.find("\n", pos)
    return a, len(text) if b < 0 else b


def _gap(between: str, cell_row: bool) -> str:
    if not between:
        return "none"
    if _CJK.search(between) or re.search(r"[A-Za-z]", between):
        return "text"
    if "\n" in between:
        return "line"
    if _FIELD_SEP.search(between):
        return "cell"
    return "in_cell" if cell_row else "space"


def read_pieces(text: str, start: int, end: int, blanks: tuple[int, ...] = ()) -> tuple[list[Printed], list[Debris]]:
    """The pieces printed in text[start:end], in order, and the number-like debris among them.

    `blanks`: positions of empty grid cells in the region (from Document.grids).
    """
    region = text[start:end]
    masked = list(region)
    for m in _page_marks().finditer(region):
        for i in range(m.start(), m.end()):
            if not masked[i].isspace():
                masked[i] = " "
    work = "".join(masked)
    _, _, markers = _ocr_maps()
    found: list[tuple[int, int, str, bool]] = []  # (start, end, kind, repaired): kind num/blank/debris
    # a decimal parted by a space (54. 5, 54 .5) is one number
    joined = [(m.start(), m.end()) for m in _SPACED_DECIMAL.finditer(work)]
    for s, e in joined:
        found.append((s, e, "num", False))
    for w in _words(work, text, start):
        if any(s <= w.start() < e for s, e in joined):
            continue
        word = w.group()
        if word in markers:
            found.append((w.start(), w.end(), "blank", False))
            continue
        fixed = _glyph_number(word)
        if fixed is not None and not _NUMBER.fullmatch(word):
            found.append((w.start(), w.end(), "num", True))
            continue
        for m in _NUMBER.finditer(word):
            s, e = w.start() + m.start(), w.start() + m.end()
            if m.start() > 0 and word[m.start() - 1].isdigit() and m.group()[0] in "-－":
                found.append((s, e, "debris", False))  # 2023-01: a date or a range, not a signed cell
                continue
            found.append((s, e, "num", False))
    pieces: list[Printed] = []
    debris: list[Debris] = []
    for s, e, kind, repaired in found:
        raw = region[s:e]
        if kind == "debris" or (kind == "num" and _is_debris(work, s, e)):
            debris.append(Debris(start + s, start + e, raw))
            continue
        if kind == "blank":
            pieces.append(Printed(Piece(None, blank=True), start + s, start + e, raw))
            continue
        fixed = _glyph_number(raw) if repaired else raw.replace(" ", "")
        value, digits, sign, decimal, unit = _number(fixed or raw)
        pieces.append(Printed(Piece(value, digits if len(digits) >= 1 else "", sign, decimal), start + s, start + e,
                              raw, repaired, unit))
    pieces.sort(key=lambda p: p.start)
    pieces = _with_empty_fields(text, start, end, pieces, blanks)
    return _with_gaps(text, pieces), debris


def _words(work: str, text: str, offset: int):
    """Words of the region: pipes part cells only in a pipe row (judged on the whole printed line, not
    the region's slice of it); elsewhere `|` is a glyph (OCR's 1)."""
    pos = 0
    for line in work.split("\n"):
        la, lb = _line_bounds(text, offset + pos)
        full = text[la:lb]
        pipe_row = "\t" not in full and _PIPE_ROW.search(full) and full.strip() not in "|｜"
        pattern = _WORD if pipe_row else _WORD_NO_PIPE
        for m in pattern.finditer(line):
            yield _Shifted(m, pos)
        pos += len(line) + 1


class _Shifted:
    """A match moved by `offset` characters (a line's match as a match of the whole region)."""

    __slots__ = ("_m", "_o")

    def __init__(self, m: re.Match[str], offset: int) -> None:
        self._m, self._o = m, offset

    def start(self) -> int:
        return self._m.start() + self._o

    def end(self) -> int:
        return self._m.end() + self._o

    def group(self) -> str:
        return self._m.group()


def _is_debris(work: str, s: int, e: int) -> bool:
    """A number followed, in its own cell, by text that is no value: 16 件, 4位, 1.本机关, 2023年, 7 政强制."""
    i = e
    n = len(work)
    while i < n and work[i] in _SKIP_AFTER:
        i += 1
    while i < n and work[i] == " ":
        if i + 1 < n and work[i + 1] == " ":
            return False  # a run of spaces separates cells
        i += 1
    if i >= n:
        return False
    ch = work[i]
    return bool(_CJK.match(ch)) or ch in "%％"


def _with_empty_fields(text: str, start: int, end: int, pieces: list[Printed],
                       blanks: tuple[int, ...]) -> list[Printed]:
    """Blanks where the source states an empty cell: grid cells, or empty fields between two values."""
    extra = [Printed(Piece(None, blank=True), p, p, "") for p in blanks if start <= p <= end]
    for a, b in zip(pieces, pieces[1:], strict=False):
        between = text[a.end:b.start]
        if "\n" in between or _CJK.search(between):
            continue
        la, lb = _line_bounds(text, a.end)
        line = text[la:lb]
        sep = "\t" if "\t" in line else ("|" if _PIPE_ROW.search(line) else None)  # tabs win over pipes
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


def _with_gaps(text: str, pieces: list[Printed]) -> list[Printed]:
    out: list[Printed] = []
    prev_end = None
    for i, p in enumerate(pieces):
        if prev_end is None:
            gap = "cell"
        else:
            between = text[prev_end:p.start]
            la, lb = _line_bounds(text, p.start)
            line = text[la:lb]
            cell_row = "\t" in line or bool(_PIPE_ROW.search(line))
            gap = _gap(between, cell_row)
        nxt = "text" if i + 1 >= len(pieces) else _gap(text[p.end:pieces[i + 1].start], False)
        isolated = len(pieces) > 1 and gap in ("text", "cell") and nxt == "text" and (prev_end is None or gap == "text")
        piece = p.piece
        out.append(Printed(Piece(piece.value, piece.digits, piece.sign, piece.decimal, gap, isolated, piece.blank),
                           p.start, p.end, p.raw, p.repaired, p.unit))
        prev_end = p.end
    return out

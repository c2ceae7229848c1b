"""Where the prose is and how it is cut: table regions to skip, clause and sentence boundaries.

Shared by the narrative claims (extract/narrative/claims.py) and the facts (extract/narrative/facts.py). The word
lists live in nianbao/data/narrative.json so that this module reads as the mechanism only.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from functools import cache, lru_cache

from nianbao.data import load
from nianbao.models import Extraction

# a number cell as tables print it: digits, a decimal, or a placeholder for "none"
_CELL = re.compile(r"^(?:[-+]?[0-9０-９]+(?:[.．][0-9０-９]+)?|[/／—\-–无]|[Oo])$")
# three or more bare numbers in a row, separated by single spaces (a PDF's table text)
_NUMBER_RUN = re.compile(
    r"(?<![\w.．])(?:[0-9０-９]+(?:[.．][0-9０-９]+)?[ \u3000]+){2,}[0-9０-９]+(?:[.．][0-9０-９]+)?(?![\w.．])")

CELL_SPLIT = re.compile(r"\t|\||｜|\s{2,}")  # cells a row separates with tabs, pipes or space runs


@cache
def lexicon() -> dict:
    """The extractor's word lists and patterns (nianbao/data/narrative.json)."""
    return load("narrative")


def to_number(raw: str) -> float:
    """A printed number (full-width digits, thousands commas) as a float."""
    s = unicodedata.normalize("NFKC", raw).replace(",", "")
    return float(s)


def as_value(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def _line_kind(line: str) -> str:
    """'blank', 'cell' (one bare number cell), 'row' (several number cells) or 'text'."""
    s = line.strip().strip("|｜").strip()
    if not s:
        return "blank"
    if _CELL.match(s):
        return "cell"
    tokens = [t.strip() for t in CELL_SPLIT.split(s)]
    if sum(1 for t in tokens if t and _CELL.match(t)) >= 2:
        return "row"
    if _NUMBER_RUN.search(s):
        return "row"
    return "text"


def table_ranges(text: str, extraction: Extraction | None = None) -> list[tuple[int, int]]:
    """Spans of `text` that are tables: the parser's table sections, and lines that look like rows.

    A bare number alone on a line counts when a neighbouring line is a cell or a row; a text line
    directly followed by two such cells is a row label of a one-cell-per-line table.
    """
    ranges: list[tuple[int, int]] = []
    if extraction is not None:
        ranges += [tuple(v) for k, v in extraction.sections.items() if k.startswith("table:")]
    return merge(ranges + list(_row_like_ranges(text)))


@lru_cache(maxsize=8)
def _row_like_ranges(text: str) -> tuple[tuple[int, int], ...]:
    """The shape part of table_ranges, cached: claims and facts both ask for the same text.

    Lines that look like rows or cells are tables whole. A line of prose (it ends a sentence, or
    is longer than any printed row) is never masked whole: a crawler can put the whole report on
    one line, so there only the runs of bare numbers themselves (0 1 1 0 2 …) are table.
    """
    ranges: list[tuple[int, int]] = []
    lines: list[tuple[int, int, str]] = []
    pos = 0
    for line in text.split("\n"):
        if _prose_line(line):
            ranges += [(pos + m.start(), pos + m.end()) for m in _NUMBER_RUN.finditer(line)]
            kind = "text"
        else:
            kind = _line_kind(line)
        lines.append((pos, pos + len(line), kind))
        pos += len(line) + 1
    solid = [i for i, (_, _, k) in enumerate(lines) if k != "blank"]
    kinds = [lines[i][2] for i in solid]
    table = [k == "row" for k in kinds]
    for j, k in enumerate(kinds):
        if k != "cell":
            continue
        near = [kinds[x] for x in (j - 1, j + 1) if 0 <= x < len(kinds)]
        if any(n in ("cell", "row") for n in near):
            table[j] = True
    for j, k in enumerate(kinds):
        if k == "text" and j + 2 < len(kinds) and table[j + 1] and table[j + 2] and kinds[j + 1] == "cell":
            table[j] = True
    for j, i in enumerate(solid):
        if table[j]:
            ranges.append((lines[i][0], lines[i][1]))
    return tuple(merge(ranges))


@cache
def _prose_marks() -> re.Pattern[str]:
    return re.compile("[" + re.escape(lexicon()["prose_line_marks"]) + "]")


def _prose_line(line: str) -> bool:
    """A line that holds prose: it ends a sentence somewhere, or is longer than a table row."""
    return len(line) > lexicon()["table_line_max"] or _prose_marks().search(line) is not None


def merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


class Ranges:
    """Fast membership test for positions inside sorted, merged ranges."""

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        self.ranges = merge(ranges)
        self._starts = [s for s, _ in self.ranges]

    def __contains__(self, pos: int) -> bool:
        i = bisect.bisect_right(self._starts, pos) - 1
        return i >= 0 and self.ranges[i][0] <= pos < self.ranges[i][1]


def wrapped(text: str, nl: int) -> bool:
    """Whether the newline at `nl` is a hard wrap inside a sentence (PDF text) rather than a break.

    A wrap follows a long line that does not end a sentence and is followed by more text.
    """
    lex = lexicon()
    line_start = text.rfind("\n", 0, nl) + 1
    line = text[line_start:nl].rstrip()
    nxt = text[nl + 1: nl + 2]
    if double_spaced(text):  # every line followed by a blank one: the blank line is part of the wrap
        if not line and line_start >= 2:  # the newline that ends the blank line: judge the line before it
            before = text.rfind("\n", 0, line_start - 1) + 1
            line = text[before:line_start - 1].rstrip()
        elif nxt == "\n":
            nxt = text[nl + 2: nl + 3]
    if not line or not nxt.strip():
        return False
    return len(line) >= lex["wrapped_line_min"] and line[-1] not in lex["sentence_end"]


@lru_cache(maxsize=8)
def double_spaced(text: str) -> bool:
    """Whether the text puts a blank line after (nearly) every line, as some PDF and Word exports do."""
    lines = text.split("\n")
    printed = [i for i, line in enumerate(lines) if line.strip()]
    if len(printed) < lexicon()["double_spaced_min_lines"]:
        return False
    adjacent = sum(1 for a, b in zip(printed, printed[1:], strict=False) if b == a + 1)
    single_gap = sum(1 for a, b in zip(printed, printed[1:], strict=False) if b == a + 2)
    return adjacent <= 0.1 * len(printed) and single_gap >= 0.8 * (len(printed) - 1)


def clause_start(text: str, pos: int, *, floor: int = 0) -> int:
    """Start of the clause that ends at `pos`: after the last delimiter, never before `floor`.

    Items of a 、 list are told apart by `floor` (where the previous claim's quote ends), so a
    list with one verb keeps it in its first quote. Long clauses are cut at a closing quote or 、.
    """
    lex = lexicon()
    hard = lex["clause_hard"]
    i = pos - 1
    reach = max(floor, pos - 4 * lex["quote_max_before"])  # a clause longer than this is cut anyway
    while i >= reach:
        ch = text[i]
        if ch == "\n":
            if not wrapped(text, i):
                break
        elif ch in hard or ch == "\t" or (ch in " \u3000" and text[i - 1: i] in (" ", "\u3000")):
            break  # a tab or an indent of two spaces (often 　　) opens a paragraph in crawler text
        i -= 1
    start = max(i + 1, floor)
    cap = lex["quote_max_before"]
    if pos - start > cap:
        window = text[pos - cap: pos]
        cut = max(window.rfind(c) for c in "、”\"」》等")
        start = pos - cap + cut + 1 if cut >= 0 else pos - cap
    while start < pos and (text[start].isspace() or text[start] in "-*#>·•" + lex["clause_soft"]):
        start += 1
    lead = re.match(lex["quote_drop_prefix"], text[start:pos])  # 2023 年全区受理… → 全区受理…
    if lead and lead.end() < pos - start:
        start += lead.end()
    return start


@cache
def _sentence_end() -> re.Pattern[str]:
    return re.compile("[" + re.escape(lexicon()["sentence_end"]) + "]")


def sentence_ends(text: str, start: int, end: int) -> list[int]:
    """Positions in text[start:end] that end a sentence: 。；！？ and newlines that are not wraps."""
    return [m.start() for m in _sentence_end().finditer(text, start, end)
            if not (m.group() == "\n" and wrapped(text, m.start()))]


def crosses_break(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] contains a paragraph break (a newline that is not a wrap)."""
    i = text.find("\n", start, end)
    while i != -1:
        if not wrapped(text, i):
            return True
        i = text.find("\n", i + 1, end)
    return False


def repair_digits(text: str) -> str:
    """The text with OCR look-alikes inside numbers read as digits (1O5 → 105, 2l 件 → 21 件).

    Same length as `text`, so offsets still point into the original; only characters between two
    digits, or after a digit and before a counting unit, are touched.
    """
    lex = lexicon()
    table = lex["ocr_digits"]
    units = "|".join(map(re.escape, sorted(lex["units"], key=len, reverse=True)))
    look = "".join(table)
    pat = re.compile(rf"(?<=[0-9０-９])[{look}]+(?=[0-9０-９]|[{look}]*\s*(?:{units}))")
    return pat.sub(lambda m: "".join(table[ch] for ch in m.group(0)), text)

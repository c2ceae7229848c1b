"""Table text → typed tokens with spans: numbers (OCR-repaired), blank markers, label text.

Works on every text layout the same way: a line is split into cells at tabs, pipes and runs of
spaces; a cell that mixes label and numbers ("行政处罚 O", "7 政强制 0", "申请数量230100024") is split
so that numbers after the label are values and numbers glued in front of label text are label
junk (a CJK glyph that OCR read as a digit), never values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

WHITESPACE = re.compile(r"\s")
NON_SPACE = re.compile(r"\S+")
CELL_SPLIT = re.compile(r"\t|\||｜|\s{2,}")
TAB_SPLIT = re.compile(r"\t|\s{2,}")
PIPE_ROW = re.compile(r"(^\s*[|｜])|([|｜]\s*$)|(\s[|｜]\s)")
CJK = re.compile(r"[\u3400-\u9fff]")
NUMBER = re.compile(r"^[+\-－]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
SEPARATOR = re.compile(r"^[-=:_+]{3,}$")
TRAILING_DIGITS = re.compile(
    r"^(.*[\u3400-\u9fff\u3000-\u303f\uff01-\uff0f\u2018-\u201f\"'）)】\]》])\s*([+\-]?[\dOoIl|〇]*\d[\d,.OoIl|〇]*)$")


@cache
def layout() -> dict:
    return json.loads(resources.files("nianbao.data").joinpath("layout.json").read_text(encoding="utf-8"))


@dataclass
class Token:
    kind: str  # "num", "blank", "text", "junk" (a digit glued to label text)
    text: str  # as printed
    start: int
    end: int
    line: int
    value: int | float | None = None
    repaired: bool = False  # an OCR glyph was read as a digit
    unit: str | None = None  # "元" / "万元" when printed in the cell
    # this number and the next were one cell of a tab/pipe row, parted by a space: likely one
    # number with a space inside ("1 4" for 14), not two cells
    joined_next: bool = False

    @property
    def digits(self) -> str:
        """The repaired digit string of a plain integer token ("O000000" → "0000000"), else ""."""
        if self.kind != "num" or self.unit or not isinstance(self.value, int) or self.value < 0:
            return ""
        text = self.text.strip()
        if self.repaired:
            text = "".join(layout()["ocr_digits"].get(ch, ch) for ch in text)
        return text if text.isdigit() else ""


@lru_cache(maxsize=65536)
def parse_number(raw: str) -> tuple[int | float | None, bool, str | None]:
    """(value, repaired, unit) for a cell's text, or (None, False, None) if it is not a number."""
    s = raw.strip()
    if re.fullmatch(r"\d+\.\s+\d+|\d+\s+\.\d+", s):  # a decimal parted by a space: "54. 5"
        s = re.sub(r"\s+", "", s)
    unit = None
    for suffix in sorted(layout()["wan_suffixes"] + layout()["yuan_suffixes"], key=len, reverse=True):
        if s.endswith(suffix) and len(s) > len(suffix):
            unit = "万元" if suffix in layout()["wan_suffixes"] else "元"
            s = s[: -len(suffix)]
            break
    if not s:
        return None, False, None
    repaired = False
    if not NUMBER.match(s):
        if re.search(r"\d", s):
            table = layout()["ocr_digits"]
        elif all(ch in layout()["ocr_digits_alone"] for ch in s) and len(s) <= 3:
            table = layout()["ocr_digits_alone"]
        else:
            return None, False, None
        fixed = "".join(table.get(ch, ch) for ch in s)
        if not NUMBER.match(fixed):
            return None, False, None
        s, repaired = fixed, True
    s = s.replace(",", "").replace("－", "-")
    value: int | float = float(s) if "." in s else int(s)
    return value, repaired, unit


def is_blank_marker(text: str) -> bool:
    return text.strip() in layout()["blank_markers"]


def _cells(line: str) -> list[tuple[str, int]]:
    """(cell text, offset within line) for every non-empty cell.

    Pipes separate cells only in a pipe row; in a tab row or a line of its own, `|` is a glyph
    (OCR's reading of 1).
    """
    out = []
    pos = 0
    splitter = CELL_SPLIT if ("\t" not in line and PIPE_ROW.search(line) and line.strip() not in "|｜") else TAB_SPLIT
    for m in splitter.finditer(line):
        if m.start() > pos:
            out.append((line[pos:m.start()], pos))
        pos = m.end()
    if pos < len(line):
        out.append((line[pos:], pos))
    return [(t, p) for t, p in out if t.strip()]


def _strip_span(text: str, offset: int) -> tuple[str, int, int]:
    lead = len(text) - len(text.lstrip())
    core = text.strip()
    return core, offset + lead, offset + lead + len(core)


def _split_mixed(cell: str, start: int, line_no: int, in_row: bool = False) -> list[Token]:
    """Split a cell holding label text and numbers into tokens (see module docstring).

    `in_row`: the cell is one of several tab/pipe-separated cells, so two numbers inside it are
    more likely one number with a stray space than two cells.
    """
    pieces = [(m.group(), m.start()) for m in NON_SPACE.finditer(cell)]
    # a decimal split by a space: "54. 5", "54 .5"
    i = 0
    while i < len(pieces) - 1:
        a, b = pieces[i][0], pieces[i + 1][0]
        if (re.fullmatch(r"\d+\.", a) and re.fullmatch(r"\d+", b)) or (re.fullmatch(r"\d+", a) and re.fullmatch(r"\.\d+", b)):
            pieces[i:i + 2] = [(cell[pieces[i][1]:pieces[i + 1][1] + len(b)], pieces[i][1])]
            continue
        i += 1
    # numbers glued to the end of label text without a space: 申请数量230100024, 行政许可0
    if len(pieces) >= 1:
        last, off = pieces[-1]
        m = TRAILING_DIGITS.match(last)
        if m and CJK.search(m.group(1)):
            pieces[-1:] = [(m.group(1), off), (m.group(2), off + m.start(2))]
    kinds = []
    for text, _ in pieces:
        value, repaired, unit = parse_number(text)
        kinds.append("num" if value is not None else ("blank" if is_blank_marker(text) else "text"))
    last_text = max((i for i, k in enumerate(kinds) if k == "text"), default=-1)
    tokens = []
    for i, ((text, off), kind) in enumerate(zip(pieces, kinds, strict=True)):
        s, e = start + off, start + off + len(text)
        if i < last_text and kind in ("num", "blank"):
            # a digit before label text in the same cell: label junk such as "<b>7</b> 政强制"; but
            # numbering like "1." stays part of the label because parse_number rejects it
            tokens.append(Token("junk", text, s, e, line_no))
        elif kind == "num":
            value, repaired, unit = parse_number(text)
            tokens.append(Token("num", text, s, e, line_no, value, repaired, unit))
        elif kind == "blank":
            tokens.append(Token("blank", text, s, e, line_no))
        else:
            tokens.append(Token("text", text, s, e, line_no))
    if in_row:
        nums = [t for t in tokens if t.kind == "num"]
        if len(nums) == 2 and len(tokens) == 2:
            nums[0].joined_next = True
    # merge consecutive text pieces back into one label token
    merged: list[Token] = []
    for t in tokens:
        if merged and t.kind == "text" and merged[-1].kind == "text":
            prev = merged[-1]
            merged[-1] = Token("text", cell[prev.start - start:t.end - start], prev.start, t.end, line_no)
        else:
            merged.append(t)
    return merged


def tokenize(text: str, start: int = 0, end: int | None = None) -> list[Token]:
    """Tokens of text[start:end], spans relative to the whole text."""
    end = len(text) if end is None else end
    tokens: list[Token] = []
    pos = start
    line_no = text.count("\n", 0, start)
    for line in text[start:end].split("\n"):
        cells = _cells(line)
        for cell, off in cells:
            core, s, e = _strip_span(cell, off)
            s, e = s + pos, e + pos
            if SEPARATOR.match(core):
                continue
            if WHITESPACE.search(core):  # "4 0 0 0 0 0 4", "行政处罚 O": cells in one run of text
                tokens.extend(_split_mixed(core, s, line_no, in_row=len(cells) > 1 or len(core) <= 6))
                continue
            value, repaired, unit = parse_number(core)
            if value is not None:
                tokens.append(Token("num", core, s, e, line_no, value, repaired, unit))
            elif is_blank_marker(core):
                tokens.append(Token("blank", core, s, e, line_no))
            else:
                tokens.extend(_split_mixed(core, s, line_no))
        pos += len(line) + 1
        line_no += 1
    return tokens

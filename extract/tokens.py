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

CELL_SPLIT = re.compile(r"\t|\||｜|\s{2,}")
CJK = re.compile(r"[\u3400-\u9fff]")
NUMBER = re.compile(r"^[+\-－]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
SEPARATOR = re.compile(r"^[-=:_+]{3,}$")
TRAILING_DIGITS = re.compile(r"^(.*[\u3400-\u9fff）)】\]])\s*([+\-]?[\dOoIl|〇]*\d[\d,.OoIl|〇]*)$")


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


@lru_cache(maxsize=65536)
def parse_number(raw: str) -> tuple[int | float | None, bool, str | None]:
    """(value, repaired, unit) for a cell's text, or (None, False, None) if it is not a number."""
    s = raw.strip()
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
    """(cell text, offset within line) for every non-empty cell."""
    out = []
    pos = 0
    for m in CELL_SPLIT.finditer(line):
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


def _split_mixed(cell: str, start: int, line_no: int) -> list[Token]:
    """Split a cell holding label text and numbers into tokens (see module docstring)."""
    pieces = [(m.group(), m.start()) for m in re.finditer(r"\S+", cell)]
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
        for cell, off in _cells(line):
            core, s, e = _strip_span(cell, off)
            s, e = s + pos, e + pos
            if SEPARATOR.match(core):
                continue
            if re.search(r"\s", core):  # "4 0 0 0 0 0 4", "行政处罚 O": cells in one run of text
                tokens.extend(_split_mixed(core, s, line_no))
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

"""Joining pieces of text the way a reader of Chinese expects: no space between CJK characters.

A table cell's label wraps over several lines (Word paragraphs, PDF lines, OCR boxes); every
reader joins the pieces with this one rule, so the same label comes out the same from any source.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from nianbao.data import load

_WS = re.compile(r"[\t\r\n\u000b\u000c\u00a0\u3000 ]+")


def _is_ascii_word(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def clean(text: str) -> str:
    """Collapse runs of whitespace (tabs and newlines included) into one space, trimmed.

    Tabs and newlines are the Document's own row and cell separators, so they may never appear
    inside a cell or a line's text.
    """
    return _WS.sub(" ", text).strip()


def join(pieces: list[str]) -> str:
    """Join wrapped pieces: a space only where two Latin letters or digits would otherwise touch."""
    out = ""
    for piece in pieces:
        piece = clean(piece)
        if not piece:
            continue
        if out and _is_ascii_word(out[-1]) and _is_ascii_word(piece[0]):
            out += " "
        out += piece
    return out


_RADICALS = re.compile("[\u2e80-\u2fdf\uf900-\ufaff]")


def unify_ideographs(text: str) -> str:
    """Kangxi radicals and compatibility ideographs as the ordinary characters they look like.

    Many PDF fonts map glyphs to U+2F00 "⼀" instead of U+4E00 "一"; a reader sees the same
    character, so the Document must hold the same character.
    """
    if not _RADICALS.search(text):
        return text
    table = _supplement()
    return _RADICALS.sub(lambda m: table.get(m.group()) or unicodedata.normalize("NFKC", m.group()), text)


@cache
def _supplement() -> dict[str, str]:
    return load("cjk_radicals")["map"]

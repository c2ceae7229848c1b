"""Normalise a report's text for the extractor without losing where each character came from.

Every text reader (plain text, HTML, …) passes its decoded text through `normalise`, so the
template parser sees one alphabet: ASCII digits and number punctuation, no stray markup, no
page furniture, LF line ends. Chinese punctuation is kept as printed (quotes must stay exact
substrings), and line structure is never changed beyond dropping furniture lines: the
template parser needs tables (tabs, pipes, one cell per line) as they were printed.

Each step rewrites (text, offsets) together, so `offsets[i]` is always the source index of
text[i]: one to one where a character is unchanged or swapped for one other character, the
start of the original run where a run became something of another length (an entity, a tag).
"""

from __future__ import annotations

import bisect
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from nianbao.data import load
from nianbao.document import Document, Grid, ReaderNote


@dataclass
class Normalised:
    """Normalised text and, per character, its index in the source (plus one end entry), with the
    reader's grids and notes moved to positions in the normalised text."""

    text: str
    offsets: list[int]
    grids: list[Grid] = field(default_factory=list)
    notes: list[ReaderNote] = field(default_factory=list)

    def document(self, name: str, kind: str, source: str, encoding: str | None = None) -> Document:
        return Document(name=name, kind=kind, text=self.text, source=source, offsets=self.offsets,
                        encoding=encoding, grids=self.grids, notes=self.notes)


@dataclass(frozen=True)
class _Config:
    table: dict[str, str]
    mapped: re.Pattern[str]  # any character of `table`: str.translate with a dict costs ~150 ns a character
    invisible: re.Pattern[str]
    tag: re.Pattern[str]
    newline_tags: frozenset[str]
    row_tags: frozenset[str]
    cell_tags: frozenset[str]
    furniture: re.Pattern[str]  # every furniture line pattern, as one alternation
    lone_number_run: int
    furniture_max_line: int


_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_REACH = 2000
_COMMENT = re.compile(r"<!--.{0,4000}?-->", re.DOTALL)
_LONE_NUMBER = re.compile(r"[ \t]*(\d{1,3})[ \t]*")


@lru_cache(maxsize=1)
def _config() -> _Config:
    raw = load("normalise")
    chars, markup, furniture = raw["chars"], raw["markup"], raw["furniture"]
    table: dict[int, str] = {}
    for lo, hi in (("０", "９"), ("Ａ", "Ｚ"), ("ａ", "ｚ")):
        for cp in range(ord(lo), ord(hi) + 1):
            table[cp] = chr(cp - 0xFEE0)
    for ch in chars["fullwidth_punct"]:
        table[ord(ch)] = chr(ord(ch) - 0xFEE0)
    for ch in chars["spaces"]:
        table[ord(ch)] = " "
    names = [*markup["inline"], *markup["newline"], *markup["row"], *markup["cell"]]
    alternation = "|".join(sorted((re.escape(n) for n in names), key=len, reverse=True))
    # <b>, </b>, <br/>, <span style="…">, <o:p></o:p>; attributes may hold quoted '>'
    tag = re.compile(
        rf"<(/?)({alternation})(?=[\s/>])(?:[^<>\"'\n]|\"[^\"\n]*\"|'[^'\n]*')*>",
        re.IGNORECASE,
    )
    return _Config(
        table={chr(cp): ch for cp, ch in table.items()},
        mapped=re.compile("[" + re.escape("".join(chr(cp) for cp in table)) + "]"),
        invisible=re.compile("[" + re.escape(chars["invisible"]) + "]"),
        tag=tag,
        newline_tags=frozenset(n.lower() for n in markup["newline"]),
        row_tags=frozenset(n.lower() for n in markup["row"]),
        cell_tags=frozenset(n.lower() for n in markup["cell"]),
        furniture=re.compile("|".join(f"(?:{p})" for p in furniture["lines"])),
        lone_number_run=int(furniture["lone_number_run"]),
        furniture_max_line=int(furniture["max_line"]),
    )


def _rewrite(text: str, offs: list[int], pattern: re.Pattern[str],
             repl: Callable[[re.Match[str]], str]) -> tuple[str, list[int]]:
    """re.sub that carries the offset map: a same-length replacement maps 1:1, others to the start."""
    parts: list[str] = []
    out: list[int] = []
    pos = 0
    for m in pattern.finditer(text):
        parts.append(text[pos:m.start()])
        out.extend(offs[pos:m.start()])
        new = repl(m)
        if new:
            parts.append(new)
            if len(new) == m.end() - m.start():
                out.extend(offs[m.start():m.end()])
            else:
                out.extend([offs[m.start()]] * len(new))
        pos = m.end()
    if pos == 0:
        return text, offs
    parts.append(text[pos:])
    out.extend(offs[pos:])
    return "".join(parts), out


def _strip_markup(text: str, offs: list[int], cfg: _Config) -> tuple[str, list[int]]:
    """Drop stray tags. Between text, a line-ending tag (<br>, </p>) becomes a newline (a space
    inside a table row), a row tag a newline, and an opening cell tag a TAB."""
    text, offs = _rewrite(text, offs, _COMMENT, lambda m: "")
    skip = re.compile(rf"(?:[ \t\u00a0\u3000]|{cfg.tag.pattern})*", re.IGNORECASE)
    parts: list[str] = []
    out: list[int] = []
    pos = 0
    line_text = line_row = False  # has the current output line text yet, and a cell separator?
    for m in cfg.tag.finditer(text):
        kept = text[pos:m.start()]
        parts.append(kept)
        out.extend(offs[pos:m.start()])
        if "\n" in kept:
            kept = kept[kept.rindex("\n") + 1:]
            line_text = line_row = False
        line_text = line_text or bool(kept.strip())
        line_row = line_row or "\t" in kept or "|" in kept
        pos = m.end()
        name = m.group(2).lower()
        if name in cfg.cell_tags:
            if not m.group(1) and line_text:  # an opening cell tag after text: next cell
                parts.append("\t")
                out.append(offs[m.start()])
                line_row = True
            continue
        if (name not in cfg.newline_tags and name not in cfg.row_tags) or not line_text:
            continue
        after = skip.match(text, m.end()).end()
        if after >= len(text) or text[after] == "\n":
            continue
        nl = text.find("\n", after, after + _REACH)
        rest = text[after: nl if nl >= 0 else after + _REACH]
        # inside a pipe or tab row a <br> separates words of one cell: splitting would break the row
        if name not in cfg.row_tags and (line_row or "\t" in rest or "|" in rest):
            parts.append(" ")
        else:
            parts.append("\n")
            line_text = line_row = False
        out.append(offs[m.start()])
    if pos:
        parts.append(text[pos:])
        out.extend(offs[pos:])
        text = "".join(parts)
        offs = out

    def entity(m: re.Match[str]) -> str:
        return html.unescape(m.group(0))

    return _rewrite(text, offs, _ENTITY, entity)


def _drop_furniture(text: str, offs: list[int], cfg: _Config) -> tuple[str, list[int]]:
    """Remove page-furniture lines (with their line end), keeping every other line untouched."""
    lines = text.split("\n")
    drop: set[int] = set()
    for i, line in enumerate(lines):
        if len(line) > cfg.furniture_max_line:
            continue
        core = line.strip(" ")
        if core and cfg.furniture.fullmatch(core):
            drop.add(i)
    drop |= _page_number_lines(lines, cfg.lone_number_run)
    if not drop:
        return text, offs
    parts: list[str] = []
    out: list[int] = []
    pos = 0
    for i, line in enumerate(lines):
        end = pos + len(line) + (1 if i < len(lines) - 1 else 0)
        if i not in drop:
            parts.append(text[pos:end])
            out.extend(offs[pos:end])
        pos = end
    return "".join(parts), out


def _page_number_lines(lines: list[str], min_run: int) -> set[int]:
    """Lone numbers between blank lines that count up page by page (1, 2, 3 …) down the text.

    A number whose nearest text lines are numbers too is a table cell, not a page number.
    """

    def blank(i: int) -> bool:
        return i < 0 or i >= len(lines) or not lines[i].strip()

    def neighbour(i: int, step: int) -> str:
        j = i + step
        while 0 <= j < len(lines) and not lines[j].strip():
            j += step
        return lines[j].strip() if 0 <= j < len(lines) else ""

    found: list[tuple[int, int]] = []
    for i, line in enumerate(lines):
        m = _LONE_NUMBER.fullmatch(line)
        if not m or not blank(i - 1) or not blank(i + 1):
            continue
        if any(_LONE_NUMBER.fullmatch(neighbour(i, s)) for s in (-1, 1)):
            continue
        found.append((i, int(m.group(1))))
    # chain each candidate to the latest one holding the previous page number
    chains: dict[int, list[int]] = {}  # page number → the longest chain ending with it so far
    keep: set[int] = set()
    for i, n in found:
        chain = [*chains.get(n - 1, []), i]
        chains[n] = chain
        if len(chain) >= min_run:
            keep.update(chain)
    return keep


def normalise(text: str, offsets: list[int] | None = None, source_len: int | None = None, *,
              grids: Sequence[Grid] = (), notes: Sequence[ReaderNote] = ()) -> Normalised:
    """Normalise `text`; `offsets` (default: identity) maps it into a source of `source_len` chars.

    Readers that already moved away from the source (HTML rendering) pass their own map; the
    result's map is the composition, so it always points into the reader's source. With the
    default identity map, `offsets` gives each output character's index in the input text,
    which is what a reader with page boxes (PDF, OCR) needs to move its boxes along.

    `grids` and `notes` hold positions in `text`; they come back at the same characters of the
    normalised text (a position whose character was dropped moves to the next one kept).
    """
    cfg = _config()
    if offsets is not None and len(offsets) < len(text):
        raise ValueError("offsets must have one entry per character of text")
    end = len(text) if source_len is None else source_len
    # every step keeps idx[i] = the index in the input text of out[i]; it never decreases
    n = len(text)
    idx = list(range(n))
    text, idx = _rewrite(text, idx, re.compile(r"\r\n?|\f|\v|\u2028|\u2029"), lambda m: "\n")
    text, idx = _rewrite(text, idx, cfg.invisible, lambda m: "")
    text, idx = _strip_markup(text, idx, cfg)
    table = cfg.table
    text = cfg.mapped.sub(lambda m: table[m.group()], text)  # one char for one: the map is unchanged
    text, idx = _drop_furniture(text, idx, cfg)
    offs = idx if offsets is None else [offsets[k] for k in idx]
    offs.append(end)  # in place: a 50 MB text's map is not copied again

    def new_pos(p: int) -> int:  # idx may now end with `end` (= len(input)): the answer is the same
        return bisect.bisect_left(idx, p)

    return Normalised(text=text, offsets=offs, grids=[g.moved(new_pos) for g in grids],
                      notes=[note.moved(new_pos) for note in notes])

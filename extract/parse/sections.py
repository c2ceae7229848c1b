"""Find the report's section headings 一…六 anywhere in the text, not only at line starts.

A heading is an ordinal (一、 二． 三, …) followed within a few characters by its section's words
(nianbao/data/layout.json: 总体情况, 主动公开, 收到和处理, 行政复议, 问题, 其他需要报告 …); the
section is decided by the words, not the ordinal, because reports renumber (上海: 一、主动公开政府
信息情况 under a 一-六 narrative of their own) and crawlers glue a heading to the text before it
(…的氛围。二、主动公开政府信息情况第二十条…). Of all candidates, the longest run in section order
wins, preferring headings whose ordinal agrees with their words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from nianbao.data import load
from nianbao.extract.parse.settings import SETTINGS

ORDINALS = "一二三四五六"
_CANDIDATE = re.compile(r"(?:第([一二三四五六])部分|([一二三四五六])\s*[、.．,，:：]|([一二三四五六])(?=\s))")
_TAIL_FILLER = re.compile(r"^[\u3400-\u9fff、]*$")
_FILLER = re.compile(r"^[\u3400-\u9fff、\s“”\"（）()]*$")


@dataclass(frozen=True)
class Heading:
    section: str  # "一".."六", by its words
    start: int  # where its ordinal starts
    end: int  # where its words end
    numeral: str  # the ordinal as printed
    boundary: bool = True  # it starts a line or follows punctuation (not glued to a word before it)


@cache
def _cue_re() -> re.Pattern[str]:
    words = sorted({w for v in load("layout")["sections"].values() for w in v["any"]}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, words)))


@cache
def _section_of_cue() -> dict[str, str]:
    out: dict[str, str] = {}
    for section, v in load("layout")["sections"].items():
        for w in v["any"]:
            out.setdefault(w, section)
    return out


def headings(text: str) -> list[Heading]:
    """Every plausible heading, in text order."""
    reach = SETTINGS.heading_reach
    tails = sorted(load("layout")["heading_tails"], key=len, reverse=True)
    glued_after = load("layout")["heading_glued_after"]
    out: list[Heading] = []
    cue_re = _cue_re()
    for m in _CANDIDATE.finditer(text):
        numeral = next(g for g in m.groups() if g)
        after = text[m.end(): m.end() + reach]
        c = cue_re.search(after)
        if not c or not _FILLER.match(after[: c.start()]):
            continue
        section = _section_of_cue()[c.group()]
        end = m.end() + c.end()
        rest = text[end: end + 12]
        if not any(c.group().endswith(t) for t in tails):
            for t in tails:
                i = rest.find(t)
                if 0 <= i and _TAIL_FILLER.match(rest[:i]):
                    end += i + len(t)
                    break
        before = text[m.start() - 1] if m.start() else "\n"
        boundary = not ("\u3400" <= before <= "\u9fff") or any(text.endswith(w, 0, m.start()) for w in glued_after)
        out.append(Heading(section, m.start(), end, numeral, boundary))
    return out


def _in_order(cands: list[Heading]) -> list[Heading]:
    """The longest increasing run of sections (ties: more ordinals that agree with their words)."""
    best: list[tuple[float, int]] = []
    for i, h in enumerate(cands):
        own = (1.0 + (0.25 if h.numeral == h.section else 0.0)) * (1.0 if h.boundary else 0.7)
        score, back = own, -1
        for j in range(i):
            if ORDINALS.index(cands[j].section) < ORDINALS.index(h.section) and best[j][0] + own > score:
                score, back = best[j][0] + own, j
        best.append((score, back))
    if not best:
        return []
    i = max(range(len(best)), key=lambda x: best[x][0])
    chain = []
    while i >= 0:
        chain.append(cands[i])
        i = best[i][1]
    return chain[::-1]


def find_headings(text: str) -> list[Heading]:
    """The section headings of the report, one per section at most, in order."""
    cands = headings(text)
    if len(cands) > 60:  # a pathological text: keep the first of each section
        firsts: dict[str, Heading] = {}
        for h in cands:
            firsts.setdefault(h.section, h)
        cands = sorted(firsts.values(), key=lambda h: h.start)
    return _in_order(cands)


def find_sections(text: str) -> dict[str, tuple[int, int]]:
    """Section ordinal → (start of its heading, start of the next heading or the end of the text)."""
    found = find_headings(text)
    out: dict[str, tuple[int, int]] = {}
    for i, h in enumerate(found):
        end = found[i + 1].start if i + 1 < len(found) else len(text)
        out[h.section] = (h.start, end)
    return out


def heading_end(text: str, start: int) -> int:
    """Where the heading that starts at `start` ends (its words; the rest of the line otherwise)."""
    for h in headings(text[start: start + 80]):
        if h.start == 0:
            return start + h.end
    end = text.find("\n", start)
    return len(text) if end < 0 else end + 1


def table_regions(text: str, sections: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """Where tables 二, 三, 四 lie by their sections' headings (heading end → next heading)."""
    regions: dict[str, tuple[int, int]] = {}
    for table, ordinal in (("t2", "二"), ("t3", "三"), ("t4", "四")):
        if ordinal in sections:
            s, e = sections[ordinal]
            regions[table] = (heading_end(text, s), e)
    return regions

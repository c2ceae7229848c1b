"""Find the report's sections 一…六 and the regions of tables 二, 三 and 四.

Headings are recognised by their ordinal and their words (nianbao/data/layout.json), not by exact
text, because reports reword them (二、行政机关主动公开政府信息情况, `#### 一、总体情况`). Table 三's own
row labels also start with 一、…四、, so a heading must carry its section's words.
"""

from __future__ import annotations

import re

from nianbao.extract.tokens import layout

ORDINALS = "一二三四五六"
HEADING = re.compile(r"^[\s#>*\-]*([一二三四五六])\s*[、.．,，:：\s]\s*(.*)$")


def find_sections(text: str) -> dict[str, tuple[int, int]]:
    """Section ordinal → (start of heading line, end of section) in text, in printed order."""
    cues = layout()["sections"]
    limit = layout()["heading_max_chars"]
    found: list[tuple[str, int]] = []
    pos = 0
    for line in text.split("\n"):
        m = HEADING.match(line)
        if m and len(line.strip()) <= limit:
            ordinal, rest = m.group(1), m.group(2)
            if "\t" not in rest and "|" not in rest and any(w in rest for w in cues[ordinal]["any"]):
                if not any(o == ordinal for o, _ in found):
                    found.append((ordinal, pos))
        pos += len(line) + 1
    out: dict[str, tuple[int, int]] = {}
    for i, (ordinal, start) in enumerate(found):
        end = found[i + 1][1] if i + 1 < len(found) else len(text)
        out[ordinal] = (start, end)
    return out


def heading_end(text: str, start: int) -> int:
    end = text.find("\n", start)
    return len(text) if end < 0 else end + 1


def table_regions(text: str, sections: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """Where to look for tables 二, 三, 四: their sections when headed, else anchored on their labels."""
    regions: dict[str, tuple[int, int]] = {}
    for table, ordinal in (("t2", "二"), ("t3", "三"), ("t4", "四")):
        if ordinal in sections:
            s, e = sections[ordinal]
            regions[table] = (heading_end(text, s), e)
    if "t2" not in regions:
        a = text.find("第二十条")
        if a >= 0:
            end = regions.get("t3", (len(text),))[0]
            b = text.find("本年新收", a)
            regions["t2"] = (a, min(end, b if b > a else len(text)))
    if "t3" not in regions:
        a = text.find("本年新收")
        if a >= 0:
            a = text.rfind("\n", 0, a) + 1
            end = regions.get("t4", (len(text),))[0]
            b = text.find("结转下年度", a)
            if b >= 0:
                nl = text.find("\n", b)
                end = min(end, len(text) if nl < 0 else _after_numbers(text, nl))
            regions["t3"] = (a, end)
    if "t4" not in regions:
        a = text.find("结果维持")
        if a >= 0:
            a = text.rfind("\n", 0, text.rfind("行政复议", 0, a) if "行政复议" in text[:a] else a) + 1
            end = sections.get("五", (len(text),))[0]
            regions["t4"] = (a, end if end > a else len(text))
    return regions


def _after_numbers(text: str, pos: int) -> int:
    """The end of the run of number-only lines starting at pos (one-cell-per-line tables)."""
    while pos < len(text):
        nl = text.find("\n", pos + 1)
        line = text[pos + 1: nl if nl >= 0 else len(text)].strip()
        if line and not re.fullmatch(r"[\d\s|/\-—]+", line):
            return pos + 1
        if nl < 0:
            return len(text)
        pos = nl
    return len(text)

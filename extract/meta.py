"""The report's agency, year and template version.

Agency and year come from the title ("XX镇2025年政府信息公开工作年度报告", also "2024年XX局…",
split over two lines, or with spaces inside); the template from table 二's column words, which
differ between the 2019 and 2021 versions, with the year as the tie-breaker.
"""

from __future__ import annotations

import re
from collections import Counter

from nianbao.document import Document
from nianbao.extract.tokens import layout
from nianbao.models import Meta

TITLE_WORDS = "政府信息公开工作年度报告"
YEAR = r"((?:19|20)\d{2})"


def _squash(s: str) -> str:
    return re.sub(r"[\s#*>]+", "", s)


def _title(text: str) -> tuple[str, int] | None:
    """The title (possibly joined from its first lines) and where it starts."""
    lines = [(m.group(), m.start()) for m in re.finditer(r"[^\n]+", text[:3000])]
    for i, (line, pos) in enumerate(lines[:15]):
        sq = _squash(line)
        if "年度报告" in sq or "年报" in sq:
            if not re.search(YEAR, sq) or len(sq) < 14:
                prev = _squash(lines[i - 1][0]) if i > 0 else ""
                nxt = _squash(lines[i + 1][0]) if i + 1 < len(lines) else ""
                if prev and len(prev) <= 30 and "报告" not in prev:
                    return prev + sq, lines[i - 1][1]
                if nxt and len(nxt) <= 12 and re.search(YEAR, nxt):
                    return sq + nxt, pos
            return sq, pos
    return None


def read_year(text: str, title: str | None) -> int | None:
    if title:
        m = re.search(YEAR + r"年", title)
        if m:
            return int(m.group(1))
    m = re.search(r"自" + YEAR + r"年1月1日", text.replace(" ", ""))
    if m:
        return int(m.group(1))
    years = Counter(int(y) for y in re.findall(YEAR + r"\s*年", text[:5000]))
    return years.most_common(1)[0][0] if years else None


def read_agency(text: str, title: str | None) -> str | None:
    if title:
        t = re.sub(r"[（(].*?[)）]", "", title)
        for pattern in (r"^(.+?)" + YEAR + r"年度?", r"^" + YEAR + r"年度?(.+?)政府信息公开"):
            m = re.search(pattern, t)
            if m:
                name = m.group(1) if not m.group(1).isdigit() else m.group(2)
                name = name.strip(" ：:，,")
                for word in layout()["agency_strip"]:
                    if name.startswith(word):
                        name = name[len(word):]
                    if name.endswith(word):
                        name = name[: -len(word)]
                if len(name) >= 2 and not name.isdigit():
                    return name
    m = re.search(r"(?:本报告由|根据)([\u4e00-\u9fff]{2,20}?(?:人民政府|政府|镇|乡|街道办事处|街道|局|委员会|办公室))", text)
    return m.group(1) if m else None


def read_template(text: str, year: int | None) -> str | None:
    """"2019" or "2021": the version whose table 二 words the report prints; the year decides ties."""
    cues = layout()["template_cues"]
    flat = _squash(text)
    score = {v: sum(1 for w in words if w in flat) for v, words in cues.items()}
    if score["2019"] > score["2021"]:
        return "2019"
    if score["2021"] > score["2019"]:
        return "2021"
    if any(w in flat for w in layout()["t3_sub_row_cues_2021"]):
        return "2021"
    if year is None:
        return None
    return "2019" if year <= 2020 else "2021"


def read_meta(doc: Document) -> Meta:
    found = _title(doc.text)
    title = found[0] if found else None
    year = read_year(doc.text, title)
    return Meta(agency=read_agency(doc.text, title), year=year, template=read_template(doc.text, year))

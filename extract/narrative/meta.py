"""The report's agency, year and template version, read the way real pages print them.

The title is found wherever it stands near the top: after a crawler's `标题:` header, as the last
step of a breadcrumb, split over two or three lines by a PDF conversion, truncated by a crawler
(`…年度报...`), or, for a web page, in its `<title>`. Agency and year come from the title; a title
without an agency falls back to a 来源/发布机构 line, 本报告由…编制 or the signature above the
closing date, and a title without a year to the 统计期限 sentence. A sentence is never an agency.
The template comes from table 二's column words (2019 and 2021 word them differently), with the
year as the tie-breaker. Patterns and word lists: nianbao/data/meta.json.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from functools import cache, lru_cache
from itertools import chain

from nianbao.data import load
from nianbao.document import Document
from nianbao.models import Meta

__all__ = ["read_meta", "read_title", "read_year", "read_agency", "read_template"]


@cache
def _words() -> dict:
    return load("meta")


@cache
def _re(name: str) -> re.Pattern[str]:
    return re.compile(_words()[name])


_SPACE = re.compile(r"[\s#*>\u3000]+")


@lru_cache(maxsize=8)  # the whole text is squashed by several readers of one report: once is enough
def _squash(s: str) -> str:
    return _SPACE.sub("", s)


def _year_of(text: str) -> int | None:
    """The first year a title names: 2023年, 2023 年度, 二〇二三年."""
    text = _squash(text)
    m = _re("year").search(text)
    cn = _re("cn_year").search(text)
    if cn and (m is None or cn.start() < m.start()):
        digits = _words()["cn_digits"]
        return int("".join(str(digits[ch]) for ch in cn.group(1)))
    return int(m.group(1)) if m else None


def _clean_line(line: str) -> str:
    """A head line without a crawler's `标题:` prefix and without the breadcrumb steps before the title."""
    s = _re("header_prefix").sub("", line.strip())
    parts = [p for p in _re("breadcrumb_split").split(s) if p.strip()]
    if len(parts) > 1:
        with_cue = [p for p in parts if _re("title_cue").search(_squash(p))]
        s = with_cue[-1] if with_cue else parts[-1]
    return _squash(s)


def _is_titleish(s: str) -> bool:
    return bool(s) and len(s) <= _words()["title_line_max"] and not _re("title_not").search(s)


def _head_lines(text: str) -> Iterator[str]:
    """The first non-empty lines of the text, cleaned of header prefixes and breadcrumbs, lazily.

    A line longer than any title (a crawler that joined the whole page into one line) is read as the
    pieces its spaces part, so `标题: …年度报告 发布时间: …` still yields the title on its own."""
    w = _words()
    n = 0
    for raw in text[: w["head_chars"]].split("\n"):
        pieces = raw.split() if len(raw.strip()) > w["title_line_max"] else [raw]
        for piece in pieces:
            line = _clean_line(piece) if piece.strip() else ""
            if line:
                yield line
                n += 1
                if n >= w["head_lines"]:
                    return


def _head_titles(text: str) -> Iterator[str]:
    """Titles near the top of the text, in reading order: at each line, the fewest lines holding a
    whole title. A title split over lines starts with a line that holds its year or its cue's first
    word (so `正文` above a split title is not part of it)."""
    w = _words()
    cue, year = _re("title_cue"), _re("year")
    starts = tuple(w["agency_cut"])
    lines: list[str] = []
    more = _head_lines(text)
    for i in range(w["head_lines"]):
        while len(lines) < i + w["title_window_lines"]:
            nxt = next(more, None)
            if nxt is None:
                break
            lines.append(nxt)
        if i >= len(lines):
            return
        for size in range(1, w["title_window_lines"] + 1):
            window = lines[i:i + size]
            if len(window) < size or not all(_is_titleish(x) for x in window):
                break
            if size > 1 and not (year.search(window[0]) or _re("cn_year").search(window[0])
                                 or any(c in window[0] for c in starts)):
                break
            joined = "".join(window)
            if len(joined) > w["title_line_max"]:
                break
            if not cue.search(joined):
                continue
            # a title printed without its agency: the agency often stands on the line above it
            if read_agency_from_title(joined) is None and i > 0 and _is_titleish(lines[i - 1]) \
                    and _ends_like_agency(lines[i - 1]) and _year_of(lines[i - 1]) is None:
                yield lines[i - 1] + joined
            yield joined
            break


def _html_titles(doc: Document) -> Iterator[str]:
    """The parts of an HTML page's <title> (报告标题_栏目_站点) that hold the report's title."""
    if doc.kind != "html" or not doc.source:
        return
    m = re.search(r"<title[^>]*>(.*?)</title>", doc.source[:20000], re.S | re.I)
    if not m:
        return
    for part in _re("html_title_split").split(m.group(1)):
        s = _squash(part)
        if _is_titleish(s) and _re("title_cue").search(s):
            yield s


def read_title(doc: Document) -> str | None:
    """The report's title as printed (whitespace removed); the first naming a year, else the first."""
    first = None
    for title in chain(_head_titles(doc.text), _html_titles(doc)):
        if _year_of(title) is not None:
            return title
        first = first or title
    return first


def read_year(text: str, title: str | None) -> int | None:
    """The statistics year: the title's, else the 统计期限 sentence's, else the commonest in the head."""
    if title:
        year = _year_of(title)
        if year:
            return year
    flat = _squash(text)
    for pattern in _words()["period_year"]:
        m = re.search(pattern, flat)
        if m:
            return int(m.group(1))
    years = Counter(int(y) for y in re.findall(r"(?<!\d)((?:19|20)\d{2})年", _squash(text[:5000])))
    return years.most_common(1)[0][0] if years else None


def _plausible_agency(name: str) -> bool:
    w = _words()
    return bool(re.match(w["agency_chars"], name)) and not any(x in name for x in w["agency_not"])


def _ends_like_agency(name: str) -> bool:
    return _plausible_agency(name) and any(name.endswith(s) for s in _words()["agency_suffixes"])


def _strip_words(name: str) -> str:
    words = _words()["agency_strip"]
    changed = True
    while changed and name:
        changed = False
        for word in words:
            if name.startswith(word):
                name, changed = name[len(word):], True
            if name.endswith(word):
                name, changed = name[: -len(word)], True
    return name


def read_agency_from_title(title: str) -> str | None:
    """What the title names before 政府信息公开, with the year and linking words (关于, 的) taken out."""
    w = _words()
    cut = min((i for i in (title.find(c) for c in w["agency_cut"]) if i >= 0), default=len(title))
    head = title[:cut]
    head = re.sub(r"[（(][^）)]*[）)]$", "", head)  # a trailing （2023年度） or （草稿）
    parts = [p for p in re.split(w["year"] + "度?|" + w["cn_year"] + "度?", head) if p]
    for part in parts:
        name = _strip_words(part)
        if len(name) >= 2 and _plausible_agency(name):
            return name
    return None


def _agency_elsewhere(text: str) -> str | None:
    """No agency in the title: a 来源/发布机构 line near the top, 本报告由…编制, or the signature."""
    w = _words()
    for line in text[: w["head_chars"]].split("\n")[: w["head_lines"]]:
        s = line.strip()
        m = _re("source_prefix").match(s)
        if m:
            name = re.split(r"\s", s[m.end():].strip(), maxsplit=1)[0] if s[m.end():].strip() else ""
            if _ends_like_agency(name):
                return name
    m = _re("made_by").search(_squash(text))
    if m and _ends_like_agency(m.group(1)):
        return m.group(1)
    tail = [_squash(x) for x in text.rstrip().split("\n")[-w["signature_lines"]:]]
    tail = [x for x in tail if x]
    for i in range(len(tail) - 1, 0, -1):
        if _re("signature_date").match(tail[i]) and _ends_like_agency(tail[i - 1]):
            return tail[i - 1]
    return None


def read_agency(text: str, title: str | None) -> str | None:
    if title:
        name = read_agency_from_title(title)
        if name:
            return name
    return _agency_elsewhere(text)


def read_template(text: str, year: int | None) -> str | None:
    """"2019" or "2021": the version whose table 二 words the report prints; the year decides ties."""
    cues = load("layout")["template_cues"]
    flat = _squash(text)
    score = {v: sum(1 for w in words if w in flat) for v, words in cues.items()}
    if score["2019"] > score["2021"]:
        return "2019"
    if score["2021"] > score["2019"]:
        return "2021"
    if any(w in flat for w in load("layout")["t3_sub_row_cues_2021"]):
        return "2021"
    if year is None:
        return None
    return "2019" if year <= 2020 else "2021"


def read_meta(doc: Document) -> Meta:
    title = read_title(doc)
    year = read_year(doc.text, title)
    return Meta(agency=read_agency(doc.text, title), year=year, template=read_template(doc.text, year))

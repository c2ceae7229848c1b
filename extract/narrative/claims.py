"""Quantity claims in the prose: every "N 条/件/场…" a report states outside its tables.

Each claim carries the exact quote (from the start of the clause that names what is counted to
the unit), its span, what kind of thing it counts (published, application, other), the claim it
is a part of (共 N … 其中 a … b …) and, where a table cell holds the same count, its subject
(nianbao/data/subjects.json). The value is the number as printed and a multiplier stays in the
unit (5.1万余人 → 5.1 万人). Dates, clock times, deadlines, document numbers, ordinals, percentages,
money and digit runs beyond any real count are not claims. Table regions are skipped as character
spans (the parser's table spans, and runs of bare numbers), never as whole lines, since a crawler
may put a whole report on one line. Word lists: nianbao/data/narrative.json.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from nianbao.document import Document
from nianbao.extract.narrative.prose import (
    Ranges,
    as_value,
    clause_start,
    crosses_break,
    lexicon,
    repair_digits,
    sentence_ends,
    table_ranges,
    to_number,
    wrapped,
)
from nianbao.models import Claim, Extraction, Truncated

__all__ = ["extract_claims", "extract_facts"]


@dataclass
class _Hit:
    num_start: int  # where the number starts
    unit_end: int  # end of the unit (and of 左右/以上)
    start: int  # quote start
    end: int  # quote end (the unit, or a short noun phrase after it)
    value: int | float
    unit: str
    approx: bool
    subject_kind: str | None  # the kind its subject implies (予以公开 → application)
    cue_kind: str | None  # the kind its clause's words suggest (发布 → published)
    subject: str | None
    total: bool  # its clause carries a total marker (共/总计/…)
    ocr: bool = False  # a look-alike in the number was read as a digit
    lead: str | None = None  # the list verb its clause opens with (主动公开), for the items after it

    @property
    def own_kind(self) -> str | None:
        return self.subject_kind or self.cue_kind
    parent: int | None = None
    kind: str = "other"


@cache
def _number_re() -> re.Pattern[str]:
    """A number and what it counts: 12 件, 5.1万余人, 106万, 3.6万小时, 20余篇, 1,234 条左右.

    A multiplier or a unit must follow; the unit itself is optional after 万/亿 (106万), `_unit` decides.
    A clock time (15:07) and digits glued to letters, dots or hyphens are not counts.
    """
    lex = lexicon()
    units = sorted(lex["units"] + lex["money_units"] + lex["after_multiplier_units"], key=len, reverse=True)
    d = "0-9０-９"
    return re.compile(
        rf"(?<![{d}.．A-Za-z\-])(?<![{d}][:：])"
        rf"(?P<num>[{d}]+(?:,[{d}]{{3}}(?![{d}]))*(?:[.．][{d}]+)?)\s*"
        rf"(?=[{''.join(lex['multipliers'])}]|(?:{'|'.join(lex['approx_after'])})?\s*(?:{'|'.join(map(re.escape, units))}))"
        rf"(?P<mult>[{''.join(lex['multipliers'])}](?!元))?\s*"
        rf"(?P<plus>{'|'.join(lex['approx_after'])})?\s*"
        rf"(?P<unit>{'|'.join(map(re.escape, units))})?"
        rf"(?P<tail>{'|'.join(lex['approx_tail'])})?"
    )


def _unit(m: re.Match[str]) -> str | None:
    """The claim's unit as printed (a multiplier stays in it: 万人, 万), or None if it counts nothing."""
    lex = lexicon()
    mult, unit = m.group("mult") or "", m.group("unit") or ""
    if unit in lex["after_multiplier_units"] and not mult:
        return None  # 24小时: a duration, a count only when it is 3.6万小时
    if not unit and not mult:
        return None
    return mult + unit


def _blocked(text: str, m: re.Match[str]) -> bool:
    """Ordinals, document numbers, deadlines and other numbers that are not counts."""
    lex = lexicon()
    before = text[max(0, m.start() - 4): m.start()].rstrip()
    if any(before.endswith(b) for b in lex["blocked_before"]):
        return True
    end = m.end("unit") if m.group("unit") else m.end("mult")
    after = text[end: end + 4].lstrip()
    unit = m.group("unit") or m.group("mult")
    blocked = lex["blocked_after_unit"]["*"] + lex["blocked_after_unit"].get(unit, [])
    if any(after.startswith(b) for b in blocked if b):
        return True
    # a number and its unit in two paragraphs (时间：15:07 / 本报告…) are not one claim; but a unit that
    # closes its clause (294⏎篇，…) ends the number's sentence rather than opening a paragraph
    closes = text[end:end + 1] in lex["clause_hard"].replace("\n", "") + lex["clause_soft"]
    return not closes and crosses_break(text, m.end("num"), m.start("mult") if m.group("mult") else m.start("unit"))


def _extend(text: str, end: int) -> int:
    """Carry the quote over a short noun phrase after the unit (设立 10 个服务窗口), or over a
    modified one that names what is counted (有 1 件涉及政府信息公开工作的行政复议)."""
    lex = lexicon()
    modified = _modified_noun(text, end)
    if modified is not None:
        return modified
    stop = lex["clause_hard"] + lex["clause_soft"] + lex["extend_stop"]
    j = end
    while j < len(text) and j - end < lex["extend_max"]:
        ch = text[j]
        through = next((w for w in lex["extend_through"] if text.startswith(w, j)), None)
        if through:  # 予以废止: 以 stops a phrase, not inside 予以
            j += len(through)
            continue
        if ch == "\n":
            if not wrapped(text, j):
                break
        elif ch in stop or ch.isdigit() or ch in "０１２３４５６７８９":
            break
        j += 1
    while j > end and text[j - 1].isspace():
        j -= 1
    return j


def _modified_noun(text: str, end: int) -> int | None:
    """End of "涉及…的<noun>" right after the unit, when the rest of the clause is just that."""
    lex = lexicon()
    rest = text[end:end + lex["extend_modified_max"] + 1].lstrip()
    if not any(rest.startswith(w) for w in lex["extend_modifiers"]):
        return None
    j = end
    while j < len(text) and text[j] not in lex["clause_hard"].replace("\n", "") + lex["clause_soft"]:
        if (text[j] == "\n" and not wrapped(text, j)) or text[j].isdigit() or j - end > lex["extend_modified_max"]:
            return None
        j += 1
    return j if "的" in text[end:j] else None


def _masked(context: str) -> str:
    for word in lexicon()["kind_mask"]:
        context = context.replace(word, "")
    return re.sub(r"\s+", "", context)


def _own_kind(context: str) -> str | None:
    """published / application from the clause's own words; None when it has no cue."""
    lex = lexicon()
    masked = _masked(context)
    # 答复网民留言, 办结热线工单: handling something other than a disclosure application
    elsewhere = "申请" not in masked and any(w in masked for w in lex["not_applications"])
    for kind in ("application", "published"):
        if kind == "application" and elsewhere:
            continue
        if any(cue in masked for cue in lex["kind_cues"][kind]):
            return kind
    return None


@cache
def _subject_patterns() -> list[tuple[str, re.Pattern[str], str | None, list[str]]]:
    lex = lexicon()
    return [(e[0], re.compile(e[1]), e[2], lex[e[3]] if len(e) > 3 else []) for e in lex["subjects"]]


def _subject(quote: str, unit: str) -> tuple[str | None, str | None]:
    """Which table cell the claim counts (and the kind that implies), from its own quote's words.

    Two subjects joined by a conjunction count together (予以公开及部分公开 208 件 →
    "granted+partially_granted", the sum of both); otherwise the first pattern that matches wins.
    """
    q = re.sub(r"\s+", "", quote)
    money = unit in lexicon()["money_units"]
    found: list[tuple[int, int, str, str | None]] = []
    first: tuple[str, str | None] | None = None
    for name, pat, kind, unless in _subject_patterns():
        if (name == "fee") != money or not pat.search(q) or any(w in q for w in unless):
            continue
        for m in pat.finditer(q):
            first = first or (name, kind)
            found.append((m.start(), m.end(), name, kind))
    if first is None:
        return None, None
    joined = _joined_subjects(q, found)
    return joined or first


def _joined_subjects(q: str, found: list[tuple[int, int, str, str | None]]) -> tuple[str, str | None] | None:
    """"a+b" when the quote names subject a, a conjunction, then subject b (and nothing else between)."""
    outer = [f for f in found if not any(g != f and g[0] <= f[0] and f[1] <= g[1] and g[1] - g[0] > f[1] - f[0]
                                         for g in found)]
    outer.sort()
    joins = lexicon()["subject_joins"]
    for a, b in zip(outer, outer[1:], strict=False):
        if a[2] != b[2] and q[a[1]:b[0]] in joins:
            return f"{a[2]}+{b[2]}", a[3] if a[3] == b[3] else None
    return None


def _part_unit(part: str, whole: str) -> bool:
    """A part counts in its whole's unit, or in one the data file groups with it (条 of 件)."""
    return part == whole or any(part in g and whole in g for g in lexicon()["part_units"])


def _scan(doc: Document, extraction: Extraction | None) -> list[_Hit]:
    text = doc.text
    lex = lexicon()
    skip = Ranges(table_ranges(text, extraction))
    hits: list[_Hit] = []
    repaired = repair_digits(text)
    cap = lex["max_claims"]
    for m in _number_re().finditer(repaired):
        if len(hits) >= cap:  # bounded work: a text with thousands of counts is no report's prose
            if extraction is not None and not any(i.kind == "truncated" for i in extraction.issues):
                extraction.issues.append(Truncated(
                    detail=f"正文中的数字超过 {cap} 处，只读取了前 {cap} 处（从“{text[m.start():m.start() + 12]}”起未读）",
                    what="narrative", limit=cap))
            break
        unit = _unit(m)
        if unit is None or m.start() in skip or _blocked(text, m):
            continue
        value = to_number(m.group("num"))
        if not value <= lex["max_value"]:
            continue  # a digit run (a flattened table row, an ID), never a count; also keeps out inf
        ocr = m.group("num") != text[m.start("num"):m.end("num")]
        unit_end = max(m.end(g) for g in ("num", "mult", "plus", "unit", "tail") if m.group(g))
        floor = min(hits[-1].end, m.start()) if hits else 0
        start = clause_start(text, m.start(), floor=floor)
        wide = clause_start(text, m.start())
        end = _extend(text, unit_end)
        context = text[wide:end]
        if unit in lex["money_units"]:
            if not re.search(lex["money_context"], context):
                continue
            own = "other"
        else:
            own = _own_kind(context)
        subject, subject_kind = _subject(text[start:end], unit)
        approx_before = text[max(0, m.start() - 4): m.start()].rstrip()
        approx = bool(m.group("plus") or m.group("tail")) or any(
            approx_before.endswith(a) for a in lex["approx_before"])
        total = any(t in text[start:m.start()] for t in lex["total_markers"])
        hits.append(_Hit(m.start(), unit_end, start, end, as_value(value), unit, approx,
                         subject_kind, own, subject, total, ocr=ocr, lead=_lead(text[start:m.start()])))
    return hits


def _lead(before: str) -> str | None:
    """The list verb standing last before a number (全年主动公开市政府规章 → 主动公开), if any."""
    found = [(before.rfind(w) + len(w), len(w), w) for w in lexicon()["list_leads"] if w in before]
    return max(found)[2] if found else None


def _distributed_subject(text: str, h: _Hit, lead: str) -> tuple[str | None, str | None]:
    """An item's subject when the list's lead verb stands before it: 主动公开 + …行政规范性文件 34 件."""
    noun = re.sub(r"\s+", "", text[h.start:h.num_start])[-lexicon()["list_item_noun"]:]
    return _subject(lead + noun + text[h.num_start:h.end], h.unit)


def _chain(hits: list[_Hit], i: int) -> list[int]:
    out = [i]
    while hits[out[0]].parent is not None:
        out.insert(0, hits[out[0]].parent)
    return out


def _opens_on(text: str, start: int, marker_end: int) -> bool:
    """Whether a 其中 ending at `marker_end` speaks of the claim ending at `start`: same paragraph,
    and either in the same sentence or opening the very next one (……1359 条。其中……)."""
    if crosses_break(text, start, marker_end):
        return False
    cuts = sentence_ends(text, start, marker_end)
    return not cuts or (len(cuts) == 1 and _marker_first(text[cuts[0] + 1:marker_end]))


def _marker_first(rest: str) -> bool:
    words = lexicon()["breakdown_open"]
    rest = rest.lstrip(" \t\u3000，,（(")
    return any(rest.startswith(w) for w in words)


def _link_parents(text: str, hits: list[_Hit]) -> None:
    """共 N … 其中 a, b …: parts point at their whole; a list may run on past the sentence while
    its items still fit in what the whole leaves, as long as the paragraph goes on."""
    lex = lexicon()
    opener = re.compile(r"(?:^|[\s，,。；;（(：:])(?:" + "|".join(lex["breakdown_open"]) + ")"
                        r"|[，,；;：:（(]\s*(?:" + "|".join(lex["breakdown_open_same_sentence"]) + ")")
    closer = re.compile(r"^[\s，,。；;（(]*(?:" + "|".join(lex["breakdown_close"]) + ")")
    # 共 100 条：…  /  不予公开 1 件（属于…1 件）; not 208 件（17.46%），不予公开 20 件: that bracket closed
    colon = re.compile(r"^\s*(?:[:：]|[（(][^）)]*$)")
    stack: list[int] = []
    taken: dict[int, float] = {}
    in_paren = False  # the open list began inside （…）, so the closing bracket ends it

    bracketed: dict[int, list[int]] = {}  # whole → parts a （含…） list gave it

    def attach(i: int, p: int) -> None:
        hits[i].parent = p
        taken[p] = taken.get(p, 0) + hits[i].value
        if in_paren:
            bracketed.setdefault(p, []).append(i)

    def restart(p: int) -> None:
        """办结 1191 件（含上年结转 189 件）…其中予以公开 208 件…: the 其中 list is the breakdown; the
        bracket named an overlapping part, not one of its items."""
        for k in bracketed.pop(p, []):
            hits[k].parent = None
            taken[p] -= hits[k].value

    for i, h in enumerate(hits):
        if i == 0:
            continue
        prev = hits[i - 1]
        gap = text[prev.unit_end:h.num_start]
        closed = closer.match(gap)
        if (crosses_break(text, prev.unit_end, h.num_start) or closed
                or (in_paren and re.search(r"[）)]", gap))):
            stack, in_paren = [], False
        opened = None if closed else opener.search(gap) or colon.match(gap)
        if opened:
            # the whole is the nearest claim before the marker that counts in a compatible unit
            marker = prev.unit_end + opened.end()
            # (and is at least as large as the part: 共 188 条，微博 10 条，其中网站 178 条 → 188)
            j = i - 1
            while j >= 0 and _opens_on(text, hits[j].unit_end, marker) and not (
                    _part_unit(h.unit, hits[j].unit) and hits[j].value >= h.value):
                j -= 1
            if j >= 0 and _opens_on(text, hits[j].unit_end, marker) and _part_unit(h.unit, hits[j].unit):
                in_paren = bool(re.search(r"[（(]", gap[: opened.end()]))
                if not in_paren:
                    restart(j)
                attach(i, j)
                stack = _chain(hits, j)
            continue
        if not stack:
            continue
        if not sentence_ends(text, prev.unit_end, h.num_start):
            top = stack[-1]
            if _part_unit(h.unit, hits[top].unit):
                attach(i, top)
            continue
        # a new sentence: it carries on the list only if it still fits in a whole on the stack
        for depth in range(len(stack) - 1, -1, -1):
            p = hits[stack[depth]]
            fits = _part_unit(h.unit, p.unit) and h.value <= p.value - taken.get(stack[depth], 0)
            if fits and not h.total and h.own_kind in (None, p.own_kind or p.kind):
                attach(i, stack[depth])
                stack = stack[: depth + 1]
                break
        else:
            stack = []


@cache
def _part_subject_patterns() -> list[tuple[str, re.Pattern[str], re.Pattern[str]]]:
    return [(name, re.compile(part), re.compile(whole)) for name, part, whole in lexicon()["part_subjects"]]


def _part_subjects(text: str, hits: list[_Hit]) -> None:
    """A part names its cell through its whole: 对53件规范性文件进行清理，其中…1件予以废止 → 废止 of 规范性文件."""
    for h in hits:
        if h.subject is not None or h.parent is None:
            continue
        part = re.sub(r"\s+", "", text[h.start:h.end])
        whole = re.sub(r"\s+", "", text[hits[h.parent].start:hits[h.parent].end])
        for name, part_pat, whole_pat in _part_subject_patterns():
            if part_pat.search(part) and whole_pat.search(whole):
                h.subject = name
                break


def _claims(doc: Document, extraction: Extraction | None) -> list[_Hit]:
    hits = _scan(doc, extraction)
    _link_parents(doc.text, hits)
    _part_subjects(doc.text, hits)
    for i, h in enumerate(hits):
        # a part is of its whole's kind unless its subject says otherwise
        inherited = hits[h.parent].kind if h.parent is not None else None
        if inherited is not None:
            h.kind = h.subject_kind or inherited
            continue
        if i > 0:
            # a list under one verb: 主动公开规范性文件 42 件，人事任免文件 106 件，其他文件 113 件
            prev = hits[i - 1]
            if _part_unit(h.unit, prev.unit) and not sentence_ends(doc.text, prev.unit_end, h.num_start):
                inherited = prev.kind
                if h.lead is None and prev.lead is not None:
                    h.lead = prev.lead
                    if h.subject is None:
                        h.subject, h.subject_kind = _distributed_subject(doc.text, h, prev.lead)
        h.kind = h.own_kind or inherited or "other"
    return hits


def extract_claims(doc: Document, extraction: Extraction | None = None) -> list[Claim]:
    """Every quantity claim of the prose, in reading order, as the output contract defines it."""
    lex = lexicon()
    return [
        Claim(value=h.value, unit=h.unit, kind=h.kind, quote=doc.text[h.start:h.end], parent=h.parent,
              span=doc.span(h.start, h.end), subject=h.subject,
              confidence=min(lex["approx_confidence"] if h.approx else 1.0,
                             lex["ocr_confidence"] if h.ocr else 1.0))
        for h in _claims(doc, extraction)
    ]


def extract_facts(doc: Document, extraction: Extraction | None = None) -> list[Claim]:
    """Statements the rules need that are not count claims: zero statements, handled claims, %."""
    from nianbao.extract.narrative.facts import find_facts

    claims = extraction.narrative if extraction is not None and extraction.narrative else None
    if claims is None:
        claims = extract_claims(doc, extraction)
    return find_facts(doc, extraction, claims)

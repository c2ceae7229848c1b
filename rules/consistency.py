"""Whether the report is this year's, on this year's template, and consistent about fees.

Stale year: a report that speaks of another year as its own period (text carried over from last
year's report). Template: a 2021+ report on the 2019 template, or tables mixing the two. Fees:
table 二's 行政事业性收费 that looks entered in 元, or that section 六 contradicts (only when 六
speaks of the same fee: its usual 信息处理费 is a different one).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from nianbao.models import Finding
from nianbao.rules.common import cell_label, fmt, spans_of, words
from nianbao.rules.narrative import comparable
from nianbao.rules.registry import RuleContext, rule
from nianbao.spec import fields

_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*年\s*")
# where a clause opens; not 、, whose items are nouns (2024 年度部门预算、2023 年度部门决算), not periods
_CLAUSE_START = set("。；;！!？?\n，,：:）)】]")
_SENTENCE_END = re.compile(r"[。；;！!？?\n]")


@cache
def _period() -> re.Pattern[str]:
    """统计期限自2024年1月1日起至2024年12月31日止: the period the report's figures cover."""
    lead = "|".join(map(re.escape, words()["stale_year"]["period_words"]))
    return re.compile(rf"(?:{lead})[^。；;\n]{{0,12}}?((?:19|20)\d\d)\s*年\s*1\s*月\s*1\s*日")


@cache
def _money() -> re.Pattern[str]:
    """An amount and its printed unit (万元 or 元), longest unit first."""
    units = sorted(words()["money"]["wan"] + words()["money"]["yuan"], key=len, reverse=True)
    # never from the middle of a digit run: the leftmost match is the same, without retrying every digit
    return re.compile(r"(?<!\d)(\d+(?:\.\d+)?)\s*(" + "|".join(map(re.escape, units)) + ")")


def _prose_ranges(ctx: RuleContext) -> list[tuple[int, int]]:
    """Document.text minus the tables, so a table's labels never count as prose."""
    assert ctx.doc is not None
    tables = sorted(v for k, v in ctx.extraction.sections.items() if k.startswith("table:"))
    out, pos = [], 0
    for s, e in tables:
        if s > pos:
            out.append((pos, s))
        pos = max(pos, e)
    out.append((pos, len(ctx.doc.text)))
    return out


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    s = start
    while s > 0 and not _SENTENCE_END.match(text[s - 1]):
        s -= 1
    m = _SENTENCE_END.search(text, end)
    return s, (m.end() if m else len(text))


def _title_end(text: str) -> int:
    """End of the first non-empty line (the report's title)."""
    start = len(text) - len(text.lstrip())
    end = text.find("\n", start)
    return len(text) if end < 0 else end


def _clause_start(text: str, pos: int) -> bool:
    i = pos - 1
    while i >= 0 and text[i] in " \t\u3000#*":
        i -= 1
    return i < 0 or text[i] in _CLAUSE_START


@rule("stale_year.period", "stale_year", "warning")
def stale_year(ctx: RuleContext) -> Iterator[Finding]:
    """"2024年度重点围绕…" in a 2025 report: a clause that opens with another year as its period,
    outside comparisons (与上年相比), carry-overs, plans (2026年我镇将) and dates (2024年12月)."""
    year = ctx.extraction.meta.year
    if ctx.doc is None or not year:
        return
    w = words()["stale_year"]
    text = ctx.doc.text
    hits = []
    for lo, hi in _prose_ranges(ctx):
        for m in _YEAR.finditer(text, lo, hi):
            other = int(m.group(1))
            if other == year or not _clause_start(text, m.start()):
                continue
            tail = text[m.start():m.end() + 3].replace(" ", "").replace("\u3000", "")
            tail = tail[tail.index("年"):]
            if not any(tail.startswith(p) for p in w["period_after"]):
                continue
            s, e = _sentence(text, m.start(), m.end())
            sentence = text[s:e]
            legit = w["legit"] + (w["future"] if other > year else [])
            if any(x in sentence for x in legit):
                continue
            hits.append((m.start(), e, other, sentence.strip()))
    for lo, hi in _prose_ranges(ctx):
        for m in _YEAR.finditer(text, lo, hi):
            other = int(m.group(1))
            after = text[m.end():m.end() + len(w["self_name"]) + 2].lstrip("度")
            if other == year or not after.startswith(w["self_name"]) or m.start() < _title_end(text):
                continue  # the title is where meta.year comes from: never judged against itself
            s, e = _sentence(text, m.start(), m.end())
            if not any(x in text[s:e] for x in w["report_legit"]):
                hits.append((m.start(), e, other, text[s:e].strip()))
    for m in _period().finditer(text):
        if int(m.group(1)) != year:  # the figures' own period names another year
            s, e = _sentence(text, m.start(), m.end())
            hits.append((m.start(), e, int(m.group(1)), text[s:e].strip()))
    hits.sort()
    if not hits:
        return
    start, end, other, sentence = hits[0]
    more = f"（另有 {len(hits) - 1} 处）" if len(hits) > 1 else ""
    yield Finding(
        category="stale_year", rule="stale_year.period", severity="warning",
        message=f"这是 {year} 年的报告，但正文把 {other} 年当作本期：“{sentence[:60]}”{more}，疑为沿用往年文字",
        expected=year, found=other, spans=[ctx.doc.span(start, end)])


@rule("template.version", "template", "warning")
def template_version(ctx: RuleContext) -> Iterator[Finding]:
    """A report for 2021 or later filled in on the 2019 template (superseded in 2021)."""
    meta = ctx.extraction.meta
    if meta.year and meta.year >= 2021 and meta.template == "2019":
        yield Finding(category="template", rule="template.version", severity="warning",
                      message=f"{meta.year} 年的报告使用了 2019 版模板（2021 年起应使用新版模板）",
                      expected=2021, found=2019)


@rule("template.mix", "template", "warning")
def template_mix(ctx: RuleContext) -> Iterator[Finding]:
    """Tables mixing the two versions, e.g. a 2021 table 三 printing （六）其他处理 as one 2019-style row."""
    for i in ctx.extraction.issues:
        if i.kind != "template_mix":
            continue
        detail = i.detail or "表格混用了 2019 版与 2021 版模板的行列"
        yield Finding(category="template", rule="template.mix", severity="warning", keys=list(i.keys),
                      message=f"模板混用：{detail}", spans=[i.span] if i.span else [])


def _amount_keys(template: str) -> list[str]:
    return [f.key for f in fields(template) if f.table == "t2" and f.type == "decimal"]


@rule("fees.in_yuan", "structure", "warning")
def fee_in_yuan(ctx: RuleContext) -> Iterator[Finding]:
    """An amount in a 万元 column printed in 元 (386000元), or a round figure too large to be 万元."""
    t = ctx.template
    fw = words()["fees"]
    done: set[str] = set()
    for i in ctx.extraction.issues:
        if i.kind == "fee_in_yuan":
            done.update(i.keys)
            raw = i.raw or i.detail
            yield Finding(category="structure", rule="fees.in_yuan", severity="warning", keys=list(i.keys),
                          message=f"{'、'.join(cell_label(k, t) for k in i.keys)}：印作“{raw}”，单位应为万元",
                          spans=[i.span] if i.span else spans_of(ctx, i.keys))
    for key in _amount_keys(t):
        cell = ctx.extraction.cells.get(key)
        if key in done or cell is None or cell.value is None:
            continue
        raw = cell.raw or ""
        printed = _money().search(raw)
        printed_yuan = printed is not None and printed.group(2) in words()["money"]["yuan"]
        v = cell.value
        round_big = (v >= fw["yuan_min_wan"] and float(v).is_integer() and v % fw["yuan_round_to"] == 0)
        if printed_yuan or round_big:
            why = f"印作“{raw}”" if printed_yuan else f"{fmt(v)} 万元即 {fmt(v / 10000)} 亿元，且为整百"
            yield Finding(category="structure", rule="fees.in_yuan", severity="warning", keys=[key],
                          message=f"{cell_label(key, t)}：{why}，疑为按元填写（应为万元）",
                          found=v, spans=spans_of(ctx, [key]))


@rule("fees.section_six", "narrative_mismatch", "warning")
def fee_vs_section_six(ctx: RuleContext) -> Iterator[Finding]:
    """Table 二's 行政事业性收费 > 0 while section 六 says that fee was not charged, and the reverse."""
    key = "t2.admin_fee.amount_wan"
    amount = ctx.values.get(key)
    span = ctx.extraction.sections.get("六")
    if amount is None or span is None or ctx.doc is None:
        return
    if any(c.subject == "fee" and comparable(c) for c in ctx.extraction.facts):
        return  # a fee statement the narrative extractor read: narrative.table compares it
    fw = words()["fees"]
    text = ctx.doc.text[span[0]:span[1]]
    for m in re.finditer(r"[^。；;\n]+", text):
        sentence = m.group(0)
        if not any(w in sentence for w in fw["admin_fee_words"]):
            continue
        says_none = any(w in sentence for w in fw["none_words"])
        money = _money().search(sentence)
        stated = None
        if money:
            stated = float(money.group(1)) / (10000 if money.group(2) in words()["money"]["yuan"] else 1)
        if says_none and amount > 0:
            found = f"称未收取行政事业性收费，但表二收费金额为 {fmt(amount)} 万元"
        elif stated is not None and stated > 0 and amount == 0:
            found = f"称收取行政事业性收费 {money.group(0)}，但表二收费金额为 0"  # type: ignore[union-attr]
        else:
            continue
        yield Finding(category="narrative_mismatch", rule="fees.section_six", severity="warning", keys=[key],
                      message=f"第六部分“{sentence.strip()[:60]}”{found}",
                      expected=amount, found=stated if stated is not None else 0,
                      spans=[ctx.doc.span(span[0] + m.start(), span[0] + m.end())])
        return

"""The report's shape: rows with too few or too many cells, split or merged digit runs, missing
tables, and sections missing, out of order, or (section 五) saying nothing.

The template parser notices most of this (ParseIssue) and does not decide what it means; these
rules turn each issue into one finding a reviewer can act on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from nianbao.models import Finding, ParseIssue
from nianbao.rules.common import cell_label, fmt, words
from nianbao.rules.registry import RuleContext, rule

_TABLE_NAMES = {"t2": "表二（主动公开政府信息情况）", "t3": "表三（收到和处理政府信息公开申请情况）",
                "t4": "表四（行政复议、行政诉讼情况）"}


def _issues(ctx: RuleContext, *kinds: str) -> Iterator[ParseIssue]:
    for i in ctx.extraction.issues:
        if i.kind in kinds:
            yield i


def _row_name(issue: ParseIssue, ctx: RuleContext) -> str:
    label = getattr(issue, "label", "")
    if label:
        return str(label)
    if issue.keys:
        return cell_label(issue.keys[0], ctx.template).rsplit(" ", 1)[0]
    return "某行"


def _spans(issue: ParseIssue) -> list:
    return [issue.span] if issue.span else []


@rule("structure.row_cells", "structure", "warning")
def row_cells(ctx: RuleContext) -> Iterator[Finding]:
    """A row printed with fewer or more cells than the template's columns: read as far as it goes."""
    for i in _issues(ctx, "short_row", "long_row"):
        if getattr(i, "too_long", False):  # a run no reading fits: the parser's own words say it
            yield Finding(category="structure", rule="structure.row_cells", severity="warning", keys=list(i.keys),
                          message=i.detail, expected=i.expected, spans=_spans(i))
            continue
        exp, found = i.expected, i.found
        counts = f"应有 {exp} 格，实印 {found} 格" if exp is not None and found is not None else i.detail
        what = "少印了数值" if i.kind == "short_row" else "多出了数值"
        if i.kind == "short_row" and found == 0:
            what, counts = "表中没有找到这一行", f"应有 {exp} 格"
        extra = getattr(i, "extra", [])
        if i.kind == "long_row" and extra:
            counts += f"；未采用：{'、'.join(map(str, extra))}"
        yield Finding(category="structure", rule="structure.row_cells", severity="warning", keys=list(i.keys),
                      message=f"{_row_name(i, ctx)}：{what}（{counts}），各格位置需要核对",
                      expected=exp, found=found, spans=_spans(i))


@rule("structure.split_cell", "structure", "warning")
def split_cell(ctx: RuleContext) -> Iterator[Finding]:
    """The parser read two adjacent one-digit cells as one number because only that made the row add up."""
    for i in _issues(ctx, "split_cell"):
        detail = f"（{i.detail}）" if i.detail else ""
        yield Finding(category="structure", rule="structure.split_cell", severity="warning", keys=list(i.keys),
                      message=f"{_row_name(i, ctx)}：相邻两格被当作一个数读取，行合计才成立{detail}，请核对原表",
                      spans=_spans(i))


@rule("structure.ambiguous_split", "structure", "info")
def ambiguous_split(ctx: RuleContext) -> Iterator[Finding]:
    """Numbers that several readings fit equally (a digit run with no separators, a lost cell): the cells
    are listed as uncertain. It is a limit of the copy that was read, not an error of the report, so
    info; any contradiction that rests on these cells is hedged to info as well."""
    for i in _issues(ctx, "ambiguous_split"):
        cells = [ctx.extraction.cells.get(k) for k in i.keys]
        if i.keys and all(c is not None and (c.note or "").startswith("settled by") for c in cells):
            continue  # the prose settled it (narrative.settle says how)
        raw = i.raw
        options = i.options
        many = f"有 {len(options)} 种" if options else "有多种"
        run = f"印作“{raw}”，" if raw else ""
        keys = i.row_keys
        shown = "；".join("/".join(fmt(v) for v in opt) for opt in options[:4])
        tail = f"（如 {shown}{' 等' if len(options) > 4 else ''}）" if shown and keys else ""
        yield Finding(category="structure", rule="structure.ambiguous_split", severity="info",
                      keys=list(i.keys),
                      message=f"{_row_name(i, ctx)}：{run}{many}读法都符合勾稽关系{tail}，这几格的数值不确定，请核对原表",
                      spans=_spans(i))


@rule("structure.truncated", "structure", "warning")
def truncated(ctx: RuleContext) -> Iterator[Finding]:
    """A report so long that reading stopped at a limit (thousands of counts in its prose): the
    reviewer must know that part of it was not read."""
    for i in _issues(ctx, "truncated"):
        yield Finding(category="structure", rule="structure.truncated", severity="warning", keys=list(i.keys),
                      message=i.detail, spans=_spans(i))


@rule("structure.moved_values", "structure", "info")
def moved_values(ctx: RuleContext) -> Iterator[Finding]:
    """Rows whose numbers were printed apart from their labels (a PDF conversion, a lost label), read in
    the template's row order: one finding per table, so a reviewer checks the alignment once."""
    for i in _issues(ctx, "moved_values"):
        yield Finding(category="structure", rule="structure.moved_values", severity="info", keys=list(i.keys),
                      message=f"{i.detail}，请核对原表", spans=_spans(i))


@rule("llm.unvalidated", "disagreement", "info")
def llm_unvalidated(ctx: RuleContext) -> Iterator[Finding]:
    """A model reply (llm backend) that never passed validation: its values were grounded one by one
    and the unfound ones left blank. Said once per reply; it concerns the reader, not the report, so
    it is information (the blank cells have their own findings)."""
    for i in _issues(ctx, "low_confidence"):
        if getattr(i, "reader", "rules") == "llm":
            yield Finding(category="disagreement", rule="llm.unvalidated", severity="info", keys=list(i.keys),
                          message=i.detail, spans=_spans(i))


@rule("structure.merged_digits", "structure", "info")
def merged_digits(ctx: RuleContext) -> Iterator[Finding]:
    """A digit run printed without separators, and whether the identities split it one way only."""
    uncertain = set(ctx.extraction.uncertain)
    for i in _issues(ctx, "merged_digits"):
        raw = i.raw or i.detail
        how = "拆法不唯一，不确定的格另有提示" if uncertain & set(i.keys) else "按勾稽关系唯一拆分"
        yield Finding(category="structure", rule="structure.merged_digits", severity="info", keys=list(i.keys),
                      message=f"{_row_name(i, ctx)}：数字连写为 {raw}，{how}", spans=_spans(i))


@rule("structure.missing_table", "structure", "warning")
def missing_table(ctx: RuleContext) -> Iterator[Finding]:
    """A table of the template that the report does not print."""
    seen = set()
    for i in _issues(ctx, "missing_table"):
        table = i.table
        if table in seen:
            continue
        seen.add(table)
        name = _TABLE_NAMES.get(table, table or "某表")
        detail = f"（{i.detail}）" if i.detail else ""
        if i.zero_statement:
            # the report says in words that there was nothing to tabulate: documented, not a defect
            yield Finding(category="structure", rule="structure.missing_table", severity="info", keys=list(i.keys),
                          message=f"{name}以文字说明代替{detail}", spans=_spans(i))
            continue
        yield Finding(category="structure", rule="structure.missing_table", severity="warning", keys=list(i.keys),
                      message=f"报告中没有找到{name}{detail}", spans=_spans(i))


def _heading_sections(ctx: RuleContext) -> dict[str, tuple[int, int]]:
    order = words()["sections"]["order"]
    return {k: v for k, v in ctx.extraction.sections.items() if k in order}


@rule("structure.sections", "structure", "warning")
def sections(ctx: RuleContext) -> Iterator[Finding]:
    """Sections 一…六 all present and in order (only judged when the parser found the headings at all)."""
    order = words()["sections"]["order"]
    found = _heading_sections(ctx)
    if len(found) < 3:
        return  # no headings recognised: nothing to judge
    missing = [s for s in order if s not in found]
    if missing:
        yield Finding(category="structure", rule="structure.sections", severity="warning",
                      message=f"报告缺少第{'、'.join(missing)}部分（模板规定一至六共六部分）")
    present = [s for s in order if s in found]
    starts = [found[s][0] for s in present]
    if starts != sorted(starts):
        printed = sorted(present, key=lambda s: found[s][0])
        yield Finding(category="structure", rule="structure.sections", severity="warning",
                      message=f"各部分顺序为 {'、'.join(printed)}，与模板顺序 {'、'.join(present)} 不符")




@cache
def _five_heading() -> re.Pattern[str]:
    """Section 五's heading: its ordinal, then words up to one of its end words (…存在的主要问题及改进情况)."""
    ends = "|".join(map(re.escape, words()["sections"]["five_heading_ends"]))
    return re.compile(rf"^[#*\s]*五\s*[、.．]?[^。，；\n]{{0,30}}(?:{ends})(?:情况)?")
_PUNCT = re.compile(r"[\s#*：:。．.、，,;；\-—|（）()]+")


@rule("structure.section_five_empty", "structure", "warning")
def section_five_empty(ctx: RuleContext) -> Iterator[Finding]:
    """Section 五 (问题及改进) that is empty or a bare 无: the template requires problems and fixes."""
    span = ctx.extraction.sections.get("五")
    if span is None or ctx.doc is None:
        return
    text = ctx.doc.text[span[0]:span[1]]
    # the heading's own words: its ordinal and whichever heading wording the report uses
    body = _five_heading().sub("", text.strip(), count=1).strip()
    changed = True
    while changed:
        changed = False
        for h in sorted(words()["sections"]["five_heading"], key=len, reverse=True):
            if body.startswith(h):
                body, changed = body[len(h):].strip(), True
    body = _PUNCT.sub("", body)
    if body == "" or body in words()["sections"]["bare"]:
        shown = "空白" if body == "" else f"仅有“{body}”"
        yield Finding(category="structure", rule="structure.section_five_empty", severity="warning",
                      message=f"第五部分（存在的主要问题及改进情况）{shown}，模板要求写明问题和改进措施",
                      spans=[ctx.doc.span(span[0], span[1])])

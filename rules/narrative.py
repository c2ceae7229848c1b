"""Prose against tables, and prose against itself.

Every claim with a subject (nianbao/data/subjects.json) is compared with the sum of its cells;
percentages with their base; zero statements (未收到申请, 未发生复议诉讼) with zeros; "all handled"
with a table that has no applications; and the parts of a 共…其中 with their whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase
from functools import cache

from nianbao.data import load
from nianbao.models import Claim, Finding, Number
from nianbao.rules.common import cell_label, fmt, spans_of, words
from nianbao.rules.registry import RuleContext, rule
from nianbao.spec import keys as spec_keys


@cache
def subjects() -> dict[str, dict]:
    return load("subjects")["subjects"]


def subject_parts(subject: str | None) -> list[str]:
    """A claim may count two subjects at once (予以公开及部分公开 208 件): "granted+partially_granted"."""
    return subject.split("+") if subject else []


def known_subject(subject: str | None) -> bool:
    parts = subject_parts(subject)
    return bool(parts) and all(p in subjects() for p in parts)


def subject_label(subject: str) -> str:
    return "及".join(subjects()[p]["label"] for p in subject_parts(subject))


def subject_keys(subject: str, template: str) -> list[str]:
    """The cells a subject sums, in the report's template; '*' patterns expand over the spec's keys."""
    out: list[str] = []
    all_keys = spec_keys(template)
    for part in subject_parts(subject):
        spec = subjects().get(part)
        if not spec:
            return []
        for pattern in spec["cells"]:
            if "*" in pattern:
                out.extend(k for k in all_keys if fnmatchcase(k, pattern) and k not in out)
            elif pattern in all_keys and pattern not in out:
                out.append(pattern)
    return out


def table_value(ctx: RuleContext, keys: list[str]) -> Number | None:
    vals = [ctx.values.get(k) for k in keys]
    if not keys or any(v is None for v in vals):
        return None
    return sum(vals)  # type: ignore[arg-type]


def _approx(quote: str) -> str:
    """"over" for 5500余条, "about" for 约/近, "" for an exact figure."""
    w = words()["narrative"]
    if any(m in quote for m in w["approx_over"]):
        return "over"
    if any(m in quote for m in w["approx_any"]):
        return "about"
    return ""


def agrees(claimed: Number, table: Number, quote: str) -> bool:
    """Whether a stated count fits the table, allowing for 余/约 when the prose says so."""
    tol = float(words()["narrative"]["approx_tolerance"])
    kind = _approx(quote)
    if kind == "over":
        return claimed <= table <= claimed * (1 + tol) + 1
    if kind == "about":
        return abs(table - claimed) <= claimed * tol + 1
    return abs(table - claimed) < 1e-6


def comparable(claim: Claim) -> bool:
    """A fee statement is compared with table 二's 行政事业性收费 only when it speaks of that fee."""
    if claim.subject != "fee":
        return True
    fw = words()["fees"]
    return any(w in claim.quote for w in fw["admin_fee_words"])


def _claims(ctx: RuleContext) -> Iterator[Claim]:
    for group in (ctx.extraction.narrative, ctx.extraction.facts):
        for c in group:
            if not (known_subject(c.subject) and c.unit != "%" and comparable(c)):
                continue
            parent = group[c.parent] if c.parent is not None and 0 <= c.parent < len(group) else None
            if parent is not None and parent.subject == c.subject:
                continue  # 行政复议351件，其中结果维持72件: a part of the subject, not its total
            yield c


@cache
def _multipliers() -> dict[str, int]:
    return load("narrative")["multipliers"]


def in_cell_unit(c: Claim, keys: list[str]) -> Number:
    """The claim in the cells' unit: 386000元 against a 万元 column is 38.6; 1.2 万件 is 12000 件."""
    money = words()["money"]
    if c.unit in money["yuan"] and keys and all(k.endswith("_wan") for k in keys):
        return c.value / 10000
    if c.unit in money["wan"] or not c.unit:
        return c.value
    scale = _multipliers().get(c.unit[0], 1)
    return c.value * scale if scale != 1 else c.value


def _where(keys: list[str], ctx: RuleContext) -> str:
    if len(keys) == 1:
        return cell_label(keys[0], ctx.template)
    return "、".join(cell_label(k, ctx.template) for k in keys) + " 之和"


def _rounding(c: Claim, scaled: Number) -> float:
    """How far a figure printed with 万/亿 may be from the exact count: half its last printed digit."""
    if scaled == c.value or not c.value:
        return 0.0
    decimals = len(str(c.value).split(".")[1]) if isinstance(c.value, float) else 0
    return 0.5 * (scaled / c.value) * 10 ** -decimals


@rule("narrative.table", "narrative_mismatch", "warning")
def claim_vs_table(ctx: RuleContext) -> Iterator[Finding]:
    """Each N件/N条 claim with a subject equals its cells (自然人/法人, 复议/诉讼, 规章/许可/处罚 too)."""
    seen: set[tuple[str, float]] = set()
    for c in _claims(ctx):
        keys = subject_keys(c.subject or "", ctx.template)
        table = table_value(ctx, keys)
        claimed = in_cell_unit(c, keys)
        if table is None or agrees(claimed, table, c.quote) or abs(table - claimed) <= _rounding(c, claimed):
            continue
        if (c.subject or "", float(c.value)) in seen:
            continue
        seen.add((c.subject or "", float(c.value)))
        label = subject_label(c.subject or "")
        said = "未发生/没有" if c.value == 0 else f"{fmt(c.value)}{c.unit}"
        yield Finding(
            category="narrative_mismatch", rule="narrative.table", severity="warning", keys=keys,
            message=f"正文“{c.quote}”称{label} {said}，表中{_where(keys, ctx)} 为 {fmt(table)}",
            expected=table, found=claimed, spans=[c.span, *spans_of(ctx, keys)] if c.span else spans_of(ctx, keys))


_BASES = (("t3.total_processed.total",), ("t3.new_received.total",),
          ("t3.new_received.total", "t3.carried_over.total"))


@rule("narrative.percent", "narrative_mismatch", "warning")
def percent_vs_table(ctx: RuleContext) -> Iterator[Finding]:
    """N% of a row against the table: the row's cells over the applications handled (or received)."""
    tol = float(words()["narrative"]["percent_tolerance"])
    for c in ctx.extraction.facts:
        if c.unit != "%" or not known_subject(c.subject):
            continue
        keys = subject_keys(c.subject or "", ctx.template)
        part = table_value(ctx, keys)
        if part is None:
            continue
        shares = []
        for base_keys in _BASES:
            base = table_value(ctx, list(base_keys))
            if base:
                shares.append((100.0 * part / base, base_keys, base))
        if not shares or any(abs(s - c.value) <= tol for s, _, _ in shares):
            continue
        share, base_keys, base = shares[0]
        yield Finding(
            category="narrative_mismatch", rule="narrative.percent", severity="warning",
            keys=[*keys, *base_keys],
            message=(f"正文“{c.quote}”称{subject_label(c.subject or '')}占 {fmt(c.value)}%，按表三为 "
                     f"{fmt(part)} / {fmt(base)} = {share:.1f}%"),
            expected=round(share, 1), found=c.value, spans=[c.span] if c.span else [])


@rule("narrative.handled_without_applications", "narrative_mismatch", "warning")
def handled_without_applications(ctx: RuleContext) -> Iterator[Finding]:
    """Prose says applications were handled (全部按期办结) while table 三 has none at all."""
    keys = ["t3.new_received.total", "t3.carried_over.total"]
    total = table_value(ctx, keys)
    if total is None or total != 0:
        return
    for c in ctx.extraction.facts:
        if c.subject == "claims_handled" and c.value:
            yield Finding(
                category="narrative_mismatch", rule="narrative.handled_without_applications", severity="warning",
                keys=keys,
                message=f"正文“{c.quote}”称申请已办理，但表三本年新收与上年结转申请均为 0",
                expected=0, found=c.value, spans=[c.span] if c.span else [])
            return


def _open_ended(ctx: RuleContext, last: Claim) -> bool:
    """A list that ends in 等 does not claim to be complete."""
    if ctx.doc is None:
        return False
    text = ctx.doc.text
    pos = last.span.end if last.span else -1
    if pos < 0:
        at = text.find(last.quote)
        pos = at + len(last.quote) if at >= 0 else -1
    if pos < 0:
        return False
    tail = text[pos:pos + 3]
    return any(tail.lstrip("，,、 ").startswith(w) for w in words()["narrative"]["open_list"])


@rule("narrative.sum", "narrative_sum", "warning")
def parts_vs_whole(ctx: RuleContext) -> Iterator[Finding]:
    """The parts of a 共…其中 do not add up to the whole: more is always wrong; less, when a long list
    reads as complete (one or two parts, or a list ending in 等, may name only some)."""
    claims = ctx.extraction.narrative
    children: dict[int, list[Claim]] = {}
    for c in claims:
        if c.parent is not None and 0 <= c.parent < len(claims):
            children.setdefault(c.parent, []).append(c)
    for idx, parts in sorted(children.items()):
        whole = claims[idx]
        parts = [p for p in parts if p.unit == whole.unit]
        if not parts:
            continue
        total = sum(p.value for p in parts)
        approx = _approx(whole.quote)
        if abs(total - whole.value) < 1e-6:
            continue
        few = len(parts) < int(words()["narrative"]["min_parts_short"])
        if total < whole.value and (few or approx or _open_ended(ctx, parts[-1])):
            continue
        if total > whole.value and approx and agrees(whole.value, total, whole.quote):
            continue
        shown = " + ".join(fmt(p.value) for p in parts)
        yield Finding(
            category="narrative_sum", rule="narrative.sum", severity="warning", keys=[],
            message=(f"正文“{whole.quote}”的 {len(parts)} 项分项之和 {shown} = {fmt(total)}，"
                     f"与总数 {fmt(whole.value)}{whole.unit} 不符"),
            expected=whole.value, found=total,
            spans=[s for s in [whole.span, *(p.span for p in parts)] if s is not None])

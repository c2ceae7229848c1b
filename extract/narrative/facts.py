"""Statements the rules check that are not count claims of the output contract.

- zero statements: 未收到政府信息公开申请 → new_received 0; 未发生行政复议、行政诉讼 → review 0 and
  suit 0 (but 未发生被行政复议纠错或行政诉讼败诉 speaks of outcomes, not of cases: no fact); 未收取信息处理费 → fee 0 (the quote keeps the fee's own name, since 信息处理费 is not the
  行政事业性收费 of table 二, and a rule must be able to tell them apart);
- handled claims: 全部按期办结 / 均已办结 / 均按时答复 → claims_handled 1, when the text around is
  about applications;
- percentages with their base: 予以公开 5 件，占 83.3% → unit "%", the base claim's subject;
- fee amounts stated in the prose (收取信息处理费 3940 元) → fee with that amount and unit.
Patterns: nianbao/data/narrative.json ("facts").
"""

from __future__ import annotations

import re
from functools import cache

from nianbao.document import Document
from nianbao.extract.narrative.prose import (
    Ranges,
    as_value,
    clause_start,
    lexicon,
    table_ranges,
    to_number,
    wrapped,
)
from nianbao.models import Claim, Extraction


@cache
def _zero_patterns() -> list[tuple[list[str] | str, str, re.Pattern[str]]]:
    return [(z["subjects"], z["kind"], re.compile(z["pattern"])) for z in lexicon()["facts"]["zero"]]


def _zero_statements(doc: Document, skip: Ranges) -> list[Claim]:
    text = doc.text
    out: list[Claim] = []
    outcome = lexicon()["facts"]["zero_outcome_words"]
    for subjects, kind, pat in _zero_patterns():
        for m in pat.finditer(text):
            if m.start() in skip:
                continue
            clause = re.match(r"[^，,。；;！!？?]*", text[m.start():]).group(0)  # type: ignore[union-attr]
            if any(w in clause for w in outcome):
                continue  # 未发生…被行政复议纠错或行政诉讼败诉: no bad outcome, not no case
            names = subjects if isinstance(subjects, list) else [
                s for s, noun in lexicon()["facts"]["by_noun"] if noun in m.group(0)]
            start = clause_start(text, m.start())
            for name in names:
                out.append(Claim(value=0, unit="件" if name != "fee" else "元", kind=kind,
                                 quote=text[start:m.end()], span=doc.span(start, m.end()), subject=name))
    return out


def _sentences_back(text: str, pos: int, n: int) -> int:
    """Start of the n-th sentence back from `pos` (the current one is the first), within its paragraph."""
    ends = lexicon()["sentence_end"]
    i = pos - 1
    while i >= 0:
        if text[i] == "\n" and not wrapped(text, i):
            break
        if text[i] in ends:
            n -= 1
            if n == 0:
                break
        i -= 1
    return i + 1


def _handled(doc: Document, skip: Ranges) -> list[Claim]:
    facts = lexicon()["facts"]
    text, out = doc.text, []
    for m in re.finditer(facts["handled"], text):
        if m.start() in skip:
            continue
        if facts["handled_context"] not in text[_sentences_back(text, m.start(), facts["handled_sentences"]):m.end()]:
            continue
        out.append(Claim(value=1, unit="", kind="application", quote=m.group(0),
                         span=doc.span(m.start(), m.end()), subject="claims_handled"))
    return out


def _percents(doc: Document, claims: list[Claim]) -> list[Claim]:
    pat = re.compile(lexicon()["facts"]["percent"])
    text, out = doc.text, []
    for c in claims:
        if c.span is None:
            continue
        m = pat.match(text, c.span.end)
        if m is None:
            continue
        end = m.end()
        out.append(Claim(value=as_value(to_number(m.group(2))), unit="%", kind=c.kind,
                         quote=text[c.span.start:end], span=doc.span(c.span.start, end), subject=c.subject))
    return out


def _fees(claims: list[Claim]) -> list[Claim]:
    money = lexicon()["money_units"]
    return [c.model_copy(update={"subject": "fee", "parent": None}) for c in claims if c.unit in money]


def _dedupe(text: str, facts: list[Claim]) -> list[Claim]:
    """One fact per subject and sentence: 未收到申请，无依申请公开信息 says one thing twice."""
    ends = lexicon()["sentence_end"]
    out: list[Claim] = []
    last: dict[tuple, Claim] = {}  # (subject, value) → the latest fact kept: only it can share f's sentence
    for f in sorted(facts, key=lambda c: (c.span.start if c.span else 0)):
        o = last.get((f.subject, f.value))
        if o is not None and o.span and f.span and not any(ch in ends for ch in text[o.span.end:f.span.start]):
            continue
        out.append(f)
        if f.span is not None:
            last[(f.subject, f.value)] = f
    return out


def find_facts(doc: Document, extraction: Extraction | None, claims: list[Claim]) -> list[Claim]:
    skip = Ranges(table_ranges(doc.text, extraction))
    facts = _zero_statements(doc, skip) + _handled(doc, skip) + _percents(doc, claims) + _fees(claims)
    return _dedupe(doc.text, facts)

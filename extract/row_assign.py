"""Assign a table's value tokens to the template rows whose labels precede them.

One pass over the tokens of a table region, in reading order. A label token starts a row when it
matches one of the next few template rows (rows appear in template order, some may be missing);
the values after it belong to that row until the next row starts. This reads pipe rows, tab rows,
one cell per line, and labels wrapped over several lines the same way. Numbers in front of a label
on the same line go to the previous row only while it is short of values; otherwise they are
stray (OCR debris in the label column) and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nianbao.extract.labels import RowSpec, clean, score
from nianbao.extract.tokens import Token

MATCH_THRESHOLD = 0.6
WINDOW = 8


@dataclass
class RowRead:
    spec: RowSpec
    label: Token
    values: list[Token] = field(default_factory=list)
    stray: list[Token] = field(default_factory=list)
    label_tokens: list[Token] = field(default_factory=list)
    empty: bool = False  # the label was seen but no values followed it
    score: float = 0.0  # how well the label matched
    moved: bool = False  # values came from the row before (label lost, or printed below its values)


@dataclass
class Assignment:
    rows: dict[str, RowRead]
    stray: list[Token]  # value tokens that belong to no row
    junk: list[tuple[Token, str]]  # digits glued to label text: (token, row id it sits in)
    span: tuple[int, int] | None


def _best(token: Token, specs: tuple[RowSpec, ...], pointer: int, current: int | None,
          expected: int | None = None) -> tuple[int, float]:
    text = clean(token.text)
    if not text:
        return -1, 0.0
    best, best_score, best_len = -1, 0.0, 0
    lo = pointer
    hi = min(len(specs), pointer + WINDOW)
    candidates = list(range(lo, hi))
    if current is not None and current not in candidates:
        candidates.insert(0, current)
    for i in candidates:
        s = score(text, specs[i])
        if s <= 0:
            continue
        if i == (pointer if expected is None else expected) and 0.5 <= s < 1.0 and not specs[i].is_group:
            s = min(s + 0.1, 0.99)  # the row expected next in template order; never beats an exact label
        # prefer the current row for continuations, then the longer (more specific) label, then nearer
        key = (round(s, 3), i == current, len(specs[i].label), -abs(i - pointer))
        if best < 0 or key > (round(best_score, 3), best == current, best_len, -abs(best - pointer)):
            best, best_score, best_len = i, s, len(specs[i].label)
    return best, best_score


def assign(tokens: list[Token], specs: tuple[RowSpec, ...]) -> Assignment:
    rows: dict[str, RowRead] = {}
    stray: list[Token] = []
    junk: list[tuple[Token, str]] = []
    pointer = 0
    current: int | None = None
    first = last = None

    def commit_or_drop() -> None:
        """A matched label that got no values (a header word, a repeated header) does not count."""
        nonlocal pointer
        if current is None:
            return
        read = rows.get(specs[current].id)
        if read is not None and not read.values and not specs[current].is_group:
            read.empty = True  # kept: its values may sit before it (see redistribute)
            # a header word (自然人, 总计) matches short labels only; a long label matched well is the
            # row itself printed with every cell blank, and the rows after it follow it
            if not (read.score >= 0.9 and len(specs[current].label) >= 5):
                return
        pointer = max(pointer, current + 1)

    by_line: dict[int, list[Token]] = {}
    for t in tokens:
        by_line.setdefault(t.line, []).append(t)
    for line in sorted(by_line):
        items = by_line[line]
        pending: list[Token] = []  # values seen on this line before a new label
        for t in items:
            if t.kind == "text":
                has_values = current is not None and bool(rows[specs[current].id].values)
                expected = current + 1 if has_values else pointer
                while expected < len(specs) and specs[expected].is_group:
                    expected += 1
                idx, s = _best(t, specs, pointer, current, expected)
                if idx >= 0 and s >= MATCH_THRESHOLD and idx != current:
                    # values earlier on this line: the previous row's if it is short, else stray
                    if current is not None and pending:
                        read = rows.get(specs[current].id)
                        need = specs[current].n - len(read.values) if read else 0
                        if read is not None and need > 0:
                            read.values.extend(pending[:need])
                            stray.extend(pending[need:])
                        else:
                            stray.extend(pending)
                    elif pending:
                        stray.extend(pending)
                    pending = []
                    commit_or_drop()
                    current = idx
                    rows[specs[idx].id] = RowRead(specs[idx], t, label_tokens=[t], score=s)
                    first = t.start if first is None else first
                elif idx == current and current is not None and s >= MATCH_THRESHOLD:
                    rows[specs[current].id].label_tokens.append(t)
            elif t.kind == "junk":
                junk.append((t, specs[current].id if current is not None else ""))
            else:
                pending.append(t)
        if pending:
            if current is not None:
                rows[specs[current].id].values.extend(pending)
                last = pending[-1].end
            else:
                stray.extend(pending)
    commit_or_drop()
    if rows:
        ends = [r.values[-1].end for r in rows.values() if r.values] + [r.label.end for r in rows.values()]
        last = max(ends + ([last] if last else []))
    span = (first, last) if first is not None and last is not None else None
    return Assignment(rows, stray, junk, span)


def redistribute(a: Assignment, specs: tuple[RowSpec, ...]) -> list[str]:
    """Give an overfull row's surplus to the following rows that got no values.

    Two layouts produce an overfull row followed by empty ones: values printed on the line above
    their (multi-line) label, as PDF text extraction often does, and a row whose label OCR lost.
    A group label holding values while its next child is empty is the same case. Returns the ids of
    rows whose label was never seen and which received values this way.
    """
    order = [s for s in specs if not s.is_group]
    lost: list[str] = []
    _spill_rows(a, order, lost)
    if _spill_groups(a, specs, order, lost):
        _spill_rows(a, order, lost)
    return lost


def _spill_rows(a: Assignment, order: list[RowSpec], lost: list[str]) -> None:
    for i, s in enumerate(order):
        r = a.rows.get(s.id)
        if r is None or s.n == 0 or len(r.values) < 2 * s.n:
            continue
        extra = r.values[s.n:]
        j = i + 1
        while len(extra) >= order[j].n if j < len(order) else False:
            t = order[j]
            tr = a.rows.get(t.id)
            if tr is not None and tr.values:
                break
            take, extra = extra[:t.n], extra[t.n:]
            if tr is None:
                a.rows[t.id] = RowRead(t, take[0], take, moved=True)
                lost.append(t.id)
            else:
                tr.values, tr.moved, tr.empty = take, True, False
            j += 1
        r.values = r.values[:s.n] + extra


def _spill_groups(a: Assignment, specs: tuple[RowSpec, ...], order: list[RowSpec], lost: list[str]) -> bool:
    moved = False
    for g in [s for s in specs if s.is_group]:
        gr = a.rows.get(g.id)
        if gr is None or not gr.values:
            continue
        prefix = g.id.split(":", 1)[1] + "."
        child = next((s for s in order if s.id.startswith(prefix)
                      and not (a.rows.get(s.id) and a.rows[s.id].values)), None)
        has_children = any(s.id.startswith(prefix) and s.id in a.rows for s in order)
        if child is not None and has_children:
            target = a.rows.get(child.id)
            if target is None:
                a.rows[child.id] = RowRead(child, gr.label, list(gr.values), moved=True)
                lost.append(child.id)
            else:
                target.values = list(gr.values)
                target.moved = True
            gr.values = []
            moved = True
    return moved

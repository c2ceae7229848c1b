"""Find a table's labels in the text as one ordered alignment of the template's label sequence.

Each label's core is looked up in the text's skeleton (extract/parse/skeleton.py), so line breaks, tabs,
pipes, page breaks and digits glued to a label do not matter. Every occurrence is a candidate; the
alignment picks at most one per label, in increasing position, maximising the evidence found
(longer labels and labels with their ordinal count more; skipping a label costs a little). Labels
left out are then looked for in the gap their neighbours leave — by similarity (OCR damage,
rewording), or by their printed ordinal — and every hit is widened over its ordinal and its note.
Table 二's rows do not depend on each other, so a row printed out of order is still taken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from nianbao.extract.parse.labels import LabelSpec, ordinal_pattern
from nianbao.extract.parse.settings import SETTINGS, ParserSettings
from nianbao.extract.parse.skeleton import Skeleton

_NUMBERS_FOLLOW = re.compile(r"[\s|｜\t]*\d")


@dataclass(frozen=True)
class Hit:
    """A label found in the text: its span (ordinal and note included), and how it was found."""

    spec: LabelSpec
    start: int
    end: int
    skel_start: int  # skeleton span of the core
    skel_end: int
    score: float
    how: str  # "exact", "variant", "fuzzy", "ordinal"
    ordinal: bool  # its ordinal was printed before it
    debris: tuple[int, int] | None = None  # a glyph that stands for the label's lost first character (7政强制)


class _MaxTree:
    """Prefix maxima over label positions (a Fenwick tree), for the ordered alignment."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.tree: list[tuple[float, int]] = [(float("-inf"), -1)] * (n + 1)

    def update(self, i: int, value: tuple[float, int]) -> None:
        i += 1
        while i <= self.n:
            if value[0] > self.tree[i][0]:
                self.tree[i] = value
            i += i & -i

    def query(self, i: int) -> tuple[float, int]:
        """Max over positions < i."""
        best = (float("-inf"), -1)
        while i > 0:
            if self.tree[i][0] > best[0]:
                best = self.tree[i]
            i -= i & -i
        return best


def _ordinal_before(text: str, start: int, spec: LabelSpec, reach: int = SETTINGS.ordinal_reach) -> tuple[bool, int]:
    """Whether the label's ordinal is printed right before `start`, and where it begins."""
    pattern = ordinal_pattern(spec.ordinal)
    if pattern is None:
        return False, start
    lo = max(0, start - reach)
    window = text[lo:start]
    m = pattern.search(window)
    if not m:
        return False, start
    begin = lo + m.start()
    printed = m.group().strip()
    if printed == spec.ordinal and spec.ordinal.isdigit():
        # a bare digit glued to the label: an ordinal only if no digit precedes it
        if begin > 0 and text[begin - 1].isdigit():
            return False, start
    return True, begin


def _weight(spec: LabelSpec, core_len: int, ordinal: bool, how: str, settings: ParserSettings) -> float:
    base = {"exact": settings.weight_exact, "variant": settings.weight_variant}.get(how, settings.weight_fuzzy)
    if spec.kind == "group":
        base *= settings.group_weight  # a group label holds no values: a row wins a tie against it
    if core_len <= settings.short_label:
        base *= settings.weight_short_with_ordinal if ordinal else settings.weight_short_alone
    elif core_len == 3:
        base *= settings.weight_three_chars
    return base + (settings.bonus_ordinal if ordinal else 0.0)


def _candidates(text: str, skel: Skeleton, spec: LabelSpec, sa: int, sb: int,
                settings: ParserSettings) -> list[Hit]:
    out: list[Hit] = []
    # the longest wording first, so 行政规范性文件 is taken whole where the label is 规范性文件: the
    # wording that contains the label's own core counts as exact
    cores = sorted({spec.core, *spec.variants} - {""}, key=len, reverse=True)
    for core in cores:
        how = "exact" if spec.core and spec.core in core else "variant"
        for k in skel.find_all(core, sa, sb, settings.max_hits_per_label):
            if any(k < h.skel_end and h.skel_start < k + len(core) for h in out):
                continue
            start, end = skel.span_to_text(k, k + len(core))
            ordinal, _ = _ordinal_before(text, start, spec)
            out.append(Hit(spec, start, end, k, k + len(core), _weight(spec, len(core), ordinal, how, settings),
                           how, ordinal))
    return out


def _ordered(specs: list[LabelSpec], cands: list[list[Hit]], skip: float) -> list[Hit | None]:
    """The best increasing chain: at most one hit per label, positions increasing with label order."""
    m = len(specs)
    items = sorted(((h.skel_start, i, h) for i, hs in enumerate(cands) for h in hs), key=lambda t: (t[0], t[1]))
    tree = _MaxTree(m)
    best: list[float] = []
    back: list[int] = []
    hits: list[tuple[int, Hit]] = []
    pending: list[tuple[int, int]] = []  # (skeleton end, item index) not yet usable as predecessors
    for start, i, h in items:
        still = []
        for end, idx in pending:
            if end <= start:
                tree.update(hits[idx][0], (best[idx] + skip * hits[idx][0], idx))
            else:
                still.append((end, idx))
        pending = still
        prev_val, prev_idx = tree.query(i)
        alone = h.score - skip * i
        chained = h.score - skip * (i - 1) + prev_val if prev_idx >= 0 else float("-inf")
        idx = len(hits)
        hits.append((i, h))
        if chained > alone:
            best.append(chained)
            back.append(prev_idx)
        else:
            best.append(alone)
            back.append(-1)
        pending.append((h.skel_end, idx))
    out: list[Hit | None] = [None] * m
    if not hits:
        return out
    final = max(range(len(hits)), key=lambda x: best[x] - skip * (m - 1 - hits[x][0]))
    while final >= 0:
        i, h = hits[final]
        out[i] = h
        final = back[final]
    return out


def _fuzzy(text: str, skel: Skeleton, spec: LabelSpec, a: int, b: int, settings: ParserSettings) -> Hit | None:
    """The label in skeleton window [a, b) by similarity, or by its printed ordinal."""
    if not spec.core or b - a < 2:
        return None
    window = skel.text[a:b]
    core = spec.core
    if len(core) > settings.short_label:
        found = fuzz.partial_ratio_alignment(core, window, score_cutoff=settings.label_match * 100)
        if found is not None and found.score >= settings.label_match * 100:
            s, e = a + found.dest_start, a + found.dest_end
            # trim window characters at either edge that the label does not have
            while s < e and skel.text[s] not in core:
                s += 1
            while e > s and skel.text[e - 1] not in core:
                e -= 1
            if e - s >= 2:
                start, end = skel.span_to_text(s, e)
                ordinal, _ = _ordinal_before(text, start, spec)
                score = found.score / 100 * _weight(spec, len(core), ordinal, "fuzzy", settings)
                debris = None
                lost = core.index(skel.text[s]) if skel.text[s] in core else 0
                glyphs = re.search(r"[\dOolI|]{1,2}$", text[max(0, start - 2):start])
                if lost and glyphs and len(glyphs.group()) <= lost:
                    debris = (start - len(glyphs.group()), start)  # 7政强制: the 7 is 行 misread
                    start = debris[0]
                return Hit(spec, start, end, s, e, score, "fuzzy", ordinal, debris)
    # by its ordinal: （七）总汁 — the ordinal printed, then a label most of whose characters are right
    pattern = ordinal_pattern(spec.ordinal)
    if pattern is None or not spec.ordinal or spec.ordinal.isdigit():
        return None
    ta, tb = skel.to_text(a) if a < len(skel.text) else len(text), skel.to_text(b - 1) + 1
    numeral = re.escape(spec.ordinal)
    for m in re.finditer(rf"[（(]\s*{numeral}\s*[)）]|{numeral}\s*[、.．]", text[max(0, ta - 6):tb]):
        after = max(0, ta - 6) + m.end()
        k = skel.from_text(after)
        if k >= b:
            break
        piece = skel.text[k:min(b, k + len(core))]
        same = sum(1 for x, y in zip(piece, core, strict=False) if x == y)
        if len(piece) == len(core) and same * 2 >= len(core):
            start, end = skel.span_to_text(k, k + len(core))
            return Hit(spec, max(0, ta - 6) + m.start(), end, k, k + len(core), 0.5, "ordinal", True)
    return None


def _widen(text: str, skel: Skeleton, h: Hit, settings: ParserSettings) -> Hit:
    """Take in the ordinal printed before the label and the note printed after it."""
    start, end = h.start, h.end
    if h.ordinal:
        _, start = _ordinal_before(text, h.start, h.spec)
    note = h.spec.note
    if note:
        k = h.skel_end
        window = skel.text[k:k + len(note) + 4]
        if window:
            found = fuzz.partial_ratio_alignment(note, window, score_cutoff=settings.note_match)
            if found is not None and found.dest_start <= 2:
                e = k + found.dest_end
                end = max(end, skel.to_text(e - 1) + 1)
                close = re.match(r"[^\d\u3400-\u9fff]{0,3}?[)）]", text[end:end + 4])
                if close:
                    end += close.end()
    return Hit(h.spec, start, end, h.skel_start, h.skel_end, h.score, h.how, h.ordinal, h.debris)


def align(text: str, skel: Skeleton, specs: list[LabelSpec], start: int, end: int, *,
          unordered_rows: bool = False, settings: ParserSettings = SETTINGS) -> list[Hit]:
    """The table's labels found in text[start:end], in text order."""
    sa, sb = skel.from_text(start), skel.from_text(end)
    cands = [_candidates(text, skel, s, sa, sb, settings) for s in specs]
    chosen = _ordered(specs, cands, settings.skip_label)
    # labels not found as printed: look in the gap between their found neighbours (rows before groups:
    # a group label is often printed after its first row, and must not take that row's place)
    for i in sorted(range(len(specs)), key=lambda i: (specs[i].kind == "group", i)):
        spec = specs[i]
        if chosen[i] is not None or not spec.core:
            continue
        lo = next((chosen[j].skel_end for j in range(i - 1, -1, -1) if chosen[j] is not None), sa)
        hi = next((chosen[j].skel_start for j in range(i + 1, len(specs)) if chosen[j] is not None), sb)
        if hi - lo > settings.max_fuzzy_gap:
            hi = lo + settings.max_fuzzy_gap if i > 0 and chosen[i - 1] is not None else hi
            lo = max(lo, hi - settings.max_fuzzy_gap)
        chosen[i] = _fuzzy(text, skel, spec, lo, hi, settings)
    hits = [h for h in chosen if h is not None]
    if unordered_rows:  # rows with no identities between them may be printed in any order
        for i, spec in enumerate(specs):
            if chosen[i] is not None or spec.kind != "row":
                continue
            for h in cands[i]:
                # a short label (规章) counts only where numbers follow it, as in a table row
                if (h.score >= settings.unordered_min_score or _NUMBERS_FOLLOW.match(text, h.end)) and \
                        not any(o.skel_start < h.skel_end and h.skel_start < o.skel_end for o in hits):
                    hits.append(h)
                    break
    hits = [_widen(text, skel, h, settings) for h in hits]
    hits.sort(key=lambda h: h.start)
    # a widened hit must not reach into the next one
    out: list[Hit] = []
    for h in hits:
        if out and h.start < out[-1].end:
            prev = out[-1]
            out[-1] = Hit(prev.spec, prev.start, max(prev.start + 1, min(prev.end, h.start)), prev.skel_start,
                          prev.skel_end, prev.score, prev.how, prev.ordinal, prev.debris)
        out.append(h)
    return out


def stops(text: str, skel: Skeleton, words: tuple[str, ...], start: int, end: int,
          hits: list[Hit]) -> list[tuple[int, int]]:
    """Header words printed in text[start:end] outside any label: they end the row before them."""
    sa, sb = skel.from_text(start), skel.from_text(end)
    taken = [(h.skel_start, h.skel_end) for h in hits]
    out: list[tuple[int, int]] = []
    for w in words:
        for k in skel.find_all(w, sa, sb, 64):
            e = k + len(w)
            if any(a < e and k < b for a, b in taken):
                continue
            taken.append((k, e))
            out.append(skel.span_to_text(k, e))
    return sorted(out)

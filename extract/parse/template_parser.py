"""The template parser: tables 二, 三 and 四 of any layout → every cell of the template, with provenance.

One mechanism for every layout:
1. find the report's section headings and each table's labels in the character stream
   (extract/parse/sections.py, extract/parse/align.py) — line breaks, tabs and pipes do not matter;
2. a row's values are the pieces printed between its label and the next label or header word
   (extract/parse/pieces.py); tables whose rows are uniform (table 三) hand values torn from their labels
   on to the rows that lost them, keeping the template's order;
3. every reading those pieces allow is weighed (nianbao/readings.py) and the template's identities
   choose (nianbao/identities.choose_readings): row sums inside each row, then the column identities
   across table 三. What they leave open is reported as uncertain with its options; nothing is shifted
   silently, and everything the parser could not settle becomes a ParseIssue for the rules.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import cache

from nianbao.data import load
from nianbao.document import Document
from nianbao.extract.parse.align import Hit, align, stops
from nianbao.extract.parse.labels import LabelSpec, groups_children, header_words, table_labels
from nianbao.extract.parse.pieces import CJK, MAX_INT_DIGITS, Debris, Lines, Printed, read_pieces
from nianbao.extract.parse.sections import find_headings
from nianbao.extract.parse.settings import SETTINGS, ParserSettings
from nianbao.extract.parse.skeleton import Skeleton, skeletonise
from nianbao.identities import RowOptions, choose_readings, identities, row_groups
from nianbao.models import CellReading, Extraction, Meta, issue, trusted
from nianbao.readings import PLAIN_COST, Piece, Reading, row_readings
from nianbao.spec import T3_COLUMNS, keys, resolve_template

TABLE_NAMES = {"t2": "表二", "t3": "表三", "t4": "表四"}


@dataclass
class _Row:
    """One template row as found: its label hit (if any) and the pieces printed for it."""

    spec: LabelSpec
    hit: Hit | None
    pieces: list[Printed] = field(default_factory=list)
    moved: bool = False  # its values came from a neighbour's region (label torn from its numbers)


class _Builder:
    """Collects cells and issues for one report."""

    def __init__(self, doc: Document, meta: Meta, template: str, settings: ParserSettings) -> None:
        self.doc = doc
        self.text = doc.text
        self.template = template
        self.settings = settings
        self.costs = settings.reading
        self.ex = Extraction(report=doc.name, meta=meta)
        self.keys = keys(template)
        self.keys_set = frozenset(self.keys)
        self.skel = Skeleton.of(doc.text)
        self.lines = Lines(doc.text)
        self.rows_by_start: list[_Row] = []  # the rows of the table being read, by label position
        self.blank_cells = sorted(c.start for g in doc.grids for c in g.cells if c.start == c.end and not c.covered)

    # ------------------------------------------------------------------ output

    def finish(self) -> Extraction:
        """Every key of the template present: cells nothing was read for are missing (None)."""
        cells = self.ex.cells
        self.ex.cells = {k: cells.get(k) or CellReading(key=k, value=None, confidence=0.0, note="missing")
                         for k in self.keys}
        return self.ex

    def issue(self, kind: str, keys_: list[str], detail: str, span: tuple[int, int] | None = None,
              **data: object) -> None:
        sp = self.doc.span(*span) if span else None
        self.ex.issues.append(issue(kind, keys=keys_, detail=detail, span=sp, **data))

    def put(self, key: str, value: int | float | None, span: tuple[int, int] | None, raw: str, how: str,
            confidence: float) -> None:
        if key not in self.keys_set:
            return
        cell = trusted(CellReading, {"key": key, "value": value, "raw": raw,
                                           "span": self.doc.span(*span) if span else None,
                                           "confidence": confidence, "reader": "rules", "note": how or None})
        if span is not None and self.doc.boxes:
            box_conf = [b.confidence for b in self.doc.boxes_in(*span) if b.confidence is not None]
            if box_conf:
                cell.confidence = min(cell.confidence, min(box_conf))
        self.ex.cells[key] = cell

    # ------------------------------------------------------------------ pieces

    def pieces(self, start: int, end: int, cuts: tuple[int, ...] = (),
               signed: tuple[tuple[int, int], ...] = ()) -> tuple[list[Printed], list[Debris]]:
        blanks = tuple(p for p in self.blank_cells if start <= p < end) if self.blank_cells else ()
        return read_pieces(self.text, start, end, blanks, self.lines, cuts, signed)


def _label(b: _Builder, row: _Row) -> str:
    """The row's label as printed (whitespace collapsed), or the template's words if it was not found."""
    if row.hit is None:
        return row.spec.core
    return " ".join(b.text[row.hit.start:row.hit.end].split())


def _confidence(how: str, repaired: bool, s: ParserSettings = SETTINGS) -> float:
    if repaired:
        return s.confidence_repaired
    return {"": 1.0, "split": s.confidence_split, "merged": s.confidence_merged, "blank": 1.0,
            "missing": 0.0}.get(how, s.confidence_other)


# ---------------------------------------------------------------------------- locating the tables


@cache
def _t2_start_pattern() -> re.Pattern[str]:
    """The words table 二 begins with (data/layout.json), spaces allowed between their characters."""
    def spaced(word: str) -> str:
        return r"\s*".join("[（(]" if ch in "（(" else re.escape(ch) for ch in word)
    return re.compile("|".join(spaced(w) for w in load("layout")["t2_start_words"]))


def _t2_start(text: str, start: int, end: int) -> int:
    """Where table 二 begins: its first 第二十条第（X）项 sub-heading or 信息内容 header, else -1."""
    m = _t2_start_pattern().search(text, start, end)
    return m.start() if m else -1


def _strong_t3(hits: list[Hit], s: ParserSettings) -> bool:
    """Table 三 is really there: one of its long labels, or many of its rows."""
    rows = [h for h in hits if h.spec.kind == "row"]
    return any(len(h.spec.core) >= s.t3_strong_label and h.how in ("exact", "variant") for h in rows) or \
        len(rows) >= s.t3_min_rows


def _prose_cut(b: _Builder, table: str, start: int, end: int) -> int:
    """Where the last row of a table stops: at the first sentence that follows its values."""
    words = header_words(table)
    pieces, _ = b.pieces(start, end)
    if not pieces:
        return end
    last = pieces[0].end
    for p in pieces[1:]:
        between = skeletonise(b.text[last:p.start])
        for w in words:
            between = between.replace(w, "")
        if len(between) >= b.settings.prose_min_chars or any(ch in b.text[last:p.start] for ch in "。；"):
            return last
        last = p.end
    tail = b.text[last:end]
    return last if len(skeletonise(tail)) >= b.settings.prose_min_chars else end


# ---------------------------------------------------------------------------- rows


def _row_regions(b: _Builder, hits: list[Hit], specs: tuple[LabelSpec, ...], table: str, start: int,
                 end: int) -> dict[str, _Row]:
    """Each found label's pieces: what lies between it and the next label (or table 二's next header
    word), the last one up to the first sentence after its values. Read from the label's start: a
    wrapped label may hold its values on its first line."""
    cuts = {h.start for h in hits} | {end}
    if table == "t2":  # a lost sub-heading's column words still end the row before them
        cuts |= {s for s, _ in stops(b.text, b.skel, header_words(table), start, end, hits)}
    ordered = sorted(cuts)
    bounds = []
    for i, h in enumerate(hits):
        nxt = ordered[bisect.bisect_left(ordered, h.end)] if h.end <= ordered[-1] else end
        if i == len(hits) - 1:
            nxt = min(nxt, _prose_cut(b, table, h.end, nxt))
        bounds.append((h.start, max(nxt, h.start)))
    out: dict[str, _Row] = {s.id: _Row(s, None) for s in specs}
    if not hits:
        return out
    lo, hi = bounds[0][0], max(e for _, e in bounds)
    edges = tuple(sorted({x for bd in bounds for x in bd} | set(ordered)))
    signed = tuple(bd for h, bd in zip(hits, bounds, strict=True) if h.spec.signed)
    pieces, debris = b.pieces(lo, hi, edges, signed)
    starts = [p.start for p in pieces]
    dstarts = [d.start for d in debris]
    for i, (h, (s, e)) in enumerate(zip(hits, bounds, strict=True)):
        mine = pieces[bisect.bisect_left(starts, s):bisect.bisect_left(starts, e)]
        mine = [p for p in mine if p.end <= e or p.start == p.end]
        if h.ordinal:  # 3.⏎危及…: the ordinal a line break parted from its label is no value
            mine = [p for p in mine if not (p.raw == h.spec.ordinal and p.end <= _core_start(b.text, h))]
        if i + 1 < len(hits) and table == "t3":
            mine = _without_glued_ordinal(b, h.spec, mine, hits[i + 1])
        # empty cells after a row's last value and beyond its width belong to a wider row's columns
        while len(mine) > h.spec.n and mine[-1].piece.blank and not mine[-1].raw:
            mine = mine[:-1]
        out[h.spec.id] = _Row(h.spec, h, mine)
        _report_debris(b, h, debris[bisect.bisect_left(dstarts, s):bisect.bisect_left(dstarts, e)], table)
        if h.debris is not None:
            raw = b.text[h.debris[0]:h.debris[1]]
            keys_ = list(h.spec.keys[:1]) if table == "t3" else list(h.spec.keys)
            b.issue("ocr_repair", keys_, f"标签文字中的“{raw}”是被识别成数字的字形，不是数值", h.debris,
                    raw=raw, stray=True)
    return out


def _core_start(text: str, h: Hit) -> int:
    """Where the label's words begin, after its printed ordinal."""
    m = CJK.search(text, h.start, h.end)
    return m.start() if m else h.start


def _without_glued_ordinal(b: _Builder, spec: LabelSpec, pieces: list[Printed], nxt: Hit) -> list[Printed]:
    """`00000002其他法律…`: the next row's ordinal 2 printed without its dot, glued to this row's run.

    Both readings are tried; the digit goes to the ordinal when that makes the row's sums hold and
    keeping it does not."""
    numeral = nxt.spec.ordinal
    if not pieces or not numeral.isdigit() or nxt.ordinal:
        return pieces
    last = pieces[-1]
    if last.end != nxt.start or not last.piece.digits.endswith(numeral) or len(last.piece.digits) <= len(numeral):
        return pieces
    digits = last.piece.digits[: -len(numeral)]
    if not _int_ok_run(digits):
        return pieces
    cut = Printed(Piece(int(digits) if len(digits) <= MAX_INT_DIGITS else None, digits, last.piece.sign, "", last.piece.gap,
                        last.piece.isolated), last.start, last.end - len(numeral), last.raw[: -len(numeral)],
                  last.repaired, last.unit)
    stripped = pieces[:-1] + [cut]
    groups = row_groups(spec.keys, b.template)
    keep = row_readings([p.piece for p in pieces], spec.n, groups, b.costs, spec.signed)[0]
    strip = row_readings([p.piece for p in stripped], spec.n, groups, b.costs, spec.signed)[0]
    return stripped if (strip.violations, strip.cost) <= (keep.violations, keep.cost) else pieces


def _int_ok_run(digits: str) -> bool:
    return bool(digits) and digits.isdigit()


def _report_debris(b: _Builder, h: Hit, debris: list[Debris], table: str) -> None:
    """A lone glyph glued to a fragment of a label is OCR damage of the label; say so."""
    cores = [s.core for s in table_labels(b.template, table) if s.core] + list(header_words(table))
    for d in debris:
        if len(d.raw) != 1 or b.text[d.end:d.end + 1] in ".．、":
            continue
        after = skeletonise(b.text[d.end:d.end + 6])[:3]
        if len(after) >= 2 and any(after in c for c in cores):
            keys_ = list(h.spec.keys[:1]) if table == "t3" else list(h.spec.keys)
            b.issue("ocr_repair", keys_, f"标签文字中的“{d.raw}”是被识别成数字的字形，不是数值", (d.start, d.end),
                    raw=d.raw, stray=True)


def _rebalance(rows: list[_Row], n: int, reach: int) -> list[str]:
    """Hand values torn from their labels on to the rows that lost them, keeping template order.

    A run of consecutive rows whose printed values come in whole rows (0, n, 2n … each, not all n)
    and add up to n per row has its values dealt out again in order: a label printed after its
    numbers, or lost, leaves the numbers with a neighbour. Returns the rows that received values.
    """
    moved: list[str] = []
    counts = [len(r.pieces) for r in rows]
    i = 0
    while i < len(rows):
        if counts[i] % n or counts[i] == n:
            i += 1
            continue
        best = None
        for a in range(i, max(-1, i - reach), -1):
            if counts[a] % n:
                break
            for z in range(i, min(len(rows), i + reach + 1)):
                if counts[z] % n:
                    break
                window = counts[a:z + 1]
                if sum(window) == n * len(window) and any(c != n for c in window):
                    if best is None or (z - a) < (best[1] - best[0]):
                        best = (a, z)
        if best is None:
            i += 1
            continue
        a, z = best
        pool = [p for r in rows[a:z + 1] for p in r.pieces]
        for k, r in enumerate(rows[a:z + 1]):
            new = pool[k * n:(k + 1) * n]
            if [id(p) for p in new] != [id(p) for p in r.pieces]:
                r.moved = True
                moved.append(r.spec.id)
            r.pieces = new
        for k in range(a, z + 1):
            counts[k] = n
        i = z + 1
    return moved


def _options(b: _Builder, row: _Row, groups) -> RowOptions:
    pieces = [p.piece for p in row.pieces]
    readings = row_readings(pieces, row.spec.n, groups, b.costs, row.spec.signed)
    return RowOptions(row.spec.id, row.spec.keys, groups, tuple(readings))


def _cell_spans(row: _Row, reading: Reading) -> list[tuple[tuple[int, int] | None, str]]:
    """Where each cell's characters are: the piece, or for a cut run the cell's own digits within it."""
    out: list[tuple[tuple[int, int] | None, str]] = []
    offsets: dict[int, int] = {}
    for value, q, how in zip(reading.values, reading.pieces, reading.how, strict=True):
        if q < 0:
            out.append((None, ""))
            continue
        p = row.pieces[q]
        if how == "split" and value is not None:
            # a repaired run (000O011) is searched in its repaired digits: a glyph stands where its digit does
            raw_digits = p.piece.digits if p.repaired and len(p.piece.digits) == len(p.raw) else p.raw
            text = str(abs(int(value))) if float(value).is_integer() else None
            off = offsets.get(q, 0)
            if text is not None:
                at = raw_digits.find(text, off)
                if at >= 0:
                    lead = at
                    if off == 0 and p.piece.sign:
                        lead = 0
                    end = at + len(text)
                    if p.piece.decimal and end + len(p.piece.decimal) <= len(raw_digits) and \
                            raw_digits[end:end + len(p.piece.decimal)] in (p.piece.decimal, p.piece.decimal.replace(".", "．")):
                        end += len(p.piece.decimal)
                    offsets[q] = end
                    out.append(((p.start + lead, p.start + end), raw_digits[lead:end]))
                    continue
            out.append(((p.start, p.end), p.raw))
        elif how == "merged":
            nxt = row.pieces[q + 1] if q + 1 < len(row.pieces) else p
            out.append(((p.start, nxt.end), p.raw + " " + nxt.raw))
        else:
            out.append(((p.start, p.end), p.raw))
    return out


def _write_row(b: _Builder, row: _Row, reading: Reading, label: str) -> None:
    spans = _cell_spans(row, reading)
    used = {q for q in reading.pieces if q >= 0}
    if reading.kind != "exact":
        # a glyph read as a digit in a row read with a gap, a cut or an extra cell: which cell it
        # belongs to is itself a guess, so the issue names the whole row
        for q, p in enumerate(row.pieces):
            if p.repaired and (q in reading.dropped or q in used):
                # one issue per cell the chosen reading puts a glyph in (a cut run spreads over several),
                # so the finding names that cell rather than the row's first
                glyphs = [p.start + i for i, ch in enumerate(p.raw) if not ch.isdigit() and ch not in ".,"]
                cells = [(k, v) for k, v, used_q, (span, _) in zip(row.spec.keys, reading.values, reading.pieces, spans,
                                                                   strict=True)
                         if used_q == q and span and any(span[0] <= g < span[1] for g in glyphs)]
                for cell, value in cells or [(None, p.piece.value)]:
                    b.issue("ocr_repair", list(row.spec.keys), f"{label}：“{p.raw}”按字形读作数字", (p.start, p.end),
                            raw=p.raw, value=value, cell=cell)
    for key, value, q, how, (span, raw) in zip(row.spec.keys, reading.values, reading.pieces, reading.how, spans,
                                               strict=True):
        p = row.pieces[q] if q >= 0 else None
        repaired = bool(p and p.repaired)
        note = how or ("ocr" if repaired else "")
        b.put(key, value, span, raw, note, _confidence(how, repaired, b.settings))
        if repaired and p is not None and reading.kind == "exact":
            b.issue("ocr_repair", [key], f"{label}：“{p.raw}”读作 {value}", (p.start, p.end), raw=p.raw,
                    value=value, cell=key)
        if p is not None and p.unit == "yuan" and value is not None and key.endswith("_wan"):
            b.ex.cells[key].value = round(value / 10000, 6)
            b.ex.cells[key].note = "元→万元"
            b.issue("fee_in_yuan", [key], f"{label}：“{p.raw}”以元列示，换算为 {value / 10000:g} 万元",
                    (p.start, p.end), raw=p.raw, value_yuan=value)
        if how == "blank" and p is not None:
            shown = p.raw or "空"
            b.issue("blank_cell", [key], f"{label}：单元格印为“{shown}”", (p.start, max(p.end, p.start)), raw=p.raw)
    if row.hit is not None or row.pieces:
        starts = [row.hit.start] if row.hit else []
        ends = [row.hit.end] if row.hit else []
        starts += [p.start for p in row.pieces]
        ends += [p.end for p in row.pieces]
        b.ex.row_spans[f"{row.spec.table}.{row.spec.id}" if row.spec.table != "t4" else "t4"] = (min(starts), max(ends))


def _report_reading(b: _Builder, row: _Row, reading: Reading, label: str) -> None:
    keys_ = list(row.spec.keys)
    n = row.spec.n
    found = len([p for p in row.pieces])
    span = (row.hit.start, row.hit.end) if row.hit else ((row.pieces[0].start, row.pieces[-1].end) if row.pieces else None)
    kind = reading.kind
    if kind == "exact":
        return
    if kind == "split":
        b.issue("merged_digits", keys_, f"{label}：数字串按勾稽关系拆分为 {list(reading.values)}", span,
                raw=" ".join(p.raw for p in row.pieces), split=list(reading.values))
    elif kind == "short":
        missing = [k for k, h in zip(keys_, reading.how, strict=True) if h == "missing"]
        printed = len([h for h in reading.how if h != "missing"])
        b.issue("short_row", keys_, f"{label}：应有 {n} 个数，只读到 {printed} 个", span,
                expected=n, found=printed, label=label, missing=missing)
    elif kind == "merged":
        merged = [k for k, h in zip(keys_, reading.how, strict=True) if h == "merged"]
        b.issue("split_cell", merged or keys_, f"{label}：相邻单元格合读（如 2|0 → 20）后行合计成立", span,
                expected=n, found=found, label=label)
    elif kind == "long":
        dropped = [row.pieces[q] for q in reading.dropped]
        isolated = [p for p in dropped if p.piece.isolated and len(p.raw) <= b.settings.stray_max_chars]
        for p in isolated:
            owner = _label_on_line(b, p) or row
            own = list(owner.spec.keys)
            b.issue("ocr_repair", own[:1] if row.spec.table == "t3" else own,
                    f"行标签旁的“{p.raw}”不属于任何单元格，已忽略", (p.start, p.end), raw=p.raw, stray=True)
        rest = [p for p in dropped if p not in isolated]
        if rest:
            b.issue("long_row", keys_, f"{label}：应有 {n} 个数，读到 {found} 个", span,
                    expected=n, found=found, label=label, extra=[p.raw or "空" for p in rest])


def _label_on_line(b: _Builder, p: Printed) -> _Row | None:
    """The row whose label follows a stray glyph on its own line (OCR debris of that label's ordinal)."""
    line_end = b.text.find("\n", p.end)
    line_end = len(b.text) if line_end < 0 else line_end
    for r in b.rows_by_start:
        if r.hit is not None and p.end <= r.hit.start < line_end:
            return r
    return None


def _torn_column(b: _Builder, specs: tuple[LabelSpec, ...], rows: dict[str, _Row]) -> set[str]:
    """Values printed under a 第二十条 sub-heading but before its rows, one per row that lacks one.

    A PDF conversion may print a column whose cells hold notes (22（其中修订 16 件）) apart from the
    table. When a block's rows each lack one value and exactly that many stray values stand before
    them, each row takes its stray value back; the column it belongs to cannot be read from the text,
    so every position stays an option. Returns the rows that took one.
    """
    taken: set[str] = set()
    blocks: list[tuple[_Row, list[_Row]]] = []
    for spec in specs:
        if spec.kind == "sub":
            blocks.append((rows[spec.id], []))
        elif spec.kind == "row" and blocks:
            blocks[-1][1].append(rows[spec.id])
    for sub, block in blocks:
        strays = [p for p in sub.pieces if not p.piece.blank]
        short = [r for r in block if r.pieces and len(r.pieces) == r.spec.n - 1]
        if not strays or len(short) != len(strays) or len({r.spec.n for r in short}) != 1:
            continue
        for r, p in zip(short, strays, strict=True):
            r.pieces = r.pieces + [p]
            taken.add(r.spec.id)
        names = "、".join(_label(b, r) for r in short)
        b.issue("moved_values", [k for r in short for k in r.spec.keys],
                f"{_label(b, sub)}下有 {len(strays)} 个数值印在表格之外，已按行序还给 {names}（所在列无法从文字确定）",
                (strays[0].start, strays[-1].end), rows=sorted(taken))
    return taken


def _insertions(row: _Row) -> RowOptions:
    """A row whose last piece is a stray value taken back: that value in every column, equally likely."""
    n = row.spec.n
    printed = list(range(len(row.pieces) - 1))
    stray = len(row.pieces) - 1
    readings = []
    for pos in range(n):
        order = printed[:pos] + [stray] + printed[pos:]
        values = tuple(row.pieces[q].piece.value for q in order)
        how = tuple("blank" if row.pieces[q].piece.blank else "" for q in order)
        readings.append(Reading(values, tuple(order), how, (), 0.0, 0))
    return RowOptions(row.spec.id, row.spec.keys, (), tuple(readings))


def _read_table(b: _Builder, table: str, rows: list[_Row], column_ids: list, torn: set[str] = frozenset()) -> None:
    """Choose every row's reading with the identities, write the cells, report what is doubtful."""
    options = []
    by_id = {r.spec.id: r for r in rows}
    b.rows_by_start = sorted((r for r in rows if r.hit is not None), key=lambda r: r.hit.start)
    for r in rows:
        if not r.pieces:
            continue
        if r.spec.id in torn:
            options.append(_insertions(r))
            continue
        options.append(_options(b, r, row_groups(r.spec.keys, b.template)))
    choice = choose_readings(options, column_ids, open_margin=b.settings.reading.reach,
                             ambiguity_margin=b.settings.ambiguity_margin,
                             max_combinations=b.settings.max_combinations)
    for row_id, reading in choice.picks.items():
        r = by_id[row_id]
        label = _label(b, r)
        _write_row(b, r, reading, label)
        if reading.cost >= PLAIN_COST:  # no reading at all: one finding saying why, not a guess
            digits = sum(len(p.piece.digits) for p in r.pieces)
            b.issue("long_row", list(r.spec.keys),
                    f"{label}：印有 {digits} 位数字，按 {r.spec.n} 格找不到合理的读法（太长或读法太多），各格未读",
                    (r.pieces[0].start, r.pieces[-1].end), expected=r.spec.n, found=len(r.pieces), label=label,
                    too_long=True)
        else:
            _report_reading(b, r, reading, label)
    for row_id, opts in choice.options.items():
        r = by_id[row_id]
        differ = sorted(k for k in choice.uncertain if k in r.spec.keys)
        b.ex.uncertain.extend(k for k in r.spec.keys if k in differ and k not in b.ex.uncertain)
        label = _label(b, r)
        span = (r.pieces[0].start, r.pieces[-1].end) if r.pieces else None
        b.issue("ambiguous_split", differ, f"{label}：多种读法都符合勾稽关系，取最可能的一种", span,
                row_keys=list(r.spec.keys), options=[list(o) for o in opts], label=label,
                raw=" ".join(p.raw for p in r.pieces))


# ---------------------------------------------------------------------------- tables


def _parse_t2(b: _Builder, start: int, end: int) -> None:
    specs = table_labels(b.template, "t2")
    hits = align(b.text, b.skel, list(specs), start, end, unordered_rows=True, settings=b.settings)
    subs = [h for h in hits if h.spec.kind == "sub"]
    row_hits = [h for h in hits if h.spec.kind == "row"]
    heads = stops(b.text, b.skel, header_words("t2"), start, end, hits)
    if not row_hits or (not subs and not heads and len(row_hits) < b.settings.t2_min_rows_without_header):
        b.issue("missing_table", [], "未找到表二的数据", table="t2")
        return
    rows = _row_regions(b, hits, specs, "t2", start, end)
    found = [r for r in rows.values() if r.spec.kind == "row" and r.pieces]
    if not found:
        b.issue("missing_table", [], "表二只有表头，没有数值", table="t2")
        return
    b.ex.tables_found.append("t2")
    first = min([h.start for h in hits] + [s for s, _ in heads])
    last = max([r.pieces[-1].end for r in found] + [h.end for h in row_hits])
    b.ex.sections["table:t2"] = (first, last)
    table_rows = [r for r in rows.values() if r.spec.kind == "row"]
    torn = _torn_column(b, specs, rows)
    _read_table(b, "t2", [r for r in table_rows if r.pieces], [], torn)
    for r in table_rows:
        if r.pieces:
            continue
        if r.hit is not None:
            b.issue("short_row", list(r.spec.keys), f"{r.spec.core}：应有 {r.spec.n} 个数，没有印数值",
                    (r.hit.start, r.hit.end), expected=r.spec.n, found=0, label=r.spec.core,
                    missing=list(r.spec.keys))
        else:
            b.issue("short_row", list(r.spec.keys), f"未找到“{r.spec.core}”行", None, expected=r.spec.n, found=0,
                    label=r.spec.core, missing=list(r.spec.keys))


def _locate_t3(b: _Builder, sections: dict[str, tuple[int, int]]) -> tuple[list[Hit], int, int] | None:
    specs = list(table_labels(b.template, "t3"))
    tries = []
    if "三" in sections:
        s = sections["三"][0]
        e = sections["四"][0] if "四" in sections and sections["四"][0] > s else len(b.text)
        tries.append((s, e))
    tries.append((0, len(b.text)))
    for s, e in tries:
        hits = align(b.text, b.skel, specs, s, e, settings=b.settings)
        if _strong_t3(hits, b.settings):
            return hits, s, e
    return None


def _parse_t3(b: _Builder, hits: list[Hit], end: int) -> int:
    """Table 三 from its label hits; returns where its last value ends."""
    specs = table_labels(b.template, "t3")
    start = hits[0].start
    rows = _row_regions(b, hits, specs, "t3", start, end)
    children = groups_children(b.template)
    # values printed after a group label belong to its first row, unless it is a 2019-style single row
    ordered = [rows[s.id] for s in specs]
    for i, r in enumerate(ordered):
        if r.spec.kind != "group" or not r.pieces:
            continue
        kids = children.get(r.spec.id, ())
        if kids and not any(rows[k.id].hit for k in kids):
            _template_mix(b, r, kids)
            r.pieces = []
            continue
        nxt = next((x for x in ordered[i + 1:] if x.spec.kind == "row"), None)
        if nxt is not None:
            nxt.pieces = r.pieces + nxt.pieces
        r.pieces = []
    value_rows = [r for r in ordered if r.spec.kind == "row"
                  and not (r.spec.parent and r.spec.id.startswith("other_processing.")
                           and any(i.kind == "template_mix" for i in b.ex.issues))]
    moved = _rebalance(value_rows, len(T3_COLUMNS), b.settings.rebalance_reach)
    if moved:
        moved_keys = [k for r in value_rows if r.spec.id in moved for k in r.spec.keys]
        names = "、".join(_label(b, r) for r in value_rows if r.spec.id in moved)
        b.issue("moved_values", moved_keys, f"{len(moved)} 行的数值与行标签分开印刷，已按模板的行序对应：{names}",
                None, rows=moved)
    found = [r for r in value_rows if r.pieces]
    if not found:
        b.issue("missing_table", [], "表三只有表头，没有数值", table="t3")
        return start
    b.ex.tables_found.append("t3")
    last = max(r.pieces[-1].end for r in found)
    b.ex.sections["table:t3"] = (start, last)
    column_ids = [i for i in identities(b.template) if i.kind in ("balance", "result_sum")]
    _read_table(b, "t3", found, column_ids)
    mixed = any(i.kind == "template_mix" for i in b.ex.issues)
    for r in value_rows:
        if r.pieces:
            continue
        if mixed and r.spec.id.startswith("other_processing."):
            continue
        label = _label(b, r)
        if r.hit is not None:
            b.issue("short_row", list(r.spec.keys), f"{label}：应有 {r.spec.n} 个数，没有印数值",
                    (r.hit.start, r.hit.end), expected=r.spec.n, found=0, label=label, missing=list(r.spec.keys))
        else:
            b.issue("short_row", list(r.spec.keys), f"未找到“{label}”行", None, expected=r.spec.n, found=0,
                    label=label, missing=list(r.spec.keys))
    return last


def _template_mix(b: _Builder, group: _Row, kids: tuple[LabelSpec, ...]) -> None:
    """Values printed after a group label with none of its rows: the 2019-style single （六）其他处理 row."""
    readings = row_readings([p.piece for p in group.pieces], len(T3_COLUMNS), row_groups(kids[0].keys, b.template),
                            b.costs)
    reading = min(readings, key=lambda x: (x.violations, x.cost))
    sub_keys = [k for c in kids for k in c.keys]
    spans = _cell_spans(group, reading)
    for col, value in enumerate(reading.values):
        for c in kids:
            key = c.keys[col]
            if value == 0:
                span, raw = spans[col]
                b.put(key, 0, span, raw, "forced: single row printed 0", b.settings.confidence_other)
            else:
                b.put(key, None, None, "", "missing", 0.0)
    label = _label(b, group)
    b.issue("template_mix", sub_keys, f"{label}：按 2019 版模板印为一行（2021 版应分 3 行）",
            (group.hit.start, group.hit.end) if group.hit else None, printed=list(reading.values), label=label)


def _parse_t4(b: _Builder, start: int, end: int) -> None:
    words = header_words("t4")
    heads = stops(b.text, b.skel, words, start, end, [])
    groups = load("layout")["t4_column_groups"]
    specific = [h for h in heads if skeletonise(b.text[h[0]:h[1]]) not in groups]
    values_from = specific[0][0] if specific else (heads[0][0] if heads else start)
    cut = _prose_cut(b, "t4", values_from, end)
    pieces, debris = b.pieces(values_from, cut)
    # without its column words, a table 四 is only a row of numbers nearly as long as its 15 cells
    if not pieces or (not specific and len(pieces) < b.settings.t4_min_cells_without_header):
        b.issue("missing_table", [], "未找到表四" if not pieces else "表四的位置只有零散数字，没有表头", table="t4")
        return
    spec = table_labels(b.template, "t4")[-1]
    row = _Row(spec, None, pieces)
    b.ex.tables_found.append("t4")
    t4_start = heads[0][0] if heads else pieces[0].start
    b.ex.sections["table:t4"] = (t4_start, pieces[-1].end)
    options = _options(b, row, row_groups(spec.keys, b.template))
    choice = choose_readings([options], [], ambiguity_margin=b.settings.ambiguity_margin)
    reading = choice.picks[spec.id]
    _write_row(b, row, reading, "表四")
    if reading.cost >= PLAIN_COST:
        digits = sum(len(p.piece.digits) for p in pieces)
        b.issue("long_row", list(spec.keys), f"表四：印有 {digits} 位数字，按 15 格找不到合理的读法（太长或读法太多），各格未读",
                (pieces[0].start, pieces[-1].end), expected=15, found=len(pieces), label="表四", too_long=True)
    else:
        _report_reading(b, row, reading, "表四")
    b.ex.row_spans["t4"] = (t4_start, pieces[-1].end)
    if choice.options.get(spec.id):
        differ = sorted(choice.uncertain)
        b.ex.uncertain.extend(k for k in spec.keys if k in differ and k not in b.ex.uncertain)
        b.issue("ambiguous_split", differ, "表四：多种读法都符合勾稽关系，取最可能的一种",
                (pieces[0].start, pieces[-1].end), row_keys=list(spec.keys),
                options=[list(o) for o in choice.options[spec.id]], label="表四",
                raw=" ".join(p.raw for p in pieces))


def parse_tables(doc: Document, meta: Meta, settings: ParserSettings = SETTINGS) -> Extraction:
    """Every cell of the report's template version, with provenance, issues and section spans."""
    template = resolve_template(meta.template)
    b = _Builder(doc, meta, template, settings)
    text = doc.text
    found = find_headings(text)
    sections: dict[str, tuple[int, int]] = {}
    for i, h in enumerate(found):
        sections[h.section] = (h.start, found[i + 1].start if i + 1 < len(found) else len(text))
    b.ex.sections.update(sections)
    heading_end = {h.section: h.end for h in found}
    # table 三 first: its labels are the most specific, and they bound tables 二 and 四
    located = _locate_t3(b, sections)
    t3_start = located[0][0].start if located else sections.get("三", (len(text),))[0]
    # table 二: from its section (or its first 第二十条) to table 三
    t2_from = _t2_start(text, sections.get("二", (0,))[0], t3_start)
    if t2_from < 0:
        t2_from = heading_end.get("二", -1)
    t2_to = t3_start if located else sections.get("三", sections.get("四", (len(text),)))[0]
    heading3 = sections.get("三", (None,))[0]
    if heading3 is not None and 0 <= t2_from < heading3 < t2_to:
        t2_to = heading3
    if 0 <= t2_from < t2_to:
        _parse_t2(b, t2_from, t2_to)
    else:
        b.issue("missing_table", [], "未找到表二", table="t2")
    # table 三
    t4_heading = sections.get("四", (None,))[0]
    if located:
        hits, _, search_end = located
        t3_end = t4_heading if t4_heading is not None and t4_heading > hits[-1].start else search_end
        t3_last = _parse_t3(b, hits, t3_end)
    else:
        b.issue("missing_table", [], "未找到表三", table="t3")
        t3_last = None
    # table 四: after table 三 (and its section heading's words), to section 五
    t4_from = heading_end.get("四", t3_last if t3_last is not None else -1)
    if t3_last is not None and t4_from < t3_last:
        t4_from = t3_last
    t4_to = sections.get("五", sections.get("六", (len(text),)))[0]
    if t4_to <= t4_from:
        t4_to = len(text)
    if t4_from >= 0:
        _parse_t4(b, t4_from, t4_to)
    else:
        b.issue("missing_table", [], "未找到表四", table="t4")
    return b.finish()

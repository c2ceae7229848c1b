"""The template parser: tables 二, 三 and 四 of any layout → every cell of the template, with provenance.

Flow: find sections → tokenize each table's region → assign value tokens to rows by their labels
(row_assign) → readings of rows with the wrong count (row_values) → choose among readings with the
template's identities (the row's sums first, then table 三's column identities) → cells.
Everything the parser could not settle (a short or long row, a digit run, a stray glyph) becomes a
ParseIssue for the rules to report; values are never shifted silently.
"""

from __future__ import annotations

from nianbao.document import Document
from nianbao.extract.labels import group_children, row_specs
from nianbao.extract.row_assign import Assignment, RowRead, assign, redistribute
from nianbao.extract.row_values import Candidate, SumGroups, candidates, complete
from nianbao.extract.sections import find_sections, table_regions
from nianbao.extract.tokens import Token, tokenize
from nianbao.identities import identities
from nianbao.models import CellReading, Extraction, Meta, ParseIssue
from nianbao.spec import T4_COLUMNS, T4_GROUPS, keys

T3_SUMS: SumGroups = [((0, 1, 2, 3, 4, 5), 6)]
T4_SUMS: SumGroups = [((0, 1, 2, 3), 4), ((5, 6, 7, 8), 9), ((10, 11, 12, 13), 14)]
AMBIGUITY_MARGIN = 0.05  # readings this close in prior are equally likely: report the difference
OPEN_MARGIN = 1.5  # readings this close are left for the identities to choose between


class _Builder:
    """Collects cells and issues for one report."""

    def __init__(self, doc: Document, meta: Meta, template: str) -> None:
        self.doc = doc
        self.template = template
        self.ex = Extraction(report=doc.name, meta=meta)
        self.keys = keys(template)
        self.keys_set = frozenset(self.keys)

    def finish(self) -> Extraction:
        """Every key of the template present: cells nothing was read for are missing (None)."""
        cells = self.ex.cells
        self.ex.cells = {k: cells.get(k) or CellReading(key=k, value=None, confidence=0.0, note="missing")
                         for k in self.keys}
        return self.ex

    def issue(self, kind: str, keys_: list[str], detail: str, token: Token | None = None, **data: object) -> None:
        span = self.doc.span(token.start, token.end) if token else None
        self.ex.issues.append(ParseIssue(kind=kind, keys=keys_, detail=detail, span=span, data=dict(data)))

    def put(self, key: str, value: int | float | None, token: Token | None, how: str, confidence: float) -> None:
        if key not in self.keys_set:
            return
        cell = CellReading(key=key, value=value, raw=token.text if token else "",
                           span=self.doc.span(token.start, token.end) if token else None,
                           confidence=confidence, note=how or None)
        if token is not None and self.doc.boxes:
            box_conf = [b.confidence for b in self.doc.boxes_in(token.start, token.end) if b.confidence is not None]
            if box_conf:
                cell.confidence = min(cell.confidence, min(box_conf))
        self.ex.cells[key] = cell


def _confidence(slot_how: str, repaired: bool) -> float:
    if repaired:
        return 0.6
    return {"": 1.0, "split": 0.8, "merged": 0.7, "blank": 1.0, "missing": 0.0}.get(slot_how, 0.9)


def _write_row(b: _Builder, keys_: tuple[str, ...], cand: Candidate, label: str) -> None:
    for key, slot in zip(keys_, cand.slots, strict=True):
        t = slot.token
        repaired = bool(t and t.repaired)
        how = slot.how or ("ocr" if repaired else "")
        b.put(key, slot.value, t, how, _confidence(slot.how, repaired))
        if repaired and t is not None:
            # in a row read with a gap or an extra cell, which column the glyph sits in is itself a guess
            named = [key] if cand.kind == "exact" else list(keys_)
            b.issue("ocr_repair", named, f"{label}：“{t.text}”读作 {slot.value}", t, raw=t.text, value=slot.value,
                    cell=key)
        if t is not None and t.unit == "元" and slot.value is not None and key.endswith("_wan"):
            b.ex.cells[key].value = round(slot.value / 10000, 6)
            b.ex.cells[key].note = "元→万元"
            b.issue("fee_in_yuan", [key], f"{label}：“{t.text}”以元列示，换算为 {slot.value / 10000:g} 万元", t,
                    raw=t.text, value_yuan=slot.value)
        if slot.how == "blank" and t is not None:
            b.issue("blank_cell", [key], f"{label}：单元格印为“{t.text}”", t, raw=t.text)


def _report_reading(b: _Builder, keys_: tuple[str, ...], read: RowRead, cand: Candidate, n: int) -> None:
    label = read.label.text
    found = len(read.values)
    if cand.kind == "exact":
        return
    if cand.kind == "split":
        b.issue("merged_digits", list(keys_), f"{label}：数字串按勾稽关系拆分为 {cand.values()}", read.values[0],
                raw=" ".join(t.text for t in read.values), split=cand.values())
    elif cand.kind == "short":
        b.issue("short_row", list(keys_), f"{label}：应有 {n} 个数，只读到 {found} 个", read.label,
                expected=n, found=found, label=label,
                missing=[k for k, s in zip(keys_, cand.slots, strict=True) if s.how == "missing"])
    elif cand.kind == "merged":
        merged = [k for k, s in zip(keys_, cand.slots, strict=True) if s.how == "merged"]
        b.issue("split_cell", merged or list(keys_), f"{label}：相邻单元格合读（如 2|0 → 20）后行合计成立",
                read.label, expected=n, found=found, label=label)
    elif cand.kind == "long":
        b.issue("long_row", list(keys_), f"{label}：应有 {n} 个数，读到 {found} 个", read.label,
                expected=n, found=found, label=label, extra=[t.text for t in cand.dropped])


class _RowCheck:
    """Counts identity violations for the readings of one row against the rest of the table.

    Each identity's sums over the other rows are taken once; a reading then only adds its own
    cells, so trying hundreds of readings costs little.
    """

    def __init__(self, keys_: tuple[str, ...], ids: list, rest: dict) -> None:
        own = set(keys_)
        self.parts = []
        for ident in ids:
            if not own & set(ident.keys):
                continue
            lk = rk = 0.0
            lu = ru = 0
            for k in ident.lhs:
                if k in own:
                    continue
                v = rest.get(k)
                lu, lk = (lu + 1, lk) if v is None else (lu, lk + v)
            for k in ident.rhs:
                if k in own:
                    continue
                v = rest.get(k)
                ru, rk = (ru + 1, rk) if v is None else (ru, rk + v)
            left = [i for i, k in enumerate(keys_) if k in ident.lhs]
            right = [i for i, k in enumerate(keys_) if k in ident.rhs]
            self.parts.append((lk, rk, lu, ru, left, right))

    def violations(self, cand: Candidate) -> int:
        vals = cand.values()
        bad = 0
        for lk, rk, lu, ru, left, right in self.parts:
            for i in left:
                v = vals[i]
                lu, lk = (lu + 1, lk) if v is None else (lu, lk + v)
            for i in right:
                v = vals[i]
                ru, rk = (ru + 1, rk) if v is None else (ru, rk + v)
            if lu == 0 and ru == 0:
                bad += abs(lk - rk) >= 1e-6
            elif ru == 0:
                bad += lk > rk + 1e-6
            elif lu == 0:
                bad += rk > lk + 1e-6
        return bad


def _distinct(cands: list[Candidate], sums: SumGroups) -> list[Candidate]:
    """Candidates whose completed values differ (readings that fill in to the same row are one)."""
    seen: dict[tuple, Candidate] = {}
    for c in cands:
        seen.setdefault(tuple(complete(c.values(), sums)), c)
    return list(seen.values())


def _choose(b: _Builder, table_rows: dict[str, tuple[tuple[str, ...], RowRead, list[Candidate]]],
            sums: SumGroups, column_ids: list) -> dict[str, Candidate]:
    """Pick one reading per row.

    Rows with one reading are fixed first; each open row is narrowed by the column identities
    against fixed rows only, which fixes more rows, until nothing changes. Rows still open take
    the reading that breaks fewest identities given the others, then the best prior, and their
    differing cells are reported as uncertain rather than silently chosen.
    """
    picks = {rid: cands[0] for rid, (_, _, cands) in table_rows.items()}
    open_: dict[str, list[Candidate]] = {}
    fixed: dict[str, int | float | None] = {}
    for rid, (keys_, _, cands) in table_rows.items():
        # readings the prior barely separates stay open until the column identities have spoken
        top = [c for c in cands if abs(c.prior - cands[0].prior) <= OPEN_MARGIN]
        options = _distinct(top, sums) if len(cands) > 1 else cands
        if len(options) == 1:
            picks[rid] = cands[0]
            fixed.update(zip(keys_, cands[0].values(), strict=True))
        else:
            open_[rid] = cands
    progress = True
    while progress and open_:
        progress = False
        for rid in list(open_):
            keys_, _, cands = table_rows[rid]
            check = _RowCheck(keys_, column_ids, fixed)
            ok = [c for c in cands if check.violations(c) == 0]
            if not ok:
                continue
            top = [c for c in ok if abs(c.prior - ok[0].prior) <= AMBIGUITY_MARGIN]
            if len(_distinct(top, sums)) == 1:
                picks[rid] = ok[0]
                fixed.update(zip(keys_, ok[0].values(), strict=True))
                del open_[rid]
                progress = True
    vals = dict(fixed)
    for rid in open_:
        keys_ = table_rows[rid][0]
        vals.update(zip(keys_, picks[rid].values(), strict=True))
    for rid, cands in open_.items():
        keys_, read, _ = table_rows[rid]
        check_all = _RowCheck(keys_, column_ids, vals)
        scored = sorted(cands, key=lambda c: (check_all.violations(c), -c.prior))
        chosen = picks[rid] = scored[0]
        vals.update(zip(keys_, chosen.values(), strict=True))
        check_fixed = _RowCheck(keys_, column_ids, fixed)
        feasible_vs_fixed = [c for c in cands if abs(c.prior - chosen.prior) <= AMBIGUITY_MARGIN and
                             check_fixed.violations(c) == 0]
        base = complete(chosen.values(), sums)
        differ: set[str] = set()
        for c in _distinct(feasible_vs_fixed, sums):
            other = complete(c.values(), sums)
            differ.update(k for k, x, y in zip(keys_, base, other, strict=True) if x != y)
        if differ:
            b.ex.uncertain.extend(k for k in keys_ if k in differ and k not in b.ex.uncertain)
            b.issue("ambiguous_split", sorted(differ), f"{read.label.text}：多种读法都符合勾稽关系，取最可能的一种",
                    read.label, row_keys=list(keys_),
                    options=[c.values() for c in _distinct(feasible_vs_fixed, sums)][:8])
    return picks


def _stray(b: _Builder, a: Assignment, table: str) -> None:
    for t, rid in a.junk:
        row_keys = [k for k in keys(b.template) if k.startswith(f"{table}.{rid}.")] if rid else []
        b.issue("ocr_repair", row_keys[:1] if table == "t3" else row_keys,
                f"标签文字中的“{t.text}”是被识别成数字的字形，不是数值", t, raw=t.text, stray=True)
    for t in a.stray:
        nxt = next((r for r in a.rows.values() if r.label.start > t.start), None)
        row_keys = list(nxt.spec.keys[:1]) if nxt else []
        b.issue("ocr_repair", row_keys, f"行标签旁的“{t.text}”不属于任何单元格，已忽略", t, raw=t.text, stray=True)


def _parse_rows(b: _Builder, table: str, region: tuple[int, int], sums: SumGroups) -> None:
    text = b.doc.text
    tokens = tokenize(text, *region)
    specs = row_specs(b.template, table)
    a = assign(tokens, specs)
    if a.span:
        b.ex.sections[f"table:{table}"] = a.span
    lost = redistribute(a, specs)
    if not any(r.values for r in a.rows.values()):
        b.issue("missing_table", [], f"未找到表{'二三'[table == 't3']}的数据", table=table)
        return
    b.ex.tables_found.append(table)
    table_rows: dict[str, tuple[tuple[str, ...], RowRead, list[Candidate]]] = {}
    for spec in specs:
        read = a.rows.get(spec.id)
        if spec.is_group:
            if read is not None and read.values:
                _group_values(b, spec.id, read)
            continue
        if read is None or not read.values:
            continue
        if spec.id in lost:
            b.issue("short_row", list(spec.keys), f"未找到“{spec.label}”行的标签，按顺序取上一行多出的数",
                    read.label, expected=spec.n, found=0, label=spec.label, lost_label=True)
        row_sums = sums if table == "t3" else []
        table_rows[spec.id] = (spec.keys, read, candidates(read.values, spec.n, row_sums))
    column_ids = [i for i in identities(b.template) if i.kind in ("balance", "result_sum")] if table == "t3" else []
    picks = _choose(b, table_rows, sums if table == "t3" else [], column_ids)
    for rid, (keys_, read, _) in table_rows.items():
        _write_row(b, keys_, picks[rid], read.label.text)
        _report_reading(b, keys_, read, picks[rid], len(keys_))
    missing_rows = [s for s in specs if not s.is_group and s.id not in table_rows]
    for s in missing_rows:
        if table == "t3" and s.id.startswith("other_processing.") and f"group:{s.id.split('.')[0]}" in a.rows:
            continue
        b.issue("short_row", list(s.keys), f"未找到“{s.label}”行", None, expected=s.n, found=0, label=s.label,
                missing=list(s.keys))
    _stray(b, a, table)


def _group_values(b: _Builder, group_id: str, read: RowRead) -> None:
    """Values printed after a group label: the 2019-style single （六）其他处理 row in a 2021 table."""
    children = group_children(b.template, group_id)
    if not children or any(c.id in b.ex.cells for c in children if False):
        return
    cands = candidates(read.values, 7, T3_SUMS)
    vals = cands[0].values()
    sub_keys = [k for c in children for k in c.keys]
    for col, v in enumerate(vals):
        for c in children:
            key = c.keys[col]
            if v == 0:
                tok = cands[0].slots[col].token
                b.put(key, 0, tok, "forced: single row printed 0", 0.9)
            else:
                b.put(key, None, None, "missing", 0.0)
    b.issue("template_mix", sub_keys, f"{read.label.text}：按 2019 版模板印为一行（2021 版应分 3 行）", read.label,
            printed=vals, label=read.label.text)


def _parse_t4(b: _Builder, region: tuple[int, int]) -> None:
    text = b.doc.text
    tokens = [t for t in tokenize(text, *region) if t.kind in ("num", "blank")]
    t4_keys = tuple(f"t4.{g}.{c}" for g in T4_GROUPS for c in T4_COLUMNS)
    if not tokens:
        body = text[region[0]:region[1]]
        from nianbao.extract.tokens import layout
        if any(w in body for w in layout()["zero_table4_statements"]):
            for k in t4_keys:
                b.put(k, 0, None, "table replaced by a statement of none", 0.8)
            b.issue("missing_table", list(t4_keys), "表四以文字说明代替（未发生行政复议、行政诉讼），各项按 0 计",
                    table="t4", zero_statement=True)
        else:
            b.issue("missing_table", [], "未找到表四的数据", table="t4")
        return
    b.ex.tables_found.append("t4")
    b.ex.sections["table:t4"] = (tokens[0].start, tokens[-1].end)
    label_tok = tokens[0]
    read = RowRead(spec=None, label=Token("text", "表四", label_tok.start, label_tok.end, label_tok.line),  # type: ignore[arg-type]
                   values=tokens)
    picks = _choose(b, {"t4": (t4_keys, read, candidates(tokens, 15, T4_SUMS))}, T4_SUMS, [])
    chosen = picks["t4"]
    _write_row(b, t4_keys, chosen, "表四")
    _report_reading(b, t4_keys, read, chosen, 15)


def parse_tables(doc: Document, meta: Meta) -> Extraction:
    """Every cell of the report's template version, with provenance, issues and section spans."""
    template = meta.template or "2021"
    b = _Builder(doc, meta, template)
    sections = find_sections(doc.text)
    b.ex.sections.update(sections)
    regions = table_regions(doc.text, sections)
    for table in ("t2", "t3"):
        if table in regions:
            _parse_rows(b, table, regions[table], T3_SUMS)
        else:
            b.issue("missing_table", [], f"未找到表{'二三'[table == 't3']}", table=table)
    if "t4" in regions:
        _parse_t4(b, regions["t4"])
    else:
        b.issue("missing_table", [], "未找到表四", table="t4")
    return b.finish()

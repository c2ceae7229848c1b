"""The `hybrid` backend: the template parser first, the model only where the parser was unsure.

The model reads the narrative and only the rows of tables the parser doubted (missing table, low
confidence, parse issues, uncertain keys) or whose identities fail. Where the two readers differ,
both values are kept in a `disagreement` finding; the template's identities decide when they hold
for one reading and not the other, and the finding says so. A cell whose identities hold under
the parser's reading is never replaced.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from nianbao.document import Document
from nianbao.extract.llm.backend import (
    LLMReader,
    TableRead,
    narrative_pieces,
    printed,
    resolve_config,
    section_spans,
    sentences_with_numbers,
    table_window,
    usage_dict,
)
from nianbao.extract.llm.config import LLMConfig
from nianbao.extract.llm.errors import LLMError
from nianbao.extract.llm.transport import LLMClient, Usage
from nianbao.extract.narrative.meta import read_template
from nianbao.extract.rules_backend import RulesBackend
from nianbao.identities import Identity, identities, identities_by_key
from nianbao.models import CellReading, Claim, Extraction, Finding, Number
from nianbao.spec import field_map, resolve_template

TABLES = ("t2", "t3", "t4")
SURE = 0.8  # parser confidence below this sends the row to the model
BENIGN_ISSUES = {"blank_cell", "fee_in_yuan", "template_mix"}  # noted by the parser, not doubts about values
RULE = "hybrid.disagreement"
NOT_CONSULTED = "hybrid.not_consulted"
TABLE_NAMES = {"t2": "二", "t3": "三", "t4": "四"}


def _failing(ids: tuple[Identity, ...], cells: Mapping[str, Number | None]) -> list[Identity]:
    return [i for i in ids if (r := i.residual(cells)) is not None and abs(r) > 1e-6]


def _holding(ids: tuple[Identity, ...], cells: Mapping[str, Number | None]) -> list[Identity]:
    return [i for i in ids if (r := i.residual(cells)) is not None and abs(r) <= 1e-6]


def doubts(ex: Extraction, template: str) -> dict[str, set[str] | None]:
    """Table → rows the parser was unsure of (None: the whole table)."""
    fmap = field_map(template)
    out: dict[str, set[str] | None] = {}

    def add(key: str) -> None:
        f = fmap.get(key)
        if f is None:
            return
        rows = out.setdefault(f.table, set())
        if rows is not None:
            rows.add(f.row)

    for t in TABLES:
        if t not in ex.tables_found:
            out[t] = None
    for key in ex.uncertain:
        add(key)
    for key, cell in ex.cells.items():
        if cell.confidence < SURE and not (cell.value is None and cell.note in (None, "blank")):
            add(key)
    for issue in ex.issues:
        if issue.kind not in BENIGN_ISSUES:
            for key in issue.keys:
                add(key)
    values = ex.values()
    for ident in _failing(identities(template), values):
        for key in ident.keys:
            add(key)
    return out


def row_lines(text: str, ex: Extraction, template: str, rows: set[str] | None) -> list[tuple[int, int]] | None:
    """The lines where the parser found the doubted rows (with the line before, often the label).

    None (send the whole table) when a doubted row left no trace the parser could place.
    """
    if not rows:
        return None
    fmap = field_map(template)
    pieces: list[tuple[int, int]] = []
    for row in rows:
        spans = [c.span for k, c in ex.cells.items() if c.span is not None and k in fmap and fmap[k].row == row]
        if not spans:
            return None
        s = min(sp.start for sp in spans)
        e = max(sp.end for sp in spans)
        s = text.rfind("\n", 0, max(0, text.rfind("\n", 0, s))) + 1  # start of the line before
        nl = text.find("\n", e)
        pieces.append((s, len(text) if nl < 0 else nl))
    merged: list[tuple[int, int]] = []
    for s, e in sorted(pieces):
        if merged and s <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def row_spans_for(ex: Extraction, template: str, table: str) -> dict[str, tuple[int, int]]:
    """Row → where the parser says that row is printed, so the model's values are taken only there.

    The parser's own row span ("t3.granted") when it gives one; else the span of the cells it placed
    in that row; else a printed row shared by several template rows ("t4": table 四 prints its three
    groups on one line).
    """
    fmap = field_map(template)
    text_spans: dict[str, list[tuple[int, int]]] = {}
    for key, cell in ex.cells.items():
        f = fmap.get(key)
        if f is not None and f.table == table and cell.span is not None:
            text_spans.setdefault(f.row, []).append((cell.span.start, cell.span.end))
    out: dict[str, tuple[int, int]] = {}
    for row in {f.row for f in fmap.values() if f.table == table}:
        if f"{table}.{row}" in ex.row_spans:
            out[row] = tuple(ex.row_spans[f"{table}.{row}"])  # type: ignore[assignment]
        elif row in text_spans:
            out[row] = (min(s for s, _ in text_spans[row]), max(e for _, e in text_spans[row]))
        elif table in ex.row_spans:
            out[row] = tuple(ex.row_spans[table])  # type: ignore[assignment]
    return out


def _line_end(text: str, pos: int) -> int:
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl


class HybridBackend:
    """The parser's reading, checked by the model where the parser doubted it.

    When the model cannot be consulted (endpoint down, key refused, budget or deadline spent) the
    parser's reading is kept whole, with a `hybrid.not_consulted` finding and `usage.llm_error`.
    """

    name = "hybrid"

    def __init__(self, *, config: LLMConfig | None = None, client: LLMClient | None = None,
                 **settings: object) -> None:
        self.reader = LLMReader(resolve_config(config, client, **settings), client)
        self.rules = RulesBackend()

    def extract(self, doc: Document) -> Extraction:
        started = time.perf_counter()
        ex = self.rules.extract(doc)
        ex.backend = self.name
        template = resolve_template(ex.meta.template, read_template(doc.text, ex.meta.year))
        sections = {**section_spans(doc.text), **ex.sections}
        todo = doubts(ex, template)
        unprinted = sorted(t for t in todo if not printed(doc.text, sections, t))
        todo = {t: rows for t, rows in todo.items() if t not in unprinted}
        usage = Usage()
        covered = [(c.span.start, c.span.end) for c in ex.narrative + ex.facts if c.span]
        prose = sentences_with_numbers(doc.text, narrative_pieces(doc.text, sections), covered)
        reads: list[TableRead] = []
        claims: list[Claim] = []
        rejected = 0
        failure: LLMError | None = None
        with ThreadPoolExecutor(max_workers=max(1, self.reader.cfg.concurrency)) as pool:
            table_jobs = [pool.submit(self.reader.read_table, doc, ex.meta, template, t,
                                      table_window(doc.text, sections, t), rows,
                                      row_lines(doc.text, ex, template, rows), self._row_spans(doc, ex, template, t))
                          for t, rows in todo.items()]
            narrative_job = pool.submit(self.reader.read_narrative, doc, ex.meta, prose) if prose else None
            for job in table_jobs + ([narrative_job] if narrative_job else []):
                try:
                    result = job.result()
                except LLMError as e:
                    failure = failure or e
                    if isinstance(e.usage, Usage):
                        usage.add(e.usage)
                    continue
                if isinstance(result, TableRead):
                    reads.append(result)
                else:
                    claims, n_usage, n_rejected = result
                    usage.add(n_usage)
                    rejected += n_rejected
        for read in reads:
            usage.add(read.usage)
        if failure is not None:  # the parser's reading stands whole, and says the model was not asked
            self._not_consulted(ex, failure, todo, len(prose))
            ex.usage = usage_dict(usage, self.reader, time.perf_counter() - started)
            ex.usage["llm_error"] = str(failure)
            return ex
        for read in reads:
            rejected += read.rejected
            self._merge_table(ex, template, read)
        ex.narrative = merge_claims(ex.narrative, claims)
        ex.usage = usage_dict(usage, self.reader, time.perf_counter() - started)
        ex.usage.update({"rejected_values": rejected, "tables_sent": sorted(todo), "tables_unprinted": unprinted,
                         "rows_sent": sum(len(r) if r else 0 for r in todo.values())})
        return ex

    @staticmethod
    def _row_spans(doc: Document, ex: Extraction, template: str, table: str) -> dict[str, tuple[int, int]]:
        """row_spans_for, where a span derived from placed cells runs on to its line's end (a last
        cell the parser missed is still on the row)."""
        return {row: span if f"{table}.{row}" in ex.row_spans else (span[0], _line_end(doc.text, span[1]))
                for row, span in row_spans_for(ex, template, table).items()}

    @staticmethod
    def _not_consulted(ex: Extraction, failure: LLMError, todo: dict[str, set[str] | None], paragraphs: int) -> None:
        """A finding of the hybrid check itself (category `disagreement`, the second reader's category:
        it is about the cross-check, not about the report's structure or arithmetic)."""
        asked = [f"表{TABLE_NAMES[t]}{'全表' if rows is None else f' {len(rows)} 行'}" for t, rows in sorted(todo.items())]
        if paragraphs:
            asked.append(f"正文 {paragraphs} 段")
        ex.findings.append(Finding(
            category="disagreement", rule=NOT_CONSULTED, severity="warning", keys=[],
            message=f"未能请模型复核（{failure}），保留模板解析读数" + (
                f"；本应复核：{'、'.join(asked)}" if asked else "") + "。"))

    def _merge_table(self, ex: Extraction, template: str, read: TableRead) -> None:
        model_vals = {k: c.value for k, c in read.cells.items() if c.value is not None and c.span is not None}
        if not model_vals:
            return
        by_key = identities_by_key(template)
        parser = ex.values()
        mixed = {**parser, **model_vals}
        table_missing = read.table not in ex.tables_found
        placed = {(c.span.start, c.span.end): k for k, c in ex.cells.items() if c.span is not None}
        for key, mv in model_vals.items():
            old = ex.cells.get(key)
            rv = old.value if old else None
            if rv is not None and abs(float(rv) - float(mv)) < 1e-9:
                continue
            ids = by_key.get(key, ())
            fail_p, fail_m = _failing(ids, parser), _failing(ids, mixed)
            hold_m = _holding(ids, mixed)
            mcell = read.cells[key]
            other = placed.get((mcell.span.start, mcell.span.end)) if mcell.span else None
            if other is not None and other != key:
                adopt, why = False, f"模型读数取自解析读作 {other} 的数字（读数错位）"
                if fail_m and not fail_p:  # the identities refute it: the parser's reading is proven
                    severity = "info"
                    why += f"，且使恒等式 {', '.join(i.id for i in fail_m)} 不成立，保留解析读数"
                else:
                    severity = "warning"
                    why += "，保留解析读数，待人工复核"
            elif rv is None and (table_missing or key in ex.uncertain or (hold_m and not fail_m)):
                adopt, why = True, "解析未读出该单元格，采用模型在原文中有据的读数" + (
                    f"（恒等式 {', '.join(i.id for i in hold_m)} 成立）" if hold_m else "")
                severity = "info"
            elif fail_p and not fail_m:
                adopt, severity = True, "warning"
                why = f"恒等式 {', '.join(i.id for i in fail_p)} 在解析读数下不成立、在模型读数下成立，采用模型读数"
            elif fail_m and not fail_p:
                adopt, severity = False, "info"
                why = f"模型读数使恒等式 {', '.join(i.id for i in fail_m)} 不成立，保留解析读数"
            else:
                adopt, severity = False, "warning"
                why = "恒等式不能判定，两个读数都保留，待人工复核"
            spans = [s for s in ((old.span if old else None), mcell.span) if s is not None]
            ex.findings.append(Finding(
                category="disagreement", rule=RULE, severity=severity, keys=[key],
                message=f"{key}：模板解析读作 {rv if rv is not None else '空'}，模型读作 {mv}；{why}。",
                expected=rv, found=mv, spans=spans))
            if adopt:
                ex.cells[key] = CellReading(key=key, value=mv, raw=mcell.raw, span=mcell.span,
                                            confidence=min(mcell.confidence, 0.7), reader="llm",
                                            note=f"hybrid: parser read {rv}; {why}")
                parser[key] = mv
                if key in read.unvalidated and key not in ex.uncertain:  # salvaged from a reply that failed
                    ex.uncertain.append(key)
                mixed[key] = mv


def merge_claims(parser: list[Claim], model: list[Claim]) -> list[Claim]:
    """The parser's claims plus the model's grounded claims the parser did not already have."""
    out = list(parser)
    index: dict[int, int] = {}
    for i, c in enumerate(model):
        same = next((j for j, p in enumerate(out) if p.span and c.span and p.span.start < c.span.end
                     and c.span.start < p.span.end and float(p.value) == float(c.value)), None)
        if same is not None:
            index[i] = same
            continue
        parent = index.get(c.parent) if c.parent is not None else None
        index[i] = len(out)
        out.append(c.model_copy(update={"parent": parent}))
    return out

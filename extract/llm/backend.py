"""The `llm` backend: a model reads each table and the narrative; nothing it says is kept unverified.

Each table is one call with that table's own response model and only that table's section of the
report; the narrative is one call over the text outside the tables. Every reply is validated
(instructor re-asks with the reason) and then grounded: each number must be found in the source
at a character span, or it is dropped and the cell says why.
"""

from __future__ import annotations

import math
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import ValidationError

from nianbao.data import load
from nianbao.document import Document
from nianbao.extract.llm.config import LLMConfig, load_config
from nianbao.extract.llm.grounding import ground_quote, ground_row, numbers_in
from nianbao.extract.llm.prompts import DEFAULTS, load_prompt
from nianbao.extract.llm.schema import (
    TABLE_TITLES,
    ClaimReading,
    NarrativeReading,
    RowReading,
    answer_tokens,
    table_model,
)
from nianbao.extract.llm.transport import LLMClient, Usage
from nianbao.extract.narrative.meta import read_meta, read_template
from nianbao.extract.parse.sections import find_sections, table_regions
from nianbao.models import CellReading, Claim, Extraction, LowConfidence, Meta, ParseIssue, issue
from nianbao.spec import field_map, fields, resolve_template, rows

TABLE_SECTION = {"t2": "二", "t3": "三", "t4": "四"}
CONF_EXACT, CONF_ALIGNED = 0.9, 0.75


@dataclass
class TableRead:
    """One table as the model read it, after grounding."""

    table: str
    cells: dict[str, CellReading] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    issues: list[ParseIssue] = field(default_factory=list)
    rejected: int = 0  # values the model gave that grounding could not find
    # keys of rows taken from a reply that never validated: what grounding keeps of them is uncertain
    unvalidated: set[str] = field(default_factory=set)

    def uncertain(self) -> list[str]:
        """Cells with a value salvaged from a reply that never validated: the rules hedge what rests on them."""
        return sorted(k for k in self.unvalidated if k in self.cells and self.cells[k].value is not None)


@cache
def not_quantities() -> tuple[str, ...]:
    data = load("llm")
    return tuple(data["claims"]["not_quantities"])


def section_spans(text: str) -> dict[str, tuple[int, int]]:
    """Sections 一..六 and the table regions, found the way the template parser finds them."""
    sections = dict(find_sections(text))
    sections.update({f"table:{t}": span for t, span in table_regions(text, sections).items()})
    return sections


def table_window(text: str, sections: dict[str, tuple[int, int]], table: str) -> tuple[int, int]:
    """Where a table is: its region, else its section, else the whole report."""
    if f"table:{table}" in sections:
        return sections[f"table:{table}"]
    return sections.get(TABLE_SECTION[table], (0, len(text)))


def printed(text: str, sections: dict[str, tuple[int, int]], table: str) -> bool:
    """Whether the report prints anything the model could read for this table: its region or its
    section exists and holds a number that is not part of a date, a phone or a document number.

    A table lost by the crawler (its heading with nothing under it, or no heading at all) is not sent:
    grounding could keep nothing from it, and each call costs the whole schema (Gemma 3 270M on one
    thread: one to two minutes per request).
    """
    if f"table:{table}" not in sections and TABLE_SECTION[table] not in sections:
        return False
    start, end = table_window(text, dict(sections), table)
    return bool(numbers_in(text, start, end, quantities_only=True))


def narrative_pieces(text: str, sections: dict[str, tuple[int, int]]) -> list[tuple[int, int]]:
    """The report's prose: everything outside the tables (table sections 二..四 when spans are unknown)."""
    tables = [sections[k] for k in sections if k.startswith("table:")]
    if not tables:
        tables = [sections[n] for n in TABLE_SECTION.values() if n in sections]
    pieces = [(0, len(text))]
    for ts, te in sorted(tables):
        nxt = []
        for s, e in pieces:
            if te <= s or ts >= e:
                nxt.append((s, e))
                continue
            if s < ts:
                nxt.append((s, ts))
            if te < e:
                nxt.append((te, e))
        pieces = nxt
    return [(s, e) for s, e in pieces if text[s:e].strip()]


SENTENCE_END = re.compile(r"\n")  # paragraphs: 共…其中… stays together


def sentences_with_numbers(text: str, pieces: list[tuple[int, int]],
                           covered: list[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """The paragraphs of `pieces` holding a number no one has read yet (not a date, not in `covered`).

    A claim's number must be printed in its quote, so prose without an unexplained number cannot
    hold one: hybrid sends the model only these paragraphs.
    """
    covered = covered or []
    out: list[tuple[int, int]] = []
    for s, e in pieces:
        start = s
        for m in list(SENTENCE_END.finditer(text, s, e)) + [None]:
            end = m.end() if m else e
            if end > start:
                for ns, ne, _ in numbers_in(text, start, end):
                    if text[ne:ne + 8].lstrip().startswith(not_quantities()):
                        continue
                    if any(cs <= ns and ne <= ce for cs, ce in covered):
                        continue
                    out.append((start, end))
                    break
            start = end
    return out


def _as_number(value: float | int | None, key: str, template: str) -> float | int | None:
    if value is None:
        return None
    f = field_map(template).get(key)
    if f and f.type == "int" and float(value).is_integer():
        return int(value)
    return value


def _lenient_rows(model: type, raw: dict[str, Any] | None) -> tuple[dict[str, RowReading], int]:
    """Rows of an unvalidated reply that at least have the right shape (grounding judges the rest),
    and how many numbers the misshapen rows held (dropped unread)."""
    if not isinstance(raw, dict):
        return {}, 0
    out = {}
    dropped = 0
    for name, info in model.model_fields.items():
        data = raw.get(name)
        if not isinstance(data, dict):
            continue
        row_model = next((a for a in getattr(info.annotation, "__args__", ()) if isinstance(a, type)
                          and issubclass(a, RowReading)), None)
        if row_model is None:
            continue
        try:
            out[name.replace("__", ".")] = row_model.model_validate(data)
        except ValidationError:
            dropped += sum(1 for k, v in data.items() if k != "evidence" and isinstance(v, int | float))
    return out, dropped


def numbered_lines(text: str, pieces: list[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """The pieces as the model sees them: each non-blank line prefixed with its number and "│".

    Returns the shown text and each numbered line's (start, end) in `text`, so the line a model
    names can be checked and used to place its evidence.
    """
    shown: list[str] = []
    lines: list[tuple[int, int]] = []
    for a, b in pieces:
        pos = a
        for seg in text[a:b].split("\n"):
            start, pos = pos, pos + len(seg) + 1
            if seg.strip():
                lines.append((start, start + len(seg)))
                shown.append(f"{len(lines)}│{seg.rstrip()}")
    return "\n".join(shown), lines


def split_rows(row_list: list, model_tokens: int, max_tokens: int) -> list[list]:
    """The rows in two calls when the whole answer would pass half of max_tokens, else in one.

    Two, not more: a reply cap too small for half a table is a setting to raise (the truncated reply
    says so), not a reason to multiply calls.
    """
    if model_tokens <= max_tokens / 2 or len(row_list) < 2:
        return [row_list]
    half = math.ceil(len(row_list) / 2)
    return [row_list[:half], row_list[half:]]


class LLMReader:
    """Reads tables and narrative with a model; shared by the `llm` and `hybrid` backends."""

    def __init__(self, cfg: LLMConfig | None = None, client: LLMClient | None = None,
                 prompts: dict[str, str] | None = None) -> None:
        self.cfg = cfg or (client.cfg if client else load_config())
        self.client = client or LLMClient(self.cfg)
        self.prompts = {**DEFAULTS, **(self.cfg.extra.get("prompts") or {}), **(prompts or {})}

    @property
    def prompt_version(self) -> str:
        return "+".join(self.prompts[k] for k in sorted(self.prompts))

    def read_table(self, doc: Document, meta: Meta, template: str, table: str,
                   window: tuple[int, int], only_rows: set[str] | None = None,
                   pieces: list[tuple[int, int]] | None = None,
                   row_spans: dict[str, tuple[int, int]] | None = None) -> TableRead:
        """Read one table (or `only_rows` of it) from text[window], or from just `pieces` of it.

        `row_spans` (row → span of the printed row, from the parser) confine each row's values.
        A table whose full answer would pass half of max_tokens is asked for in several calls.
        """
        row_list = [r for r in rows(template) if r.table == table]
        if only_rows:
            row_list = [r for r in row_list if r.row in only_rows] or row_list
        pieces = pieces or [window]
        region = (min([window[0]] + [a for a, _ in pieces]), max([window[1]] + [b for _, b in pieces]))
        text, lines = numbered_lines(doc.text, pieces)
        prompt = load_prompt(self.prompts["table"])
        context = {"source": doc.text, "region": list(region), "lines": [list(x) for x in lines]}
        whole = table_model(template, table, frozenset(r.row for r in row_list) if only_rows else None)
        parts = split_rows(row_list, answer_tokens(whole), self.cfg.answer_tokens)
        out = TableRead(table)
        readings: dict[str, RowReading] = {}
        for part in parts:
            subset = frozenset(r.row for r in part) if (only_rows or len(parts) > 1) else None
            model = table_model(template, table, subset)
            messages = prompt.messages(
                agency=meta.agency, year=meta.year, template=template, title=TABLE_TITLES[table], text=text,
                rows=[{"name": r.row.replace(".", "__"),
                       "label": " ".join(p for p in (r.section, r.parent, r.label) if p),
                       "columns": [f.label.split(" ")[-1] for f in r.fields]} for r in part])
            result = self.client.structured(model, messages, context=context, prompt_version=prompt.name,
                                            answer_tokens=answer_tokens(model))
            if not result.cached:
                result.usage.sent_chars += len(text)
            out.usage.add(result.usage)
            if result.parsed is not None:
                readings.update(result.parsed.row_readings())  # type: ignore[attr-defined]
            else:
                lenient, dropped = _lenient_rows(model, result.raw)
                readings.update(lenient)
                out.rejected += dropped
                out.unvalidated.update(f.key for r in part if r.row in lenient for f in r.fields)
                out.issues.append(LowConfidence(
                    keys=[f.key for r in part for f in r.fields],
                    detail=f"模型对“{TABLE_TITLES[table]}”表的回答未通过校验（{result.error}），其数值逐个在表内核对，"
                           "找不到的已舍去、留空",
                    reader="llm"))
        order = [r.row for r in row_list]
        self._ground_table(doc, template, table, region, lines, readings, order, row_spans or {}, out)
        return out

    def _ground_table(self, doc: Document, template: str, table: str, region: tuple[int, int],
                      lines: list[tuple[int, int]], readings: dict[str, RowReading], order: list[str],
                      row_spans: dict[str, tuple[int, int]], out: TableRead) -> None:
        cursor: int | None = None
        for row in sorted(readings, key=lambda r: order.index(r) if r in order else len(order)):
            reading = readings[row]
            values = [(f"t{table[1:]}.{row}.{col}", v) for col, v in reading.cell_values().items()]
            values = [(k, v) for k, v in values if k in field_map(template)]
            line = lines[reading.line - 1] if reading.line and 0 < reading.line <= len(lines) else None
            where, grounded = ground_row(doc.text, reading.evidence, values, region,
                                         row=row_spans.get(row), line=line, cursor=cursor)
            if where is not None:
                cursor = where.end
            for key, g in grounded.items():
                if g.value is None:
                    out.cells[key] = CellReading(key=key, value=None, reader="llm", confidence=0.5,
                                                 note="blank per model")
                elif g.verified and g.span:
                    s, e = g.span
                    out.cells[key] = CellReading(
                        key=key, value=_as_number(g.value, key, template), raw=doc.text[s:e], span=doc.span(s, e),
                        confidence=CONF_EXACT if g.how == "exact" else CONF_ALIGNED, reader="llm",
                        note=None if g.how == "exact" else "evidence aligned, not exact")
                else:
                    out.rejected += 1
                    out.cells[key] = CellReading(key=key, value=None, reader="llm", confidence=0.0,
                                                 note=f"unverified: model said {g.value} ({g.how}); dropped")

    def read_narrative(self, doc: Document, meta: Meta, pieces: list[tuple[int, int]]) -> tuple[list[Claim], Usage, int]:
        prompt = load_prompt(self.prompts["narrative"])
        text = "\n".join(doc.text[s:e].strip("\n") for s, e in pieces)
        messages = prompt.messages(agency=meta.agency, year=meta.year, text=text)
        result = self.client.structured(NarrativeReading, messages, context={"source": doc.text},
                                        prompt_version=prompt.name)
        if not result.cached:
            result.usage.sent_chars += len(text)
        if result.parsed is not None:
            items = list(result.parsed.claims)  # type: ignore[attr-defined]
        else:
            items = []
            for c in (result.raw or {}).get("claims") or []:
                try:
                    items.append(ClaimReading.model_validate(c))
                except ValidationError:
                    continue
        claims, rejected = self._ground_claims(doc, items, pieces)
        return claims, result.usage, rejected

    @staticmethod
    def _ground_claims(doc: Document, items: list[ClaimReading],
                       pieces: list[tuple[int, int]]) -> tuple[list[Claim], int]:
        claims: list[Claim] = []
        index: dict[int, int] = {}
        rejected = 0
        for i, c in enumerate(items):
            where, num = ground_quote(doc.text, c.quote, c.value)
            after = doc.text[num[1]:num[1] + 8].lstrip() if num else ""
            if where is None or num is None or not after.startswith(c.unit.strip() or "\0") \
                    or after.startswith(not_quantities()):
                rejected += 1  # quote not in the source, number not in it, no such unit after it, or a date
                continue
            s, e = where.start, where.end
            value: float | int = int(c.value) if float(c.value).is_integer() else c.value
            parent = index.get(c.parent) if c.parent is not None else None
            index[i] = len(claims)
            claims.append(Claim(value=value, unit=c.unit, kind=c.kind, quote=doc.text[s:e], parent=parent,
                                span=doc.span(s, e), confidence=CONF_EXACT if where.exact else CONF_ALIGNED))
        return claims, rejected


def usage_dict(usage: Usage, reader: LLMReader, seconds: float) -> dict[str, Any]:
    return usage.as_dict(model=reader.cfg.model, prompt_version=reader.prompt_version, seconds=seconds)


SETTINGS = ("provider", "model", "base_url", "mode", "max_tokens", "token_budget", "deadline", "no_cache")


def resolve_config(config: LLMConfig | None, client: LLMClient | None, **settings: object) -> LLMConfig:
    """The endpoint settings a backend runs with: given, the client's, or from presets, env and options.

    `settings` are the command's options (SETTINGS); None means "not given".
    """
    if config or client:
        return config or client.cfg  # type: ignore[union-attr]
    given = {k: v for k, v in settings.items() if k in SETTINGS and v is not None}
    return load_config(given.pop("provider", None), **given)  # type: ignore[arg-type]


class LLMBackend:
    """Every table and the narrative read by the model; a failed call fails the report (BackendError)."""

    name = "llm"

    def __init__(self, *, config: LLMConfig | None = None, client: LLMClient | None = None,
                 **settings: object) -> None:
        self.reader = LLMReader(resolve_config(config, client, **settings), client)

    def extract(self, doc: Document) -> Extraction:
        started = time.perf_counter()
        meta = read_meta(doc)
        template = resolve_template(meta.template, read_template(doc.text, meta.year))
        meta = meta.model_copy(update={"template": template})
        sections = section_spans(doc.text)
        ex = Extraction(report=doc.name, meta=meta, backend=self.name,
                        sections={k: v for k, v in sections.items()})
        tables = [t for t in ("t2", "t3", "t4") if printed(doc.text, sections, t)]
        unprinted = [t for t in ("t2", "t3", "t4") if t not in tables]
        usage = Usage()
        with ThreadPoolExecutor(max_workers=max(1, self.reader.cfg.concurrency)) as pool:
            table_jobs = [pool.submit(self.reader.read_table, doc, meta, template, t,
                                      table_window(doc.text, sections, t)) for t in tables]
            narrative_job = pool.submit(self.reader.read_narrative, doc, meta,
                                        narrative_pieces(doc.text, sections))
            try:
                reads = [j.result() for j in table_jobs]
                claims, n_usage, n_rejected = narrative_job.result()
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # a failed report asks nothing more
                raise
        for key in (f.key for f in fields(template)):
            ex.cells[key] = CellReading(key=key, value=None, reader="llm", confidence=0.0, note="not read")
        rejected = n_rejected
        for read in reads:
            ex.cells.update(read.cells)
            ex.issues.extend(read.issues)
            ex.uncertain.extend(k for k in read.uncertain() if k not in ex.uncertain)
            usage.add(read.usage)
            rejected += read.rejected
            if any(c.value is not None for c in read.cells.values()):
                ex.tables_found.append(read.table)
        usage.add(n_usage)
        ex.narrative = claims
        ex.usage = usage_dict(usage, self.reader, time.perf_counter() - started)
        ex.usage["rejected_values"] = rejected
        ex.usage["tables_unprinted"] = unprinted
        for t in unprinted:  # said once, as the rules backend says it, rather than asked of the model
            ex.issues.append(issue("missing_table", keys=[], detail=f"报告中没有表{TABLE_SECTION[t]}的数值，未请模型读取",
                                   table=t))
        return ex

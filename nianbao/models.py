"""The output contract and the records that flow between extract, rules, store and eval.

One JSON document per report (DESIGN.md "Output contract"): `meta`, `cells` (key → value as
printed), `narrative` claims, `findings`; plus `provenance` per cell, so every number can be
traced to its place in the source.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

Category = Literal[
    "arithmetic", "structure", "ocr", "narrative_mismatch", "narrative_sum",
    "stale_year", "template", "disagreement",
]
Severity = Literal["error", "warning", "info"]
Kind = Literal["published", "application", "other"]
Number = int | float


class Span(BaseModel):
    """Where a value sits: offsets in Document.text, in the original source, and page/box if any."""

    start: int
    end: int
    orig_start: int | None = None
    orig_end: int | None = None
    page: int | None = None
    bbox: tuple[float, float, float, float] | None = None


_M = TypeVar("_M", bound=BaseModel)


def trusted(cls: type[_M], data: dict[str, Any]) -> _M:
    """A model built from values the caller computed itself, without validation.

    For the parser's hot path (every cell and span of every report): pydantic's own validation, and
    even model_construct's default resolution, cost more than reading the cell. `data` gives every
    field of the model, in its order, and the model keeps it as its own.
    """
    obj = _new(cls)
    _set_dict(obj, "__dict__", data)
    _set_fields_set(obj, set(data))
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj


# pydantic's own slots, set directly: object.__setattr__ by name looks each one up every time
_new = object.__new__
_set_dict = object.__setattr__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


class CellReading(BaseModel):
    """One cell as a reader saw it."""

    key: str
    value: Number | None
    raw: str = ""  # the characters as printed, before repair
    span: Span | None = None
    confidence: float = 1.0
    reader: str = "rules"
    note: str | None = None  # e.g. "O→0", "filled by identity"


class Claim(BaseModel):
    """A quantity stated in the prose."""

    value: Number
    unit: str
    kind: Kind
    quote: str
    parent: int | None = None
    span: Span | None = None
    subject: str | None = None  # what is counted, when a rule can use it (e.g. "new_received")
    confidence: float = 1.0


class Finding(BaseModel):
    category: Category
    rule: str
    severity: Severity
    keys: list[str] = Field(default_factory=list)
    message: str
    expected: Number | None = None
    found: Number | None = None
    fill: dict[str, Number] | None = None  # cells an identity forced, applied to `cells`
    spans: list[Span] = Field(default_factory=list)


class IssueKind(StrEnum):
    """What the parser (or a reader of the prose) noticed and left for the rules to report."""

    OCR_REPAIR = "ocr_repair"
    SHORT_ROW = "short_row"
    LONG_ROW = "long_row"
    SPLIT_CELL = "split_cell"
    BLANK_CELL = "blank_cell"
    AMBIGUOUS_SPLIT = "ambiguous_split"
    MISSING_TABLE = "missing_table"
    MERGED_DIGITS = "merged_digits"
    TEMPLATE_MIX = "template_mix"
    FEE_IN_YUAN = "fee_in_yuan"
    LOW_CONFIDENCE = "low_confidence"
    MOVED_VALUES = "moved_values"
    TRUNCATED = "truncated"


class _Issue(BaseModel):
    """Something noticed and not settled; rules turn each into findings. Every kind has its own
    fields (below), so a rule reads attributes, never free-string keys."""

    model_config = ConfigDict(extra="forbid")

    keys: list[str] = Field(default_factory=list)
    detail: str = ""  # the parser's own words, in Chinese
    span: Span | None = None

    @model_serializer(mode="wrap")
    def _always_kind(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The tag travels even when defaults are left out (the store packs with exclude_defaults),
        or the union could not be read back."""
        data = handler(self)
        data["kind"] = str(self.kind)  # type: ignore[attr-defined]
        return data


class OcrRepair(_Issue):
    kind: Literal[IssueKind.OCR_REPAIR] = IssueKind.OCR_REPAIR
    raw: str = ""  # the glyphs as printed
    value: Number | None = None  # what they were read as
    cell: str | None = None
    stray: bool = False  # a glyph beside a label that is no value at all


class _RowCount(_Issue):
    """A row whose printed numbers are not as many as its cells."""

    expected: int | None = None  # cells in the template's row
    found: int | None = None  # numbers printed for it
    label: str = ""


class ShortRow(_RowCount):
    kind: Literal[IssueKind.SHORT_ROW] = IssueKind.SHORT_ROW
    missing: list[str] = Field(default_factory=list)


class LongRow(_RowCount):
    kind: Literal[IssueKind.LONG_ROW] = IssueKind.LONG_ROW
    extra: list[str] = Field(default_factory=list)  # what was printed and not taken
    too_long: bool = False  # no reading fits at all: the cells are left unread


class SplitCell(_RowCount):
    kind: Literal[IssueKind.SPLIT_CELL] = IssueKind.SPLIT_CELL


class BlankCell(_Issue):
    kind: Literal[IssueKind.BLANK_CELL] = IssueKind.BLANK_CELL
    raw: str = ""


class AmbiguousSplit(_Issue):
    kind: Literal[IssueKind.AMBIGUOUS_SPLIT] = IssueKind.AMBIGUOUS_SPLIT
    row_keys: list[str] = Field(default_factory=list)
    options: list[list[Number | None]] = Field(default_factory=list)  # each a whole row's values
    label: str = ""
    raw: str = ""
    settled_by: str | None = None  # "narrative" once the prose left one option
    settled_keys: list[str] = Field(default_factory=list)


class MissingTable(_Issue):
    kind: Literal[IssueKind.MISSING_TABLE] = IssueKind.MISSING_TABLE
    table: str = ""  # "t2", "t3", "t4"
    zero_statement: bool = False  # the report says in words there was nothing to tabulate


class MergedDigits(_Issue):
    kind: Literal[IssueKind.MERGED_DIGITS] = IssueKind.MERGED_DIGITS
    raw: str = ""
    split: list[Number | None] = Field(default_factory=list)


class TemplateMix(_Issue):
    kind: Literal[IssueKind.TEMPLATE_MIX] = IssueKind.TEMPLATE_MIX
    printed: list[Number | None] = Field(default_factory=list)
    label: str = ""


class FeeInYuan(_Issue):
    kind: Literal[IssueKind.FEE_IN_YUAN] = IssueKind.FEE_IN_YUAN
    raw: str = ""
    value_yuan: Number | None = None


class LowConfidence(_Issue):
    kind: Literal[IssueKind.LOW_CONFIDENCE] = IssueKind.LOW_CONFIDENCE
    reader: str = "rules"


class MovedValues(_Issue):
    kind: Literal[IssueKind.MOVED_VALUES] = IssueKind.MOVED_VALUES
    rows: list[str] = Field(default_factory=list)


class Truncated(_Issue):
    kind: Literal[IssueKind.TRUNCATED] = IssueKind.TRUNCATED
    what: str = ""  # "narrative"
    limit: int = 0


ParseIssue = Annotated[
    OcrRepair | ShortRow | LongRow | SplitCell | BlankCell | AmbiguousSplit | MissingTable | MergedDigits
    | TemplateMix | FeeInYuan | LowConfidence | MovedValues | Truncated,
    Field(discriminator="kind"),
]
ISSUE_TYPES: dict[str, type[_Issue]] = {
    t.model_fields["kind"].default: t
    for t in (OcrRepair, ShortRow, LongRow, SplitCell, BlankCell, AmbiguousSplit, MissingTable, MergedDigits,
              TemplateMix, FeeInYuan, LowConfidence, MovedValues, Truncated)
}


def issue(kind: str, **fields: Any) -> _Issue:
    """An issue of `kind` with its own fields (a misspelt field is an error, not a silent key)."""
    return ISSUE_TYPES[kind](**fields)


class Meta(BaseModel):
    agency: str | None = None
    year: int | None = None
    template: Literal["2019", "2021"] | None = None


class Extraction(BaseModel):
    """What one backend read from one report, before and after the rules ran."""

    report: str
    meta: Meta = Field(default_factory=Meta)
    cells: dict[str, CellReading] = Field(default_factory=dict)
    narrative: list[Claim] = Field(default_factory=list)
    # statements the rules can check that are not count claims of the contract: zero statements
    # (未收到申请 → value 0), percentages (unit "%"), handled-application claims (全部按期办结)
    facts: list[Claim] = Field(default_factory=list)
    issues: list[ParseIssue] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    # "一".."六" → span of that section in Document.text; "table:t2"/"table:t3"/"table:t4" → span of
    # the table itself (narrative extraction skips table spans)
    sections: dict[str, tuple[int, int]] = Field(default_factory=dict)
    tables_found: list[str] = Field(default_factory=list)  # "t2", "t3", "t4"
    # "t3.granted", "t2.regulation", "t4" … → span of the printed row (its label through its last
    # value) in Document.text, for the rows the parser placed; grounding and review use it
    row_spans: dict[str, tuple[int, int]] = Field(default_factory=dict)
    uncertain: list[str] = Field(default_factory=list)  # keys whose printed value could not be pinned
    backend: str = "rules"
    # seconds, and for LLM backends: calls, prompt_tokens, completion_tokens, cost_usd, model,
    # prompt_version, cached (bool); retries included
    usage: dict[str, Any] = Field(default_factory=dict)

    def values(self) -> dict[str, Number | None]:
        return {k: c.value for k, c in self.cells.items()}

    def to_contract(self) -> dict[str, Any]:
        """The output contract's JSON shape, with provenance alongside."""
        return {
            "report": self.report,
            "meta": self.meta.model_dump(),
            "cells": {k: c.value for k, c in self.cells.items()},
            "narrative": [
                {"value": c.value, "unit": c.unit, "kind": c.kind, "quote": c.quote, "parent": c.parent,
                 **({"span": [c.span.start, c.span.end]} if c.span else {})}
                for c in self.narrative
            ],
            "findings": [f.model_dump(exclude_none=True, exclude={"spans"}) for f in self.findings],
            "uncertain": list(self.uncertain),
            "provenance": {
                k: {kk: vv for kk, vv in {
                    "raw": c.raw, "span": [c.span.start, c.span.end] if c.span else None,
                    "orig": [c.span.orig_start, c.span.orig_end] if c.span and c.span.orig_start is not None
                    else None,
                    "page": c.span.page if c.span else None,
                    "bbox": list(c.span.bbox) if c.span and c.span.bbox else None,
                    "confidence": c.confidence, "reader": c.reader, "note": c.note,
                }.items() if vv is not None}
                for k, c in self.cells.items()
            },
            "backend": self.backend,
            **({"usage": self.usage} if self.usage else {}),
        }

    @classmethod
    def from_contract(cls, data: dict[str, Any]) -> Extraction:
        """Rebuild from the JSON shape (e.g. an edited file given to `nianbao check`)."""
        prov = data.get("provenance") or {}
        cells = {}
        for k, v in (data.get("cells") or {}).items():
            p = prov.get(k) or {}
            span = Span(start=p["span"][0], end=p["span"][1]) if p.get("span") else None
            cells[k] = CellReading(key=k, value=v, raw=p.get("raw", ""), span=span,
                                   confidence=p.get("confidence", 1.0), reader=p.get("reader", "rules"),
                                   note=p.get("note"))
        narrative = []
        for c in data.get("narrative") or []:
            span = Span(start=c["span"][0], end=c["span"][1]) if c.get("span") else None
            narrative.append(Claim(value=c["value"], unit=c.get("unit", ""), kind=c.get("kind", "other"),
                                   quote=c.get("quote", ""), parent=c.get("parent"), span=span))
        return cls(report=data.get("report", ""), meta=Meta(**(data.get("meta") or {})), cells=cells,
                   narrative=narrative, uncertain=list(data.get("uncertain") or []),
                   backend=data.get("backend", "rules"))

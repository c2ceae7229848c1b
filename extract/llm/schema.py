"""The contract with the model: pydantic response models built from the template spec.

One model per table (a call asks only for the table it needs) with the template's own Chinese row
and column labels in the field descriptions, and one for narrative claims. Validators read the
validation context `{"source": text, "region": (start, end), "lines": [(start, end), …]}`: a quote
must be an exact substring of the source; a row's evidence must be printed inside the table shown,
hold the row's values in order, and start on the line the model named. A failure goes back to the
model as an instructor re-ask with the reason.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, create_model, field_validator, model_validator

from nianbao.extract.llm.grounding import find_folded, numbers_in
from nianbao.spec import Row, rows

TABLE_TITLES = {
    "t2": "二、主动公开政府信息情况",
    "t3": "三、收到和处理政府信息公开申请情况",
    "t4": "四、政府信息公开行政复议、行政诉讼情况",
}


def _context(info: ValidationInfo) -> dict[str, Any]:
    ctx = info.context
    return ctx if isinstance(ctx, dict) else {}


def _source(info: ValidationInfo) -> str | None:
    src = _context(info).get("source")
    return src if isinstance(src, str) else None


def _check_substring(text: str, info: ValidationInfo, what: str) -> str:
    src = _source(info)
    if src is not None and text and text not in src:
        raise ValueError(f"{what} {text[:60]!r} 不是原文的逐字摘录（must be an exact substring of the "
                         "source text: copy the characters exactly, including spaces and tabs）")
    return text


class RowReading(BaseModel):
    """One printed row: where its numbers are (line and the numbers as printed) and its cells.

    The evidence is what a correct reader can always copy: the row's numbers as printed, with the
    label when it shares their line (table 四 prints its numbers on a line of their own). It must be
    inside the table shown (validation context "region"), and `line` must be the line it starts on.
    """

    line: int | None = Field(None, description="该行数字所在的行号（原文每行开头“数字│”中的数字）；原文没有这一行时为 null")
    evidence: str = Field(description="该行的数字按原文逐字摘录（可连同同一行的行名；不含行号）")

    @model_validator(mode="after")
    def _evidence_in_table(self, info: ValidationInfo) -> RowReading:
        values = [v for v in self.cell_values().values() if v is not None]
        if not values:
            return self
        if not self.evidence.strip():
            raise ValueError("evidence 为空：有数字的行必须摘录原文中该行的数字（a row with numbers needs its evidence）")
        ctx = _context(info)
        src = _source(info)
        if src is None:
            return self
        region = ctx.get("region") or (0, len(src))
        places = find_folded(src, self.evidence, region[0], region[1])
        if not places:
            raise ValueError(f"evidence {self.evidence[:60]!r} 不在本表原文中（copy the row's numbers exactly as "
                             "printed in the table shown, without the line number）")
        printed = [v for _, _, v in numbers_in(src, places[0][0], places[0][1])]
        if not _in_order(values, printed):
            raise ValueError(f"evidence {self.evidence[:60]!r} 中没有按顺序出现所填的数字 {values}"
                             "（the values must be the numbers printed in the evidence, in order）")
        lines = ctx.get("lines") or []
        if self.line is not None and lines:
            if not 1 <= self.line <= len(lines):
                raise ValueError(f"line {self.line} 超出范围（1..{len(lines)}）")
            ls, le = lines[self.line - 1]
            if not any(ls <= p[0] < le for p in places):
                raise ValueError(f"第 {self.line} 行没有 evidence {self.evidence[:40]!r}（line is the number before "
                                 "“│” on the line where the evidence starts）")
        return self

    def cell_values(self) -> dict[str, float | int | None]:
        return {k: getattr(self, k) for k in type(self).model_fields if k not in ("evidence", "line")}


def _in_order(values: list[float | int], printed: list[float]) -> bool:
    """`values` appear in `printed` as a subsequence (a label's ordinal or a skipped blank is fine)."""
    it = iter(printed)
    return all(any(abs(float(v) - p) < 1e-9 for p in it) for v in values)


def field_name(row: str) -> str:
    return row.replace(".", "__")


def _row_description(r: Row) -> str:
    parts = [p for p in (r.section, r.parent, r.label) if p]
    return " ".join(parts) + "（原文没有这一行时为 null）"


@cache
def _row_model(template: str, table: str, columns: tuple[tuple[str, str, str], ...]) -> type[RowReading]:
    """Rows with the same printed columns share one model, so the schema stays short."""
    fields: dict[str, Any] = {}
    for column, col, ftype in columns:
        if ftype == "decimal":
            fields[column] = (float | None, Field(None, ge=0, description=f"{col}（万元，可为小数；空白、/、无 为 null）"))
        else:
            fields[column] = (int | None, Field(None, ge=0, description=f"{col}（非负整数；空白、/、无 为 null）"))
    name = f"Row{table[1:]}_" + "_".join(c[0] for c in columns)
    return create_model(name, __base__=RowReading, **fields)


def _columns(r: Row) -> tuple[tuple[str, str, str], ...]:
    return tuple((f.column, f.label.split(" ")[-1], f.type) for f in r.fields)


class TableReading(BaseModel):
    """Base of the per-table models: row field name → RowReading or None."""

    def row_readings(self) -> dict[str, RowReading]:
        out = {}
        for name in type(self).model_fields:
            val = getattr(self, name)
            if val is not None:
                out[name.replace("__", ".")] = val
        return out


@cache
def table_model(template: str, table: str, only: frozenset[str] | None = None) -> type[TableReading]:
    """The response model for one table of one template version (or only some of its rows).

    Every row is required but nullable, so a schema-constrained decoder has to answer each row.
    """
    fields: dict[str, Any] = {}
    for r in rows(template):
        if r.table != table or (only and r.row not in only):
            continue
        fields[field_name(r.row)] = (_row_model(template, table, _columns(r)) | None,
                                    Field(..., description=_row_description(r)))
    if not fields:
        raise ValueError(f"template {template} has no table {table}")
    # a stable name (not hash(), which changes per process): the name is part of the cache key
    suffix = "" if not only else "_part" + hashlib.sha1("|".join(sorted(only)).encode()).hexdigest()[:8]
    model = create_model(f"Table{table[1:]}_{template}{suffix}", __base__=TableReading, **fields)
    model.__doc__ = f"{TABLE_TITLES[table]}（{template} 版模板）：每一行按原文读出各栏数字。"
    return model


def answer_tokens(model: type[TableReading]) -> int:
    """About how many tokens a complete answer for `model` takes (every row printed, every cell 0).

    Used to split a long table into several calls and to reserve budget before a call.
    """
    sample: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        row_model = next(a for a in getattr(info.annotation, "__args__", ()) if isinstance(a, type)
                         and issubclass(a, RowReading))
        cols = [c for c in row_model.model_fields if c not in ("evidence", "line")]
        sample[name] = {"line": 10, "evidence": "\t".join("0" for _ in cols), **dict.fromkeys(cols, 0)}
    # JSON of keys and small numbers runs about 2.5 characters a token
    return len(json.dumps(sample, indent=1)) * 2 // 5


class ClaimReading(BaseModel):
    """A quantity stated in the prose."""

    value: float = Field(ge=0, description="数量（原文中的阿拉伯数字）")
    unit: str = Field(description="量词，如 条、件、篇、次、场、个、项、万元")
    kind: Literal["published", "application", "other"] = Field(
        description="published=主动公开；application=依申请公开；other=其他")
    quote: str = Field(description="包含该数字的原文短句，逐字摘录，不得改写")
    parent: int | None = Field(None, description="若本条是前面某条“共…其中…”的一部分，填那条的序号（从0开始），否则 null")

    @field_validator("quote")
    @classmethod
    def _quote_in_source(cls, v: str, info: ValidationInfo) -> str:
        if not v.strip():
            raise ValueError("quote 为空（every claim needs the sentence it comes from）")
        return _check_substring(v, info, "quote")


class NarrativeReading(BaseModel):
    """正文（表格之外）中陈述的数量：信息条数、申请件数、培训场次等；不含日期、期限、文号、序号。"""

    claims: list[ClaimReading] = Field(description="逐条列出；没有则为空列表")

    @model_validator(mode="after")
    def _parents_point_back(self) -> NarrativeReading:
        for i, c in enumerate(self.claims):
            if c.parent is not None and not 0 <= c.parent < i:
                raise ValueError(f"claims[{i}].parent={c.parent} 必须指向前面的某一条（0..{i - 1}）或为 null")
        return self

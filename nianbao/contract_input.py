"""Reading an extraction JSON someone hands back (`nianbao check FILE.json`, usually hand-edited).

The file is untrusted: it may not be JSON, may nest a million brackets deep, hold numbers of ten
thousand digits, Infinity, strings where counts go, indexes that point nowhere. It is validated
against the output contract (DESIGN.md) before anything reads it, and every problem becomes one
line naming what is wrong and where, so the rules never see a value they cannot handle.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from nianbao.models import Extraction
from nianbao.spec import TEMPLATES, fields

MAX_BYTES = 64 << 20  # an extraction JSON is tens of KB; a file this big is not one
MAX_VALUE = 10**12  # counts and 万元 amounts of one agency's year stay far below this


class ContractError(ValueError):
    """Why a file is not an extraction JSON; str() is one line (the caller adds the file name)."""


def _number(v: object) -> int | float:
    """A count or an amount: an int or a finite float within MAX_VALUE (bool, str and the rest
    are not numbers, whatever Python thinks of True)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"must be a number, not {type(v).__name__ if v is not None else 'null'}")
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError("is not a finite number")
    if abs(v) > MAX_VALUE:
        raise ValueError(f"is beyond {MAX_VALUE:.0e}, not a count or an amount a report prints")
    return v


Value = Annotated[int | float, PlainValidator(_number)]
Offset = Annotated[StrictInt, Field(ge=0, le=1 << 40)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="allow")


class MetaIn(_Strict):
    agency: StrictStr | None = None
    year: Annotated[StrictInt, Field(ge=1900, le=2200)] | None = None
    template: Literal["2019", "2021"] | None = None


class ClaimIn(_Strict):
    value: Value
    unit: StrictStr = ""
    kind: Literal["published", "application", "other"] = "other"
    quote: StrictStr = ""
    parent: Annotated[StrictInt, Field(ge=0)] | None = None
    span: tuple[Offset, Offset] | None = None


class ProvenanceIn(_Strict):
    raw: StrictStr = ""
    span: tuple[Offset, Offset] | None = None
    confidence: Annotated[StrictFloat | StrictInt, Field(ge=0, le=1)] = 1.0
    reader: StrictStr = "rules"
    note: StrictStr | None = None


class ContractIn(_Strict):
    """The output contract as an input: what `check` needs, each part checked for type and range."""

    report: StrictStr = ""
    meta: MetaIn = Field(default_factory=MetaIn)
    cells: dict[StrictStr, Value | None]
    narrative: list[ClaimIn] = Field(default_factory=list)
    uncertain: list[StrictStr] = Field(default_factory=list)
    provenance: dict[StrictStr, ProvenanceIn] = Field(default_factory=dict)
    backend: StrictStr = "rules"

    @model_validator(mode="after")
    def _consistent(self) -> ContractIn:
        known = {f.key for t in ([self.meta.template] if self.meta.template else TEMPLATES) for f in fields(t)}
        unknown = sorted(set(self.cells) - known)
        if unknown:
            raise ValueError(f"cells: {unknown[0]!r} is not a cell of the "
                             f"{self.meta.template or '2019 or 2021'} template"
                             + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))
        for i, claim in enumerate(self.narrative):
            if claim.parent is not None and (claim.parent >= len(self.narrative) or claim.parent == i):
                raise ValueError(f"narrative.{i}.parent: {claim.parent} is not the index of another claim "
                                 f"(there are {len(self.narrative)})")
        return self


def _no_constants(name: str) -> Any:
    raise ContractError(f"is not valid JSON: it holds {name}, which JSON does not allow as a number")


def _where(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "the file"


def parse(text: str) -> ContractIn:
    """Validate an extraction JSON's text; ContractError with one line for anything wrong."""
    try:
        data = json.loads(text, parse_constant=_no_constants)
    except ContractError:
        raise
    except RecursionError:
        raise ContractError("is not an extraction JSON: it nests arrays or objects too deeply") from None
    except json.JSONDecodeError as e:
        raise ContractError(f"is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except ValueError as e:  # e.g. an integer of more digits than Python converts
        detail = "a number with thousands of digits" if "digits" in str(e) else str(e).splitlines()[0]
        raise ContractError(f"is not an extraction JSON: it holds {detail}") from None
    if not isinstance(data, dict):
        raise ContractError(f"is not an extraction JSON: the top level is a JSON {type(data).__name__}, not an object")
    if "cells" not in data:
        raise ContractError("is not an extraction JSON (no 'cells')")
    try:
        return ContractIn.model_validate(data)
    except ValidationError as e:
        errors = e.errors(include_url=False, include_input=False)
        first = errors[0]
        msg = re.sub(r" or instance of \w+$", "", first["msg"].removeprefix("Value error, "))
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        where = _where(first["loc"])
        line = msg if not first["loc"] else f"{where}: {msg}"
        raise ContractError(f"is not a valid extraction JSON: {line}{more}") from None
    except RecursionError:
        raise ContractError("is not an extraction JSON: it nests arrays or objects too deeply") from None


def read_extraction(path: Path) -> Extraction:
    """The Extraction in an extraction JSON file; ContractError (one line, without the file name)
    for a file that cannot be read or is not a valid extraction."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise ContractError(f"cannot be read ({e.strerror or e})") from None
    if len(raw) > MAX_BYTES:
        raise ContractError(f"is larger than {MAX_BYTES >> 20} MB; an extraction JSON is a few KB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ContractError(f"is not UTF-8 text (byte {e.start})") from None
    valid = parse(text)
    return Extraction.from_contract(valid.model_dump())

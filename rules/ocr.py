"""OCR damage in number cells: glyphs repaired into digits, and digits read with low confidence.

A repaired cell ("O" read as 0) is usually right, but a reviewer must see that the value was not
printed as a digit; one finding per cell, whether the parser reported it or only left a note.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from nianbao.identities import identities_by_key
from nianbao.models import Finding
from nianbao.rules.common import cell_label, fmt, spans_of, words
from nianbao.rules.registry import RuleContext, rule

_NUMERIC = re.compile(r"^\s*-?[0-9０-９]+(?:[.．][0-9０-９]+)?\s*$")


@rule("ocr.repair", "ocr", "warning")
def repair(ctx: RuleContext) -> Iterator[Finding]:
    """A glyph in a number cell read as a digit (O→0, l→1): the value is a repair, not a printed digit."""
    t = ctx.template
    done: set[str] = set()
    for i in ctx.extraction.issues:
        if i.kind != "ocr_repair":
            continue
        # a whole row's issue (a cut or shifted reading) counts once per cell the reading gave the glyph:
        # two glyphs in one such row are two findings, each naming the whole row
        whole_row = len(i.keys) > 1 and getattr(i, "cell", None) in i.keys
        own = [i.cell] if whole_row else [k for k in i.keys if k not in done]
        if not own or all(k in done for k in own):
            continue
        done.update(own)
        keys = list(i.keys) if whole_row else own
        raw = i.raw
        if i.stray:
            # a digit-like glyph beside a label that is no value: the cells were read without it
            yield Finding(category="ocr", rule="ocr.repair", severity="warning", keys=keys,
                          message=f"{cell_label(keys[0], t).rsplit(' ', 1)[0]}：标签处的“{raw}”是被识别成数字的字形，"
                                  f"不是数值，已忽略；请核对该行",
                          spans=[i.span] if i.span else spans_of(ctx, keys))
            continue
        named = i.cell if whole_row else keys[0]  # a whole row's issue names the cell the reading used
        value = i.value if i.value is not None else ctx.values.get(named)
        yield Finding(category="ocr", rule="ocr.repair", severity="warning", keys=keys,
                      message=f"{cell_label(named, t)}：印作“{raw}”，按字形读作 {fmt(value)}，请核对原件",
                      found=value, spans=[i.span] if i.span else spans_of(ctx, keys))
    for key, cell in ctx.extraction.cells.items():
        if key in done or cell.value is None or not cell.raw or _NUMERIC.match(cell.raw):
            continue
        if "→" in (cell.note or ""):
            yield Finding(category="ocr", rule="ocr.repair", severity="warning", keys=[key],
                          message=f"{cell_label(key, t)}：印作“{cell.raw}”，读作 {fmt(cell.value)}（{cell.note}），请核对原件",
                          found=cell.value, spans=spans_of(ctx, [key]))


@rule("ocr.low_confidence", "ocr", "warning")
def low_confidence(ctx: RuleContext) -> Iterator[Finding]:
    """Digits the OCR model was unsure of, one finding per row, unless every identity they are in holds.

    Only the readings of the page: a language model's reply that never validated is its own finding
    (`llm.unvalidated`), and a model cell's confidence grades its grounding, not a glyph.
    """
    t = ctx.template
    limit = float(words()["ocr"]["low_confidence"])
    keys: list[str] = []
    for i in ctx.extraction.issues:
        if i.kind == "low_confidence" and getattr(i, "reader", "rules") != "llm":
            keys.extend(k for k in i.keys if k not in keys)
    for key, cell in ctx.extraction.cells.items():
        if cell.value is not None and cell.confidence < limit and cell.reader != "llm" and key not in keys:
            keys.append(key)
    rows: dict[tuple[str, bool], list[str]] = {}
    for k in keys:
        rows.setdefault((k.rsplit(".", 1)[0], _corroborated(k, ctx)), []).append(k)
    for (_, confirmed), ks in rows.items():
        if confirmed:  # every identity the reading takes part in holds as read: nothing to review
            continue
        shown = "、".join(
            f"{cell_label(k, t)} {fmt(ctx.values.get(k))}（置信度 {ctx.extraction.cells[k].confidence:.2f}）"
            if k in ctx.extraction.cells else cell_label(k, t) for k in ks)
        yield Finding(category="ocr", rule="ocr.low_confidence", severity="warning", keys=ks,
                      message=f"识别把握不大的数字：{shown}，请对照原件核对", spans=spans_of(ctx, ks))


def _corroborated(key: str, ctx: RuleContext) -> bool:
    """The cell takes part in at least one identity, and every one of them holds as read."""
    ids = identities_by_key(ctx.template).get(key, ())
    return bool(ids) and all(i.residual(ctx.values) is not None and abs(i.residual(ctx.values)) < 1e-6 for i in ids)

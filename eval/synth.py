"""The generated robustness corpus: whole reports in every layout, damaged like OCR, with their gold.

Every report is made from a table that satisfies the template's identities (random, or a gold
fixture's), rendered in one layout, then damaged at the chosen rates. The gold records what the
report prints: injected errors stay in `cells` and are expected `arithmetic` findings; cells whose
printed value the damage made unknowable are listed in `uncertain`; glyph damage is an expected
`ocr` finding and a dropped or doubled cell an expected `structure` finding. Same seed, same bytes.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass
from pathlib import Path

from nianbao.eval.layouts import LAYOUTS, Row, Table, build_tables, render_table, words
from nianbao.eval.tables import inject_error, random_cells, violations
from nianbao.spec import keys

__all__ = ["LAYOUTS", "SynthOptions", "Report", "make_report", "render_gold", "write_corpus"]

_FULLWIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")
# layouts where a cell's printed digits sit between clear separators (spaces inside numbers are OCR-like)
_DELIMITED = ("pipe", "tab", "cells", "markdown", "wrapped", "paged", "slash", "html")
_NO_ROW_DAMAGE = ("digits", "dropblank")
_MIXABLE = ("pipe", "tab", "cells", "markdown", "slash")


@dataclass
class SynthOptions:
    n: int = 20
    seed: int = 0
    damage: float = 0.0  # share of number cells damaged (glyph, full-width, spaces)
    row_damage: float = 0.0  # share of table rows with a dropped or doubled cell
    inject: int = 0
    layouts: tuple[str, ...] = LAYOUTS
    gold_dir: Path | None = None  # fixtures whose tables are reused (every fifth report)


@dataclass
class Report:
    name: str
    text: str
    suffix: str  # ".txt" or ".html"
    gold: dict


class _Gold:
    def __init__(self, cells: dict) -> None:
        self.cells = dict(cells)
        self.uncertain: set[str] = set()
        self.expected: list[dict] = []
        self.acceptable: list[dict] = []

    def accept(self, category: str, note: str, keys_: list[str] | None = None) -> None:
        if not any(a["category"] == category for a in self.acceptable):
            self.acceptable.append({"category": category, "note": note, "keys": keys_ or []})


def _damage_number(text: str, layout: str, rng: random.Random) -> tuple[str, str] | None:
    """One OCR-like damage to a printed number: (new text, kind) with kind glyph/fullwidth/space."""
    kinds = ["fullwidth"]
    lookalikes = words()["ocr_lookalikes"]
    if any(d in text for d in lookalikes):
        kinds += ["glyph", "glyph"]
    digits = [i for i, ch in enumerate(text) if ch.isdigit()]
    if layout in _DELIMITED and len(digits) >= 2:
        kinds.append("space")
    kind = rng.choice(kinds)
    if kind == "fullwidth":
        return text.translate(_FULLWIDTH), kind
    if kind == "space":
        at = rng.choice(digits[1:])
        return text[:at] + " " + text[at:], kind
    spots = [i for i, ch in enumerate(text) if ch in lookalikes]
    at = rng.choice(spots)
    choices = [g for g in lookalikes[text[at]] if not (g == "|" and layout in ("pipe", "markdown"))]
    return text[:at] + rng.choice(choices) + text[at + 1:], kind


def _garble(label: str, rng: random.Random) -> str:
    table = words()["garble"]
    spots = [i for i, ch in enumerate(label) if ch in table]
    if not spots:
        return label
    at = rng.choice(spots)
    return label[:at] + table[label[at]] + label[at + 1:]


def _damage_tables(tables: list[Table], gold: _Gold, layout: str, rng: random.Random, damage: float,
                   row_damage: float, protect: set[str]) -> None:
    """Damage printed cells and rows in place, recording in `gold` what each damage makes of the truth."""
    for table in tables:
        for row in table.rows:
            if row.kind != "data":
                continue
            if damage and rng.random() < damage / 2 and layout != "html":
                row.label = _garble(row.label, rng)
                gold.accept("ocr", "row labels carry OCR look-alike characters")
            for cell in row.cells:
                if cell.key in protect or cell.key in gold.uncertain or not cell.text or not damage or rng.random() >= damage:
                    continue
                hit = _damage_number(cell.text, layout, rng)
                if hit is None:
                    continue
                cell.text, kind = hit
                if kind == "glyph":
                    gold.expected.append({"category": "ocr", "keys": [cell.key],
                                          "note": f"{cell.key} printed as {cell.text!r}"})
                else:
                    gold.accept("ocr", "digits printed full-width or with spaces inside")
                    gold.accept("structure", "a number with a space inside may read as two cells")
            if (row_damage and layout not in _NO_ROW_DAMAGE and len(row.cells) >= 2
                    and not protect & {c.key for c in row.cells} and rng.random() < row_damage):
                _row_damage(row, gold, rng)


def _row_damage(row: Row, gold: _Gold, rng: random.Random) -> None:
    i = rng.randrange(len(row.cells))
    row_keys = [c.key for c in row.cells if c.key]
    if rng.random() < 0.5:
        dropped = row.cells.pop(i)
        gold.uncertain.add(str(dropped.key))
        note = f"row {row.label or row.row} lost the cell {dropped.key}"
    else:
        row.cells.insert(i, copy.copy(row.cells[i]))
        note = f"row {row.label or row.row} prints {row.cells[i].key} twice"
    if row.table == "t2":  # no identity covers table 二's rows: which cell went missing or doubled is unknowable
        gold.uncertain.update(k for k in row_keys if k)
    gold.expected.append({"category": "structure", "keys": row_keys, "note": note})
    gold.accept("arithmetic", "a row with a cell too few or too many can break an identity")
    gold.accept("ocr", "a shifted row can look like a misread cell")


def _layout_effects(tables: list[Table], gold: _Gold, layout: str, rng: random.Random) -> None:
    """What the layout itself makes unknowable: vanished blanks, ambiguous digit runs, `/` for zero."""
    for table in tables:
        for row in table.rows:
            if row.kind != "data":
                continue
            row_keys = [c.key for c in row.cells if c.key]
            if layout == "dropblank" and table.table == "t3" and any(c.text in ("", "0") for c in row.cells):
                gold.uncertain.update(row_keys)
                gold.accept("structure", "rows print only their non-blank cells")
                gold.accept("arithmetic", "rows whose cells cannot be placed may not verify")
            if layout == "digits" and table.table == "t3" and _ambiguous_run(row):
                gold.uncertain.update(row_keys)
                gold.accept("arithmetic", "digit runs with several splits may not verify")
            if layout == "slash" and table.table == "t2":
                for c in row.cells:
                    if c.value == 0 and rng.random() < 0.5:
                        c.text = rng.choice(words()["blank_marks"])
                        gold.cells[str(c.key)] = None
    if layout == "digits":
        gold.accept("structure", "table 三's rows are runs of digits")
    if layout == "slash":
        gold.accept("structure", "`/` or 无 in number cells")


def _splits(run: str, parts: int) -> list[list[int]]:
    """Every way to cut a digit run into `parts` numbers without leading zeros, last one the row total."""
    out: list[list[int]] = []

    def go(pos: int, acc: list[int]) -> None:
        if len(out) > 1:
            return
        if len(acc) == parts:
            if pos == len(run) and sum(acc[:-1]) == acc[-1]:
                out.append(list(acc))
            return
        left = parts - len(acc)
        for end in range(pos + 1, len(run) - left + 2):
            piece = run[pos:end]
            if len(piece) > 1 and piece[0] == "0":
                break
            go(end, [*acc, int(piece)])

    go(0, [])
    return out


def _ambiguous_run(row: Row) -> bool:
    """A digit run is uncertain when more than one split keeps the row sum."""
    return len(_splits("".join(c.text for c in row.cells), len(row.cells))) != 1


def _prose(gold_cells: dict, meta: dict, rng: random.Random) -> tuple[dict[str, str], list[dict]]:
    """Each section's prose, and the narrative claims it states (gold)."""
    p = words()["prose"]
    claims: list[dict] = []
    total = rng.choice((rng.randint(5, 60), rng.randint(60, 900), rng.randint(900, 5000)))
    a = rng.randint(0, total)
    parts = [a, total - a]
    t_quote = rng.choice(p["published_total"]).format(n=total)
    claims.append({"value": total, "unit": "条", "kind": "published", "quote": t_quote, "parent": None})
    part_quotes = []
    for j, (tmpl, n) in enumerate(zip(rng.sample(p["published_part"], 2), parts, strict=True)):
        q = (p["parts_lead"] if j == 0 else "") + tmpl.format(n=n)
        part_quotes.append(q)
        claims.append({"value": n, "unit": "条", "kind": "published", "quote": q, "parent": 0})
    received = gold_cells.get("t3.new_received.total") or 0
    processed = gold_cells.get("t3.total_processed.total") or 0
    if received:
        q = rng.choice(p["app_received"]).format(n=received)
        claims.append({"value": received, "unit": "件", "kind": "application", "quote": q, "parent": None})
        app = q
        if processed:
            q2 = rng.choice(p["app_done"]).format(n=processed)
            claims.append({"value": processed, "unit": "件", "kind": "application", "quote": q2, "parent": None})
            app += "，" + q2
        app += "。"
    else:
        app = rng.choice(p["app_none"])
    intro = rng.choice(p["intro"]).format(year=meta["year"], agency=meta["agency"])
    one = (f"{intro}\n\n（一）主动公开情况\n\n{t_quote}，{'，'.join(part_quotes)}。"
           f"{rng.choice(p['filler'])}\n\n（二）依申请公开情况\n\n{app}\n\n（三）政府信息管理\n\n"
           f"{rng.choice(p['filler'])}")
    return {"一": one, "五": rng.choice(p["problems"]), "六": rng.choice(p["other"])}, claims


def make_report(name: str, cells: dict, meta: dict, layout: str, rng: random.Random, damage: float = 0.0,
                row_damage: float = 0.0, inject: bool = False, mix: bool = False) -> Report:
    """One whole report and its gold, from cells that satisfy the identities.

    With `mix`, a text layout may also wrap labels, break a page inside a table, or (when table 四 is
    all zeros) replace table 四 by a sentence, as real reports combine them.
    """
    template = meta["template"]
    truth = {k: cells.get(k) for k in keys(template)}
    prose, claims = _prose(truth, meta, rng)
    gold = _Gold(truth)
    protect: set[str] = set()
    if inject:
        key, old = inject_error(gold.cells, template, rng)
        protect.add(key)
        gold.expected.append({"category": "arithmetic", "keys": [key],
                              "note": f"{key} printed as {gold.cells[key]} (the identities need {old})"})
        gold.accept("narrative_mismatch", "the prose states the value before the error was injected")
    tables = build_tables(gold.cells, template, rng)
    _layout_effects(tables, gold, layout, rng)
    _damage_tables(tables, gold, layout, rng, damage, row_damage, protect)

    w = words()
    head = {s: rng.choice(v) for s, v in w["headings"].items()}
    title = rng.choice(w["titles"]).format(agency=meta["agency"], year=meta["year"])
    features: set[str] = set()
    if mix and layout in _MIXABLE:
        features = {f for f in ("wrapped", "paged") if rng.random() < 0.25}
        if rng.random() < 0.2 and not any(v for k, v in gold.cells.items() if k.startswith("t4.")):
            features.add("t4_sentence")
    page = [2]
    body = {t.table: render_table(t, layout, rng, page, frozenset(features)) for t in tables}
    if "t4_sentence" in features:
        body["t4"] = rng.choice(w["t4_sentences"])
        gold.uncertain.update(k for k in gold.cells if k.startswith("t4."))
        gold.accept("structure", "table 四 is replaced by a sentence")
    sections = [(head["一"], prose["一"]), (head["二"], body["t2"]), (head["三"], body["t3"]),
                (head["四"], body["t4"]), (head["五"], prose["五"]), (head["六"], prose["六"])]
    if layout == "html":
        from html import escape

        parts = [f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{escape(title)}</title></head><body>",
                 f"<h1>{escape(title)}</h1>"]
        for h, content in sections:
            parts.append(f"<h2>{escape(h)}</h2>")
            if content.lstrip().startswith("<table"):
                parts.append(content)
            else:
                parts += [f"<p>{escape(para)}</p>" for para in content.split("\n\n") if para.strip()]
        text, suffix = "\n".join(parts) + "\n</body></html>\n", ".html"
    else:
        text = title + "\n\n" + "\n\n".join(f"{h}\n\n{c}" for h, c in sections) + "\n"
        suffix = ".txt"
    # a damaged glyph whose cell is no longer printed, or no longer placeable, may be missed
    gone = [f for f in gold.expected if f["category"] == "ocr" and f["keys"][0] in gold.uncertain]
    gold.expected = [f for f in gold.expected if f not in gone]
    if gone:
        gold.accept("ocr", "damaged cells in rows whose positions are unknowable")
    gold_doc = {
        "report": name + suffix,
        "meta": dict(meta),
        "cells": gold.cells,
        "narrative": claims,
        "findings": {"expected": gold.expected, "acceptable": gold.acceptable},
        "uncertain": sorted(gold.uncertain),
        "synth": {"layout": layout, "features": sorted(features), "damage": damage, "row_damage": row_damage, "injected": inject},
    }
    return Report(name, text, suffix, gold_doc)


def render_gold(gold: dict, layout: str, seed: int = 0) -> Report:
    """Re-render a gold fixture's tables in `layout` (no damage): the robustness tests' input."""
    rng = random.Random(f"{seed}:{layout}:{gold['report']}")
    name = Path(gold["report"]).stem + f"-{layout}"
    return make_report(name, gold["cells"], gold["meta"], layout, rng)


def _fixture_tables(gold_dir: Path | None) -> list[dict]:
    if not gold_dir or not gold_dir.is_dir():
        return []
    out = []
    for p in sorted(gold_dir.glob("*.gold.json")):
        g = json.loads(p.read_text(encoding="utf-8"))
        if not violations(g["cells"], g["meta"]["template"]):
            out.append(g)
    return out


def _meta(rng: random.Random) -> dict:
    w = words()
    template = rng.choices(("2019", "2021"), weights=(25, 75))[0]
    year = rng.choice((2019, 2020)) if template == "2019" else rng.randint(2021, 2025)
    return {"agency": rng.choice(w["places"]) + rng.choice(w["units"]), "year": year, "template": template}


def generate(opts: SynthOptions) -> list[Report]:
    """The corpus, deterministic from opts.seed."""
    rng = random.Random(opts.seed)
    fixtures = _fixture_tables(opts.gold_dir)
    layouts = opts.layouts or LAYOUTS
    plan = [layouts[i % len(layouts)] for i in range(opts.n)]
    eligible = [i for i, lay in enumerate(plan) if lay not in _NO_ROW_DAMAGE] or list(range(opts.n))
    injected = set(rng.sample(eligible, min(opts.inject, len(eligible))))
    reports = []
    for i, layout in enumerate(plan):
        r = random.Random(f"{opts.seed}:{i}")
        if fixtures and i % 5 == 4:
            g = fixtures[(i // 5) % len(fixtures)]
            cells, meta = g["cells"], {**g["meta"], "agency": g["meta"]["agency"]}
        else:
            meta = _meta(r)
            cells = random_cells(meta["template"], r)
        reports.append(make_report(f"synth_{opts.seed}_{i:05d}", cells, meta, layout, r, opts.damage,
                                   opts.row_damage, i in injected, mix=True))
    return reports


def write_corpus(out: Path, opts: SynthOptions) -> list[str]:
    """Write <name>.txt|.html and <name>.gold.json for each generated report; returns the names."""
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for rep in generate(opts):
        (out / (rep.name + rep.suffix)).write_text(rep.text, encoding="utf-8")
        (out / (rep.name + ".gold.json")).write_text(
            json.dumps(rep.gold, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        names.append(rep.name)
    return names

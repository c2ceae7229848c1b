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

from nianbao.eval import ambiguity
from nianbao.eval.ambiguity import Verdict
from nianbao.eval.crawled import CRAWLED_LAYOUTS, Parts, data_rows, render, run_of, signed_columns
from nianbao.eval.layouts import TEXT_LAYOUTS, Row, Table, build_tables, render_table, words
from nianbao.eval.tables import inject_error, random_cells, violations
from nianbao.spec import is_decimal, keys

LAYOUTS = (*TEXT_LAYOUTS[:4], "html", *TEXT_LAYOUTS[4:], *CRAWLED_LAYOUTS)

__all__ = ["LAYOUTS", "SynthOptions", "Report", "make_report", "render_gold", "write_corpus"]

_FULLWIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")
# layouts where a cell's printed digits sit between clear separators (spaces inside numbers are OCR-like)
_DELIMITED = ("pipe", "tab", "cells", "markdown", "wrapped", "paged", "slash", "html")
_NO_ROW_DAMAGE = ("digits", "dropblank", *CRAWLED_LAYOUTS)
_NO_INJECT = ("digits", "dropblank", "crawl_line", "csv_cell", "dropped")  # runs or no table: an error would hide
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
        self.options: dict[str, list] = {}  # uncertain key → the values the report allows

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
    """What the layout itself makes unknowable: vanished blanks and `/` for zero (digit runs: _judge_runs)."""
    for table in tables:
        for row in table.rows:
            if row.kind != "data":
                continue
            row_keys = [c.key for c in row.cells if c.key]
            if layout == "dropblank" and table.table == "t3" and any(c.text in ("", "0") for c in row.cells):
                gold.uncertain.update(row_keys)
                gold.accept("structure", "rows print only their non-blank cells")
                gold.accept("arithmetic", "rows whose cells cannot be placed may not verify")
            if layout == "slash" and table.table == "t2":
                for c in row.cells:
                    if c.value == 0 and rng.random() < 0.5:
                        c.text = rng.choice(words()["blank_marks"])
                        gold.cells[str(c.key)] = None
    if layout == "digits":
        gold.accept("structure", "table 三's rows are runs of digits")
    if layout == "slash":
        gold.accept("structure", "`/` or 无 in number cells")


def _t2_statements(gold_cells: dict, template: str, rng: random.Random) -> tuple[list[str], list[dict], dict]:
    """What section 一 may say about table 二's 规范性文件 row (制发 / 现行有效), as real reports do."""
    p = words()["prose"]
    made, in_force = (("issued", "in_force") if template == "2021" else ("new_made", "total_published"))
    quotes: list[str] = []
    claims: list[dict] = []
    stated: dict[str, int | float] = {}
    for col, tmpl in ((made, "normative_issued"), (in_force, "normative_in_force")):
        key = f"t2.normative_doc.{col}"
        v = gold_cells.get(key)
        if v is None or rng.random() >= 0.6:
            continue
        q = rng.choice(p[tmpl]).format(n=v)
        quotes.append(q)
        claims.append({"value": v, "unit": "件", "kind": "published", "quote": q, "parent": None})
        stated[key] = v
    return quotes, claims, stated


def _prose(gold_cells: dict, meta: dict, rng: random.Random,
           t2_claims: bool = False) -> tuple[dict[str, str], list[dict], dict]:
    """Each section's prose, the narrative claims it states (gold), and the cells those claims state."""
    p = words()["prose"]
    claims: list[dict] = []
    stated: dict[str, int | float] = {}
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
    t2_text = ""
    if t2_claims:
        quotes, more, stated = _t2_statements(gold_cells, meta["template"], rng)
        claims += more
        t2_text = "".join(q + "。" for q in quotes)
    received = gold_cells.get("t3.new_received.total") or 0
    processed = gold_cells.get("t3.total_processed.total") or 0
    if received:
        q = rng.choice(p["app_received"]).format(n=received)
        claims.append({"value": received, "unit": "件", "kind": "application", "quote": q, "parent": None})
        stated["t3.new_received.total"] = received
        app = q
        if processed:
            q2 = rng.choice(p["app_done"]).format(n=processed)
            claims.append({"value": processed, "unit": "件", "kind": "application", "quote": q2, "parent": None})
            stated["t3.total_processed.total"] = processed
            app += "，" + q2
        app += "。"
    else:
        app = rng.choice(p["app_none"])
    intro = rng.choice(p["intro"]).format(year=meta["year"], agency=meta["agency"])
    one = (f"{intro}\n\n（一）主动公开情况\n\n{t_quote}，{'，'.join(part_quotes)}。{t2_text}"
           f"{rng.choice(p['filler'])}\n\n（二）依申请公开情况\n\n{app}\n\n（三）政府信息管理\n\n"
           f"{rng.choice(p['filler'])}")
    return {"一": one, "五": rng.choice(p["problems"]), "六": rng.choice(p["other"])}, claims, stated


def make_report(name: str, cells: dict, meta: dict, layout: str, rng: random.Random, damage: float = 0.0,
                row_damage: float = 0.0, inject: bool = False, mix: bool = False,
                features: set[str] | None = None, plain_labels: bool = False,
                style: dict | None = None) -> Report:
    """One whole report and its gold, from cells that satisfy the identities.

    With `mix`, a text layout may also wrap labels, break a page inside a table, or (when table 四 is
    all zeros) replace table 四 by a sentence, as real reports combine them. The crawled layouts
    (eval/crawled.py) choose their own features (tables replaced by a sentence or dropped, table-二
    rows that print nothing) unless `features` names them. `plain_labels` prints the template's own
    row labels, without wording variants; `style` fixes a crawled form's knobs (eval/crawled.py).
    """
    if layout in CRAWLED_LAYOUTS:
        return _make_crawled(name, cells, meta, layout, rng, inject, features, plain_labels, style)
    template = meta["template"]
    truth = {k: cells.get(k) for k in keys(template)}
    prose, claims, stated = _prose(truth, meta, rng)
    gold = _Gold(truth)
    protect: set[str] = set()
    if inject:
        _inject(gold, template, rng, protect)
    tables = build_tables(gold.cells, template, rng, plain=plain_labels)
    _layout_effects(tables, gold, layout, rng)
    if layout == "digits":  # judged as printed, before damage (damage spares uncertain cells)
        verdict = Verdict()
        _judge_t3(next(t for t in tables if t.table == "t3"), template, stated, gold, verdict)
        _record(gold, verdict)
    _damage_tables(tables, gold, layout, rng, damage, row_damage, protect)

    w = words()
    head = {s: rng.choice(v) for s, v in w["headings"].items()}
    title = rng.choice(w["titles"]).format(agency=meta["agency"], year=meta["year"])
    chosen: set[str] = set(features or ())
    if features is None and mix and layout in _MIXABLE:
        chosen = {f for f in ("wrapped", "paged") if rng.random() < 0.25}
        if rng.random() < 0.2 and not any(v for k, v in gold.cells.items() if k.startswith("t4.")):
            chosen.add("t4_sentence")
    page = [2]
    body = {t.table: render_table(t, layout, rng, page, frozenset(chosen)) for t in tables}
    if "t4_sentence" in chosen:
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
    return _finish(name, suffix, text, meta, gold, claims,
                   {"layout": layout, "features": sorted(chosen), "damage": damage, "row_damage": row_damage,
                    "injected": inject})


def _inject(gold: _Gold, template: str, rng: random.Random, protect: set[str]) -> None:
    key, old = inject_error(gold.cells, template, rng)
    protect.add(key)
    gold.expected.append({"category": "arithmetic", "keys": [key],
                          "note": f"{key} printed as {gold.cells[key]} (the identities need {old})"})
    gold.accept("narrative_mismatch", "the prose states the value before the error was injected")


def _record(gold: _Gold, verdict: Verdict) -> None:
    gold.uncertain |= verdict.uncertain
    gold.options.update(verdict.options)
    if verdict.uncertain:
        gold.accept("arithmetic", "digit runs with several readings may not verify")


def _finish(name: str, suffix: str, text: str, meta: dict, gold: _Gold, claims: list[dict], synth: dict) -> Report:
    # a damaged glyph whose cell is no longer printed, or no longer placeable, may be missed
    gone = [f for f in gold.expected if f["category"] == "ocr" and f["keys"][0] in gold.uncertain]
    gold.expected = [f for f in gold.expected if f not in gone]
    if gone:
        gold.accept("ocr", "damaged cells in rows whose positions are unknowable")
    options = {k: v for k, v in sorted(gold.options.items()) if k in gold.uncertain}
    gold_doc = {
        "report": name + suffix,
        "meta": dict(meta),
        "cells": gold.cells,
        "narrative": claims,
        "findings": {"expected": gold.expected, "acceptable": gold.acceptable},
        "uncertain": sorted(gold.uncertain),
        "synth": {**synth, **({"options": options} if options else {})},
    }
    return Report(name, text, suffix, gold_doc)


# ---------------------------------------------------------------------------------------------
# the crawled layouts: what the form prints, and what the gold can honestly claim about it

def _kinds(row: Row, template: str) -> list[str]:
    return ["signed" if str(c.key).endswith(".change") else "decimal" if is_decimal(str(c.key), template) else "int"
            for c in row.cells]


def _judge_t3(t3: Table, template: str, stated: dict, gold: _Gold, verdict: Verdict) -> None:
    """Table 三 printed as one run per row: rows that lost a blank are unknowable, the rest go to the judge."""
    runs: dict[str, str] = {}
    for row in data_rows(t3):
        if all(c.text for c in row.cells):
            runs[row.row] = run_of(row)
        elif any(c.text for c in row.cells):
            gold.uncertain.update(str(c.key) for c in row.cells)
    ambiguity.table3(template, runs, stated, verdict)


def _judge_runs(layout: str, parts: Parts, style: dict, gold: _Gold, stated: dict, template: str) -> Verdict:
    """Cut every run the form printed, by brute force, and keep what the report itself settles."""
    verdict = Verdict()
    flattened = layout in ("crawl_line", "csv_cell")
    glued_t2 = layout == "crawl_line" or (layout == "csv_cell" and not style.get("t2_framed"))
    if flattened and "t2" not in parts.replaced:
        for row in data_rows(parts.tables["t2"]):
            printed_cells = [c for c in row.cells if c.text]
            if not printed_cells:
                continue  # a row that prints nothing: its cells are null, certainly
            keys_ = [str(c.key) for c in row.cells]
            if len(printed_cells) < len(row.cells):  # which cell vanished is unknowable, run or not
                gold.uncertain.update(keys_)
            elif glued_t2:
                ambiguity.table2_row(keys_, run_of(row, signed_columns(row)), _kinds(row, template), stated, verdict)
    if flattened:
        if "t3" not in parts.replaced:
            _judge_t3(parts.tables["t3"], template, stated, gold, verdict)
        if "t4" not in parts.replaced:
            row = data_rows(parts.tables["t4"])[0]
            if not all(c.text for c in row.cells):
                gold.uncertain.update(str(c.key) for c in row.cells)
            elif not style.get("t4_spaced"):
                ambiguity.table4(run_of(row), verdict)
    return verdict


def _crawled_features(layout: str, gold: _Gold, rng: random.Random) -> set[str]:
    zero = {t: not any(v for k, v in gold.cells.items() if k.startswith(t + ".")) for t in ("t3", "t4")}
    if layout == "dropped":
        return {"t2_dropped", "t3_dropped", "t4_dropped"}
    out: set[str] = set()
    if layout in ("crawl_line", "csv_cell"):
        if rng.random() < 0.3:
            out.add("t2_blank_row")
        if layout == "csv_cell" and rng.random() < 0.1:
            out.add("t2_dropped")
    for t in ("t3", "t4"):
        if zero[t] and rng.random() < (0.5 if layout == "csv_cell" else 0.15):
            out.add(f"{t}_sentence")
    return out


_TABLE_NAME = {"t2": "二", "t3": "三", "t4": "四"}


def _replace_tables(features: set[str], tables: dict[str, Table], gold: _Gold, meta: dict,
                    rng: random.Random) -> dict[str, str]:
    """Tables the form does not print: dropped (heading only) or a sentence instead; table-二 rows left blank."""
    w = words()
    replaced: dict[str, str] = {}
    for t in ("t2", "t3", "t4"):
        keys_ = [k for k in gold.cells if k.startswith(t + ".")]
        if f"{t}_dropped" in features:
            replaced[t] = ""
            for k in keys_:
                gold.cells[k] = None
            gold.expected.append({"category": "structure", "keys": keys_,
                                  "note": f"section {_TABLE_NAME[t]} prints its heading only: the table is missing"})
        elif f"{t}_sentence" in features:
            pool = w["crawler"]["t3_sentences"] if t == "t3" else w["crawler"]["t4_sentences"]
            replaced[t] = rng.choice(pool).format(year=meta["year"])
            gold.uncertain.update(keys_)  # 0 by the sentence, but none printed: 0 or null
            gold.expected.append({"category": "structure", "keys": keys_,
                                  "note": f"section {_TABLE_NAME[t]} has a sentence instead of its table"})
    if "t2_blank_row" in features and "t2" not in replaced:
        rows = [r for r in data_rows(tables["t2"]) if all(c.value == 0 for c in r.cells)]
        if rows:
            row = rng.choice(rows)
            for c in row.cells:
                c.text, c.value = "", None
                gold.cells[str(c.key)] = None
            gold.expected.append({"category": "structure", "keys": [str(c.key) for c in row.cells],
                                  "note": f"table 二's row {row.label} prints no value"})
    return replaced


def _make_crawled(name: str, cells: dict, meta: dict, layout: str, rng: random.Random, inject: bool,
                  features: set[str] | None, plain_labels: bool, style: dict | None) -> Report:
    template = meta["template"]
    truth = {k: cells.get(k) for k in keys(template)}
    prose, claims, stated = _prose(truth, meta, rng, t2_claims=True)
    gold = _Gold(truth)
    if inject and layout in ("html_crawl", "pdf_md"):  # cells with clear boundaries; runs would hide the error
        _inject(gold, template, rng, set())
    tables = {t.table: t for t in build_tables(gold.cells, template, rng, plain=plain_labels)}
    w = words()  # a crawler's text has no markdown headings
    head = {s: rng.choice([h for h in v if not h.startswith("#")]) for s, v in w["headings"].items()}
    title = rng.choice(w["titles"]).format(agency=meta["agency"], year=meta["year"])
    if rng.random() < 0.5:  # section 五 often opens with the year
        prose["五"] = rng.choice(w["crawler"]["problems_lead"]).format(year=meta["year"]) + prose["五"]
    chosen = set(features) if features is not None else _crawled_features(layout, gold, rng)
    replaced = _replace_tables(chosen, tables, gold, meta, rng)
    for t, text in replaced.items():  # what the prose states about a missing table may or may not be its cells
        if not text:
            gold.uncertain.update(k for k in stated if k.startswith(t + "."))
    if layout == "dropped":
        if not truth.get("t3.new_received.total"):
            gold.uncertain.update(k for k in gold.cells if k.startswith("t3."))
    parts = Parts(title, head, prose, tables, meta, replaced)
    style = dict(style or {})
    out = render(layout, parts, rng, style)
    _record(gold, _judge_runs(layout, parts, style, gold, stated, template))
    if layout in ("crawl_line", "csv_cell"):
        gold.accept("structure", "tables flattened into runs of digits")
    if layout == "pdf_md":
        gold.accept("structure", "row labels torn from their numbers by the PDF conversion")
    if style.get("no_section_六"):
        gold.accept("structure", "the report has no section 六")
    for c in claims:
        c["quote"] = out.requote(c["quote"])
    return _finish(name, out.suffix, out.text, meta, gold, claims,
                   {"layout": layout, "features": sorted(chosen), "style": style, "damage": 0.0,
                    "row_damage": 0.0, "injected": inject and layout in ("html_crawl", "pdf_md")})


def render_gold(gold: dict, layout: str, seed: int = 0, features: set[str] | None = None,
                plain_labels: bool = False, style: dict | None = None) -> Report:
    """Re-render a gold fixture's tables in `layout` (no damage): the robustness tests' input."""
    rng = random.Random(f"{seed}:{layout}:{gold['report']}")
    name = Path(gold["report"]).stem + f"-{layout}"
    return make_report(name, gold["cells"], gold["meta"], layout, rng, features=features, plain_labels=plain_labels,
                       style=style)


def _fixture_tables(gold_dir: Path | None) -> list[dict]:
    if not gold_dir or not gold_dir.is_dir():
        return []
    out = []
    for p in sorted(gold_dir.glob("*.gold.json")):
        g = json.loads(p.read_text(encoding="utf-8"))
        # a cell the gold leaves unknown (its table was not printed) cannot be printed again
        if None not in g["cells"].values() and not violations(g["cells"], g["meta"]["template"]):
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
    eligible = [i for i, lay in enumerate(plan) if lay not in _NO_INJECT] or list(range(opts.n))
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

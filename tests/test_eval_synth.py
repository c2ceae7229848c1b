"""The generated corpus: deterministic, identities hold before damage, every layout renders and reads,
damage and injected errors are recorded in the gold."""

from __future__ import annotations

import random

import pytest
from conftest import FIXTURES

from nianbao.eval.crawled import CRAWLED_LAYOUTS
from nianbao.eval.shape import line_class
from nianbao.eval.synth import LAYOUTS, SynthOptions, generate, make_report, write_corpus
from nianbao.eval.tables import random_cells, violations
from nianbao.extract import read_document
from nianbao.identities import identities
from nianbao.spec import keys


def _files(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_same_seed_same_bytes(tmp_path):
    opts = SynthOptions(n=12, seed=7, damage=0.05, row_damage=0.1, inject=3, gold_dir=FIXTURES)
    write_corpus(tmp_path / "a", opts)
    write_corpus(tmp_path / "b", opts)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(a) == 24 and a == b
    write_corpus(tmp_path / "c", SynthOptions(n=12, seed=8, damage=0.05, row_damage=0.1, inject=3))
    assert _files(tmp_path / "c") != a


@pytest.mark.parametrize("template", ["2019", "2021"])
def test_random_tables_satisfy_every_identity(template):
    rng = random.Random(template)
    sizes = []
    for _ in range(300):
        cells = random_cells(template, rng)
        assert set(cells) == set(keys(template))
        assert violations(cells, template) == []
        assert all(v >= 0 for k, v in cells.items() if not k.endswith(".change"))
        sizes.append(cells["t3.new_received.total"])
    # realistic: mostly agencies with no applications, some with hundreds
    assert sum(1 for s in sizes if s == 0) > len(sizes) / 4
    assert max(sizes) >= 200


def test_undamaged_corpus_gold_holds_identities():
    for rep in generate(SynthOptions(n=45, seed=1, gold_dir=FIXTURES)):
        g = rep.gold
        known = {k: v for k, v in g["cells"].items() if k not in g["uncertain"]}
        assert violations(known, g["meta"]["template"]) == [], rep.name
        if g["synth"]["layout"] in CRAWLED_LAYOUTS:  # only what the form lost: a missing table or row
            assert all(f["category"] == "structure" for f in g["findings"]["expected"]), rep.name
        else:
            assert g["findings"]["expected"] == []
        for claim in g["narrative"]:
            assert claim["quote"] in rep.text or rep.suffix == ".html"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_renders_and_reads(tmp_path, layout):
    rng = random.Random(layout)
    cells = random_cells("2021", rng)
    cells["t3.granted.natural_person"] += 123
    cells["t3.granted.total"] += 123
    cells["t3.total_processed.natural_person"] += 123
    cells["t3.total_processed.total"] += 123
    cells["t3.new_received.natural_person"] += 123
    cells["t3.new_received.total"] += 123
    meta = {"agency": "测试县城关镇", "year": 2023, "template": "2021"}
    rep = make_report("x", cells, meta, layout, rng)
    path = tmp_path / ("x" + rep.suffix)
    path.write_text(rep.text, encoding="utf-8")
    doc = read_document(path)
    assert "测试县城关镇" in doc.text and "二、" in doc.text
    marker = {
        "pipe": "| ", "markdown": "---|", "tab": "\t", "cells": "\n\t", "html": "rowspan=",
        "paged": "\f", "digits": "申请数", "dropblank": "\t", "wrapped": "\n", "slash": "\t",
        "crawl_line": "= 正文 =", "csv_cell": "\n\n", "html_crawl": "TRS_Editor", "dropped": "日",
        "pdf_md": "|---|",
    }[layout]
    assert marker in rep.text
    if layout in ("crawl_line", "csv_cell", "dropped"):  # the whole body on one line
        assert line_class(rep.text) == "one-line"
    if layout == "dropped":
        assert "第二十条" not in rep.text and "结果维持" not in rep.text
        assert all(v is None for k, v in rep.gold["cells"].items())
    if layout == "html":
        assert "colspan=" in rep.text and rep.suffix == ".html"
    if layout == "digits":  # a row of seven cells printed as one run of digits
        run = "".join(str(cells[f"t3.granted.{c}"]) for c in
                      ("natural_person", "business", "research", "nonprofit", "legal_service", "other_org", "total"))
        assert run in rep.text
    if layout == "dropblank":
        assert rep.gold["uncertain"]  # vanished blanks leave positions unknowable


def test_inject_records_one_arithmetic_finding_per_report():
    reports = generate(SynthOptions(n=20, seed=5, inject=6))
    injected = [r for r in reports if r.gold["synth"]["injected"]]
    assert len(injected) == 6
    for r in injected:
        exp = [f for f in r.gold["findings"]["expected"] if f["category"] == "arithmetic"]
        assert len(exp) == 1
        key = exp[0]["keys"][0]
        failing = violations(r.gold["cells"], r.gold["meta"]["template"])
        assert failing and all(key in i.keys for i in identities(r.gold["meta"]["template"]) if i.id in failing)
    for r in reports:
        if not r.gold["synth"]["injected"]:
            assert not any(f["category"] == "arithmetic" for f in r.gold["findings"]["expected"])


def test_damage_is_recorded():
    reports = generate(SynthOptions(n=40, seed=2, damage=0.1, row_damage=0.2, layouts=("tab", "pipe")))
    ocr = [f for r in reports for f in r.gold["findings"]["expected"] if f["category"] == "ocr"]
    structure = [f for r in reports for f in r.gold["findings"]["expected"] if f["category"] == "structure"]
    assert ocr and structure
    for r in reports:
        for f in r.gold["findings"]["expected"]:
            if f["category"] == "ocr":  # the printed glyph is in the text, the gold keeps the true value
                assert f["note"].split(" printed as ")[1].strip("'") in r.text
    assert any(r.gold["uncertain"] for r in reports)  # dropped cells are unknowable
    assert any(ch in r.text for r in reports for ch in "０１２３４５６７８９")


def test_corpus_combines_layout_features():
    reports = generate(SynthOptions(n=60, seed=4, layouts=("tab", "pipe")))
    features = [set(r.gold["synth"]["features"]) for r in reports]
    assert any("wrapped" in f for f in features) and any("paged" in f for f in features)
    sentence = [r for r, f in zip(reports, features, strict=True) if "t4_sentence" in f]
    assert sentence
    for r in sentence:
        assert all(k in r.gold["uncertain"] for k in r.gold["cells"] if k.startswith("t4."))
        assert "结果维持" not in r.text


def test_expected_ocr_findings_name_printed_cells():
    for r in generate(SynthOptions(n=60, seed=9, damage=0.2, row_damage=0.3, layouts=("tab",))):
        for f in r.gold["findings"]["expected"]:
            if f["category"] == "ocr":
                assert f["keys"][0] not in r.gold["uncertain"], (r.name, f)


def test_gold_with_unknown_cells_is_not_reprinted_and_amounts_keep_their_decimals(tmp_path):
    """A dev gold whose table the crawler dropped has null cells: printing it again would print blanks
    the gold calls unknown. A 元 amount converted to 万元 keeps its six decimals when printed."""
    import json

    from nianbao.eval.layouts import fmt_value
    from nianbao.eval.synth import _fixture_tables

    src = json.loads(next(FIXTURES.glob("*.gold.json")).read_text(encoding="utf-8"))
    (tmp_path / "known.gold.json").write_text(json.dumps(src, ensure_ascii=False), encoding="utf-8")
    lost = {**src, "report": "lost.txt", "cells": {k: None for k in src["cells"]}}
    (tmp_path / "lost.gold.json").write_text(json.dumps(lost, ensure_ascii=False), encoding="utf-8")
    assert [g["report"] for g in _fixture_tables(tmp_path)] == [src["report"]]
    assert fmt_value(5949.088667) == "5949.088667" and fmt_value(8403.5) == "8403.5" and fmt_value(7) == "7"

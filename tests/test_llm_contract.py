"""The evidence contract a correct model can meet, and grounding that keeps values where they belong.

A scripted perfect reader (tests/llm_scripted.py) answers each table request from the gold labels
the way a correct model would: the row's numbers copied as printed and the line they start on. What
it answers must survive validation and grounding whole; what a wrong reader answers must not.
"""

from __future__ import annotations

import json

import pytest
from conftest import EXAMPLES, load_gold, seed_names
from llm_scripted import Reply, ScriptedServer, completion, perfect_reader, requested_schema

from nianbao.extract.hybrid import HybridBackend
from nianbao.extract.ingest import read_document
from nianbao.extract.llm.backend import LLMBackend, LLMReader, section_spans, table_window
from nianbao.extract.llm.config import LLMConfig
from nianbao.extract.rules_backend import RulesBackend
from nianbao.models import Meta

SEED_004 = "004_6f1ea477f42cf686"


def config(server: ScriptedServer, tmp_path, **kw: object) -> LLMConfig:
    values: dict = {"provider": "scripted", "base_url": server.base_url, "model": "scripted-model", "mode": "json",
                    "api_key": "sk-test", "cache_dir": None, "concurrency": 1, "max_retries": 1, "max_tokens": 4096}
    values.update(kw)
    return LLMConfig(**values)


@pytest.mark.slow
@pytest.mark.parametrize("name", seed_names())
def test_perfect_reader_fills_every_table_four_cell_of_every_seed(name, tmp_path):
    gold = load_gold(name)
    doc = read_document(EXAMPLES / f"{name}.txt")
    template = gold["meta"]["template"]
    window = table_window(doc.text, section_spans(doc.text), "t4")
    with ScriptedServer([perfect_reader(gold["cells"])]) as server:
        read = LLMReader(config(server, tmp_path)).read_table(doc, Meta(), template, "t4", window)
    t4 = {k: v for k, v in gold["cells"].items() if k.startswith("t4.")}
    assert len(t4) == 15
    assert {k: read.cells[k].value for k in t4} == t4
    assert read.rejected == 0 and read.usage.calls == 1 and read.usage.reasks == 0
    spans = [(read.cells[k].span.start, read.cells[k].span.end) for k in t4]
    assert len(set(spans)) == 15  # fifteen distinct printed numbers, not one "0" three times
    for k in t4:
        c = read.cells[k]
        assert window[0] <= c.span.start < c.span.end <= window[1]
        assert float(doc.text[c.span.start:c.span.end]) == t4[k]


@pytest.mark.slow
def test_perfect_reader_fills_all_200_cells_of_seed_004(tmp_path):
    gold = load_gold(SEED_004)
    doc = read_document(EXAMPLES / f"{SEED_004}.txt")
    with ScriptedServer([perfect_reader(gold["cells"])]) as server:
        ex = LLMBackend(config=config(server, tmp_path, max_tokens=3000)).extract(doc)
    assert len(gold["cells"]) == 200
    assert {k: ex.cells[k].value for k in gold["cells"]} == gold["cells"]
    assert ex.usage["rejected_values"] == 0 and ex.usage["reasks"] == 0
    tables = [requested_schema(r)["title"] for r in server.requests if "claims" not in requested_schema(r)["properties"]]
    assert sorted(t.split("_")[0] for t in tables) == ["Table2", "Table3", "Table3", "Table4"]  # 三 in two calls
    sections = ex.sections
    for key, cell in ex.cells.items():
        s, e = sections[f"table:{key.split('.')[0]}"]
        assert s <= cell.span.start and cell.span.end <= e, key


def _t2_reply(evidence: str, issued: int) -> dict:
    return {
        "regulation": {"evidence": evidence, "issued": issued, "repealed": 0, "in_force": 0},
        "normative_doc": {"evidence": "行政规范性文件\t0\t0\t2", "issued": 0, "repealed": 0, "in_force": 2},
        "licensing": None, "punishment": None, "coercion": None, "admin_fee": None,
    }


@pytest.mark.slow
@pytest.mark.parametrize("evidence", ["全年共发布信息 1359 条", "规章\t0\t0\t0", "1359"])
def test_a_number_from_the_prose_is_dropped_from_table_two(evidence, tmp_path):
    doc = read_document(EXAMPLES / f"{SEED_004}.txt")
    window = table_window(doc.text, section_spans(doc.text), "t2")
    assert "全年共发布信息 1359 条" in doc.text and "1359" not in doc.text[window[0]:window[1]]
    with ScriptedServer([completion(_t2_reply(evidence, 1359))]) as server:
        read = LLMReader(config(server, tmp_path)).read_table(doc, Meta(), "2021", "t2", window)
    cell = read.cells["t2.regulation.issued"]
    assert cell.value is None and cell.span is None and cell.note.startswith("unverified: model said 1359")
    assert read.rejected >= 1
    assert read.cells["t2.normative_doc.in_force"].value == 2  # the rest of the reply still counts
    reasks = [json.dumps(r["messages"][2:], ensure_ascii=False) for r in server.requests[1:]]
    assert len(server.requests) == 2 and reasks[0]  # validation told the model why, once


def _answer_rows(answers: dict[str, dict]) -> Reply:
    """A reader that gives `answers` (row field name → row reading) for the rows a request asks, else null."""

    def respond(request: dict) -> Reply:
        props = requested_schema(request).get("properties", {})
        if "claims" in props:
            return completion({"claims": []})
        return completion({name: answers.get(name) for name in props})

    return Reply(respond=respond)


REPORT_003 = EXAMPLES / "003_9e368bcf3916d1f1.txt"  # the parser doubts t2 punishment/coercion, t3 carried_forward


@pytest.mark.slow
def test_hybrid_takes_no_value_from_a_date(tmp_path):
    doc = read_document(REPORT_003)
    assert "2024年1月1日" in doc.text
    with ScriptedServer([_answer_rows({"punishment": {"evidence": "2024年1月1日", "decisions": 1}})]) as server:
        ex = HybridBackend(config=config(server, tmp_path)).extract(doc)
    assert any("punishment" in requested_schema(r).get("properties", {}) for r in server.requests)
    assert not [f for f in ex.findings if "t2.punishment.decisions" in f.keys and f.found == 1]
    assert ex.cells["t2.punishment.decisions"].reader == "rules" and ex.usage["rejected_values"] >= 1


def test_hybrid_refuses_values_printed_on_another_row(tmp_path):
    doc = read_document(REPORT_003)
    rules = RulesBackend().extract(doc)
    other = {k.split(".")[-1]: c for k, c in rules.cells.items() if k.startswith("t3.new_received.")}
    start = min(c.span.start for c in other.values())
    end = max(c.span.end for c in other.values())
    evidence = doc.text[start:end]  # the numbers of row 一 (new applications), as printed
    answer = {"line": None, "evidence": evidence, **{col: c.value for col, c in other.items()}}
    with ScriptedServer([_answer_rows({"carried_forward": answer})]) as server:
        ex = HybridBackend(config=config(server, tmp_path)).extract(doc)
    assert any("carried_forward" in requested_schema(r).get("properties", {}) for r in server.requests)
    assert not [f for f in ex.findings if f.rule == "hybrid.disagreement" and any("carried_forward" in k for k in f.keys)]
    assert all(ex.cells[k].reader == "rules" for k in ex.cells if k.startswith("t3.carried_forward."))
    assert ex.usage["rejected_values"] >= sum(1 for c in other.values() if c.value is not None)

"""The llm/hybrid backends against a scripted OpenAI-compatible server on loopback (tests/llm_scripted.py).

The scripted server produces what the weak local model cannot: a correct full table, a 429 with
Retry-After, a 5xx, a reply slower than the timeout, exact token counts for the budget.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES
from llm_scripted import Reply, ScriptedServer, completion, empty_answer, error, requested_schema
from typer.testing import CliRunner

from nianbao.cli import app
from nianbao.extract.hybrid import HybridBackend
from nianbao.extract.ingest import read_document
from nianbao.extract.llm_backend import LLMBackend, LLMReader, narrative_pieces, section_spans, table_window
from nianbao.extract.llm_config import LLMConfig
from nianbao.extract.llm_schema import table_model
from nianbao.extract.llm_transport import BudgetExceeded, LLMClient, LLMTransportError
from nianbao.models import Meta

REPORT = EXAMPLES / "004_6f1ea477f42cf686.txt"
T2_2021 = {
    "regulation": {"evidence": "规章\t0\t0\t0", "issued": 0, "repealed": 0, "in_force": 0},
    "normative_doc": {"evidence": "行政规范性文件\t0\t0\t2", "issued": 0, "repealed": 0, "in_force": 2},
    "licensing": {"evidence": "行政许可\t0", "decisions": 0},
    "punishment": {"evidence": "行政处罚\t6", "decisions": 6},
    "coercion": {"evidence": "行政强制\t0", "decisions": 0},
    "admin_fee": {"evidence": "行政事业性收费\t0", "amount_wan": 0},
}
QUOTE = "全年共发布信息 1359 条"


def config(server: ScriptedServer, tmp_path: Path, **kw: object) -> LLMConfig:
    values: dict = {"provider": "scripted", "base_url": server.base_url, "model": "scripted-model", "mode": "json",
                    "api_key": "sk-test", "cache_dir": tmp_path / "cache", "transport_retries": 3, "timeout": 10.0,
                    "concurrency": 1, "max_retries": 2, "extra": {"backoff_initial": 0.01}}
    values.update(kw)
    return LLMConfig(**values)


@pytest.fixture
def doc():
    return read_document(REPORT)


def read_t2(reader: LLMReader, doc):
    sections = section_spans(doc.text)
    return reader.read_table(doc, Meta(), "2021", "t2", table_window(doc.text, sections, "t2"))


def read_narrative(reader: LLMReader, doc):
    return reader.read_narrative(doc, Meta(), narrative_pieces(doc.text, section_spans(doc.text)))


def test_clean_table_reply_is_grounded_with_spans(doc, tmp_path):
    with ScriptedServer([completion(T2_2021, prompt_tokens=300, completion_tokens=90)]) as server:
        read = read_t2(LLMReader(config(server, tmp_path)), doc)
    cell = read.cells["t2.punishment.decisions"]
    assert cell.value == 6 and cell.reader == "llm" and cell.confidence >= 0.9
    assert doc.text[cell.span.start:cell.span.end] == "6"
    assert doc.text[cell.span.start - 5:cell.span.end] == "行政处罚\t6"
    assert read.cells["t2.normative_doc.in_force"].value == 2
    assert read.rejected == 0 and read.usage.calls == 1
    assert (read.usage.prompt_tokens, read.usage.completion_tokens) == (300, 90)
    sent = server.requests[0]
    assert sent["response_format"] == {"type": "json_object"} and sent["temperature"] == 0
    assert "行政处罚" in json.dumps(sent["messages"], ensure_ascii=False)  # the template's own labels


def test_reply_failing_validation_is_reasked_with_the_reason(doc, tmp_path):
    bad = {"claims": [{"value": 1359, "unit": "条", "kind": "published", "quote": "全年共发布信息1359条"}]}
    good = {"claims": [{"value": 1359, "unit": "条", "kind": "published", "quote": QUOTE}]}
    with ScriptedServer([completion(bad), completion(good)]) as server:
        claims, usage, rejected = read_narrative(LLMReader(config(server, tmp_path)), doc)
    assert len(server.requests) == 2
    reask = json.dumps(server.requests[1]["messages"], ensure_ascii=False)
    assert "不是原文的逐字摘录" in reask  # the validator's reason went back to the model
    assert usage.calls == 2 and usage.reasks == 1 and usage.prompt_tokens == 200
    assert [c.value for c in claims] == [1359] and claims[0].quote == QUOTE
    assert doc.text[claims[0].span.start:claims[0].span.end] == QUOTE


def test_invented_numbers_are_rejected_by_grounding(doc, tmp_path):
    claims_reply = {"claims": [
        {"value": 1359, "unit": "条", "kind": "published", "quote": QUOTE},
        {"value": 999, "unit": "条", "kind": "published", "quote": QUOTE},  # real quote, invented number
    ]}
    table = json.loads(json.dumps(T2_2021))
    table["punishment"]["decisions"] = 7  # the evidence says 6
    with ScriptedServer([completion(claims_reply), completion(table)]) as server:
        reader = LLMReader(config(server, tmp_path))
        claims, _, rejected = read_narrative(reader, doc)
        read = read_t2(reader, doc)
    assert [c.value for c in claims] == [1359] and rejected == 1
    cell = read.cells["t2.punishment.decisions"]
    assert cell.value is None and cell.span is None and cell.note.startswith("unverified: model said 7")
    assert read.rejected == 1 and read.cells["t2.normative_doc.in_force"].value == 2


def test_never_valid_reply_falls_back_to_fuzzy_grounding(doc, tmp_path):
    # the quote drops the spaces every time: validation fails twice, then the last reply is grounded
    # by alignment, and the claim carries the source's exact characters
    bad = {"claims": [{"value": 1359, "unit": "条", "kind": "published", "quote": "全年共发布信息1359条"}]}
    with ScriptedServer([completion(bad)]) as server:
        claims, usage, _ = read_narrative(LLMReader(config(server, tmp_path, max_retries=1)), doc)
    assert len(server.requests) == 2 and usage.fallbacks == 1
    assert [c.quote for c in claims] == [QUOTE] and claims[0].confidence < 0.9
    with ScriptedServer([completion(bad)]) as server:  # a re-run replays the fallback from the cache
        again, usage, _ = read_narrative(LLMReader(config(server, tmp_path, max_retries=1)), doc)
    assert server.requests == [] and usage.calls == 0 and usage.cached_calls == 1
    assert [c.quote for c in again] == [QUOTE]


def test_429_then_success_honours_retry_after(doc, tmp_path):
    with ScriptedServer([error(429, retry_after="1"), completion(T2_2021)]) as server:
        started = time.perf_counter()
        read = read_t2(LLMReader(config(server, tmp_path)), doc)
        elapsed = time.perf_counter() - started
    assert elapsed >= 1.0  # waited as asked, not the 0.01 s backoff
    assert read.usage.transport_retries == 1 and read.usage.calls == 1
    assert read.cells["t2.punishment.decisions"].value == 6


def test_5xx_is_retried(doc, tmp_path):
    with ScriptedServer([error(503), error(502), completion(T2_2021)]) as server:
        read = read_t2(LLMReader(config(server, tmp_path)), doc)
    assert len(server.requests) == 3 and read.usage.transport_retries == 2


def test_timeout_exhausting_retries_is_one_clear_error(doc, tmp_path):
    slow = Reply(body=completion(T2_2021).body, delay=1.5)
    with ScriptedServer([slow]) as server:
        reader = LLMReader(config(server, tmp_path, timeout=0.3, transport_retries=2))
        with pytest.raises(LLMTransportError) as caught:
            read_t2(reader, doc)
        assert len(server.requests) == 2
    message = str(caught.value)
    assert "\n" not in message and "no reply within 0.3s, 2 attempts" in message and server.base_url in message


def test_hybrid_keeps_the_parser_reading_when_the_model_is_unreachable(tmp_path):
    slow = Reply(body=completion({"claims": []}).body, delay=1.5)
    with ScriptedServer([slow]) as server:
        ex = HybridBackend(config=config(server, tmp_path, timeout=0.2, transport_retries=1)).extract(
            read_document(EXAMPLES / "003_9e368bcf3916d1f1.txt"))
    assert "no reply within" in ex.usage["llm_error"]
    assert ex.cells["t3.new_received.total"].value is not None and ex.backend == "hybrid"


def test_rerun_hits_the_cache_with_zero_tokens(doc, tmp_path):
    with ScriptedServer([Reply(respond=empty_answer)]) as server:
        first = LLMBackend(config=config(server, tmp_path)).extract(doc)
        n = len(server.requests)
        second = LLMBackend(config=config(server, tmp_path)).extract(doc)
    assert n == 4 and len(server.requests) == 4  # 3 tables + narrative, once
    assert first.usage["calls"] == 4 and first.usage["cached"] is False and first.usage["prompt_tokens"] == 400
    assert second.usage["cached"] is True and second.usage["cached_calls"] == 4
    assert second.usage["calls"] == second.usage["prompt_tokens"] == second.usage["completion_tokens"] == 0
    assert first.usage["sent_chars"] > 0 and second.usage["sent_chars"] == 0
    assert first.usage["prompt_version"] == second.usage["prompt_version"] == "narrative.v1+table.v1"


def test_token_budget_stops_the_run(tmp_path, monkeypatch):
    cfg_file = tmp_path / "nianbao.toml"
    cfg_file.write_text('[llm]\nconcurrency = 1\nmode = "json"\n', encoding="utf-8")
    reply = Reply(respond=lambda req: completion(empty_answer(req).body["choices"][0]["message"]["content"],
                                                 prompt_tokens=100, completion_tokens=20))
    with ScriptedServer([reply]) as server:
        for k, v in {"NIANBAO_BASE_URL": server.base_url, "NIANBAO_MODEL": "scripted-model",
                     "NIANBAO_TOKEN_BUDGET": "200", "NIANBAO_CONFIG": str(cfg_file),
                     "NIANBAO_CACHE_DIR": str(tmp_path / "cache")}.items():
            monkeypatch.setenv(k, v)
        result = CliRunner().invoke(app, ["extract", "--backend", "llm", str(REPORT),
                                          str(EXAMPLES / "000_6ca0fa42e399edc3.txt")])
    assert result.exit_code == 2
    assert "token budget of 200 exhausted (240 tokens used)" in result.output
    assert len(server.requests) == 2  # the third call was never sent, and the second report never started
    assert result.output.count("error") == 1


def test_budget_is_shared_by_every_report_of_a_run(doc, tmp_path):
    with ScriptedServer([completion(T2_2021, prompt_tokens=80, completion_tokens=30)]) as server:
        client = LLMClient(config(server, tmp_path, token_budget=100, cache_dir=None))
        reader = LLMReader(client=client)
        read_t2(reader, doc)
        with pytest.raises(BudgetExceeded):
            read_t2(reader, doc)


def test_tools_mode_reads_a_tool_call(doc, tmp_path):
    name = table_model("2021", "t2").__name__
    with ScriptedServer([completion(T2_2021, tool=name)]) as server:
        read = read_t2(LLMReader(config(server, tmp_path, mode="tools")), doc)
    assert server.requests[0]["tools"][0]["function"]["name"] == name
    assert read.cells["t2.punishment.decisions"].value == 6


def test_llamacpp_mode_puts_the_schema_in_response_format(doc, tmp_path):
    with ScriptedServer([completion(T2_2021)]) as server:
        read_t2(LLMReader(config(server, tmp_path, mode="json_object_schema")), doc)
    fmt = server.requests[0]["response_format"]
    assert fmt["type"] == "json_object" and "punishment" in fmt["schema"]["properties"]


def test_hybrid_sends_a_fraction_of_what_llm_sends(tmp_path):
    report = read_document(EXAMPLES / "003_9e368bcf3916d1f1.txt")
    with ScriptedServer([Reply(respond=empty_answer)]) as server:
        llm = LLMBackend(config=config(server, tmp_path / "a")).extract(report)
        n_llm = len(server.requests)
        hybrid = HybridBackend(config=config(server, tmp_path / "b")).extract(report)
        hybrid_requests = server.requests[n_llm:]
    assert llm.usage["sent_chars"] > hybrid.usage["sent_chars"] > 0
    assert hybrid.usage["calls"] < llm.usage["calls"]
    # only the rows the parser doubted are asked for: table 三's request names a few rows, not 25
    asked = [set(requested_schema(r).get("properties", {})) for r in hybrid_requests]
    t3 = [a for a in asked if "carried_forward" in a]
    assert t3 and len(t3[0]) < 5 and "granted" not in t3[0]
    assert 0 < hybrid.usage["rows_sent"] < 10
    rules_cells = HybridBackend(config=config(server, tmp_path / "b")).rules.extract(report).values()
    assert hybrid.values() == rules_cells  # a model that reads nothing changes nothing


def test_cli_defaults_to_hybrid_when_an_endpoint_is_configured(tmp_path, monkeypatch):
    with ScriptedServer([Reply(respond=empty_answer)]) as server:
        monkeypatch.setenv("NIANBAO_CONFIG", str(tmp_path / "absent.toml"))
        monkeypatch.setenv("NIANBAO_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.delenv("NIANBAO_PROVIDER", raising=False)
        monkeypatch.setenv("NIANBAO_BASE_URL", server.base_url)
        monkeypatch.setenv("NIANBAO_MODEL", "scripted-model")
        result = CliRunner().invoke(app, ["extract", str(EXAMPLES / "003_9e368bcf3916d1f1.txt")])
        monkeypatch.delenv("NIANBAO_BASE_URL")
        plain = CliRunner().invoke(app, ["extract", str(REPORT)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["backend"] == "hybrid" and out["usage"]["calls"] >= 1 and out["usage"]["model"] == "scripted-model"
    assert json.loads(plain.output)["backend"] == "rules"

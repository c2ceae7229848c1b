"""The store: batch runs, stable findings, decisions that survive re-runs, corrections, migrations."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from pg_server import pg_url, postgres  # noqa: F401 - fixtures
from store_helpers import TEST_RULE, KeyValueBackend, balance_rule_registered, consistent_values, report_text

from nianbao.models import CellReading, Extraction
from nianbao.review import batch
from nianbao.review.schema import LATEST
from nianbao.review.store import RunSettings, Store, StoreError, finding_id


@pytest.fixture
def kv_backend(monkeypatch: pytest.MonkeyPatch):
    """Batch runs in this process (workers=1) with the key=value backend and the balance rule."""
    monkeypatch.setattr(batch, "_backend", lambda name, options: KeyValueBackend())
    with balance_rule_registered():
        yield


def _write(folder: Path, name: str, agency: str, year: int, values: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(report_text(agency, year, values), encoding="utf-8")
    return p


def _broken(values: dict) -> dict:
    """One report whose 总计 of table 三's processed row misses its balance by 5 (natural persons)."""
    v = dict(values)
    v["t3.total_processed.natural_person"] += 5
    return v


def _ours(store: Store, doc_id: int) -> list[dict]:
    return [f for f in store.findings(doc_id) if f["rule"] == TEST_RULE]


def test_batch_stores_findings_and_skips_done(tmp_path: Path, kv_backend: None) -> None:
    rng = random.Random(3)
    good = _write(tmp_path / "in", "a.txt", "甲镇", 2023, consistent_values(rng))
    bad = _write(tmp_path / "in", "b.txt", "乙镇", 2023, _broken(consistent_values(rng)))
    store = Store(tmp_path / "n.db")
    settings = RunSettings("rules", version="t")
    res = batch.run_batch(store, [good, bad], settings, workers=1)
    assert (res.done, res.skipped, res.errors) == (2, 0, [])
    docs = {d.name: d for d in store.documents()}
    assert docs["a.txt"].agency == "甲镇" and docs["a.txt"].year == 2023
    assert _ours(store, docs["a.txt"].id) == []
    (f,) = _ours(store, docs["b.txt"].id)
    assert f["keys"][0] == "t3.new_received.natural_person" and f["found"] - f["expected"] == -5
    cells = {c["key"]: c for c in store.cells(docs["b.txt"].id)}
    key = "t3.total_processed.natural_person"
    text = docs["b.txt"].text
    assert text[cells[key]["span_start"]:cells[key]["span_end"]] == str(cells[key]["value"])
    again = batch.run_batch(store, [good, bad], settings, workers=1)
    assert (again.done, again.skipped) == (0, 2)
    other = batch.run_batch(store, [good], RunSettings("rules", (("model", "x"),), "t"), workers=1)
    assert other.done == 1  # other settings are another result


def test_bad_file_is_recorded_and_batch_goes_on(tmp_path: Path, kv_backend: None,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(4)
    good = _write(tmp_path, "ok.txt", "甲镇", 2023, consistent_values(rng))
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\nthis is not a pdf at all")
    store = Store(tmp_path / "n.db")
    errors: list[tuple[str, str]] = []
    res = batch.run_batch(store, [broken, good], RunSettings(version="t"), workers=1,
                          on_error=lambda p, e: errors.append((p, e)))
    assert res.done == 1 and len(res.errors) == 1
    assert errors[0][0].endswith("broken.pdf") and "\n" not in errors[0][1]
    docs = {d.name: d for d in store.documents()}
    assert docs["broken.pdf"].error and docs["broken.pdf"].current_extraction_id is None
    assert docs["ok.txt"].error is None
    # a later run that fails on a report already extracted (say, an LLM timeout) keeps the old result
    store.save_error(None, str(good), docs["ok.txt"].content_hash, "timeout")
    again = {d.name: d for d in store.documents()}["ok.txt"]
    assert again.error is None and again.current_extraction_id == docs["ok.txt"].current_extraction_id


def test_decisions_survive_a_rerun(tmp_path: Path, kv_backend: None) -> None:
    rng = random.Random(5)
    v = _broken(consistent_values(rng))
    v["t3.carried_forward.business"] += 2  # a second imbalance, in another column
    p = _write(tmp_path, "c.txt", "丙镇", 2023, v)
    store = Store(tmp_path / "n.db")
    settings = RunSettings(version="t")
    batch.run_batch(store, [p], settings, workers=1)
    doc = store.documents()[0]
    f1, f2 = sorted(_ours(store, doc.id), key=lambda f: f["keys"][0])
    store.decide(doc.id, f1["id"], "confirm", "审核员甲")
    store.decide(doc.id, f2["id"], "dismiss", "审核员甲", "原表如此")
    res = batch.run_batch(store, [p], settings, workers=1, force=True)
    assert res.done == 1
    status = {f["id"]: f["status"] for f in _ours(store, doc.id)}
    assert status == {f1["id"]: "confirmed", f2["id"]: "dismissed"}
    store.decide(doc.id, f2["id"], "reopen", "审核员乙")
    assert {f["id"]: f["status"] for f in _ours(store, doc.id)}[f2["id"]] == "open"
    with pytest.raises(StoreError):
        store.decide(doc.id, f2["id"], "delete", "x")
    with pytest.raises(StoreError):
        store.decide(doc.id + 1, f2["id"], "confirm", "x")  # a finding of another report
    audit = store.decisions(doc.id)
    assert [(d["action"], d["who"], d["old_value"], d["new_value"]) for d in audit] == [
        ("confirm", "审核员甲", "open", "confirmed"), ("dismiss", "审核员甲", "open", "dismissed"),
        ("reopen", "审核员乙", "dismissed", "open")]
    assert audit[1]["comment"] == "原表如此" and all(d["at"] for d in audit)


def test_correction_reruns_rules_and_survives_a_rerun(tmp_path: Path, kv_backend: None) -> None:
    v = _broken(consistent_values(random.Random(6)))
    p = _write(tmp_path, "d.txt", "丁镇", 2023, v)
    store = Store(tmp_path / "n.db")
    settings = RunSettings(version="t")
    batch.run_batch(store, [p], settings, workers=1)
    doc = store.documents()[0]
    assert len(_ours(store, doc.id)) == 1
    key = "t3.total_processed.natural_person"
    store.correct(doc.id, key, v[key] - 5, "审核员乙", "原表多计5件")
    assert _ours(store, doc.id) == []  # the identity holds again on the corrected values
    assert store.current(doc.id).cells[key].value == v[key] - 5
    assert {c["key"]: c["value"] for c in store.cells(doc.id)}[key] == v[key]  # printed value kept
    (d,) = store.decisions(doc.id)
    assert (d["action"], d["cell_key"], d["old_value"], d["new_value"]) == ("correct", key, str(v[key]),
                                                                            str(v[key] - 5))
    batch.run_batch(store, [p], settings, workers=1, force=True)
    assert store.current(doc.id).cells[key].value == v[key] - 5
    assert _ours(store, doc.id) == []
    with pytest.raises(StoreError):
        store.correct(doc.id, "t9.nonsense", 1, "x")


def test_finding_identity_is_stable_and_order_free() -> None:
    a = finding_id("h", "r", ["t3.a", "t3.b"])
    assert a == finding_id("h", "r", ["t3.b", "t3.a"])
    assert a != finding_id("h2", "r", ["t3.a", "t3.b"]) and a != finding_id("h", "r2", ["t3.a", "t3.b"])


V1_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE documents (id INTEGER PRIMARY KEY, content_hash VARCHAR(64) NOT NULL UNIQUE, path TEXT NOT NULL,
  name TEXT NOT NULL, kind VARCHAR(16), agency TEXT, year INTEGER, template VARCHAR(8), text TEXT, error TEXT,
  current_extraction_id INTEGER, added_at VARCHAR(32));
CREATE TABLE runs (id INTEGER PRIMARY KEY, backend VARCHAR(32) NOT NULL, model TEXT, prompt_version TEXT,
  settings TEXT, settings_key VARCHAR(64) NOT NULL, started_at VARCHAR(32), finished_at VARCHAR(32),
  documents INTEGER, errors INTEGER, prompt_tokens INTEGER, completion_tokens INTEGER, cost_usd FLOAT);
CREATE TABLE extractions (id INTEGER PRIMARY KEY, document_id INTEGER NOT NULL, run_id INTEGER,
  settings_key VARCHAR(64) NOT NULL, data TEXT NOT NULL, seconds FLOAT, prompt_tokens INTEGER,
  completion_tokens INTEGER, cost_usd FLOAT, created_at VARCHAR(32), UNIQUE (document_id, settings_key));
CREATE TABLE cells (id INTEGER PRIMARY KEY, extraction_id INTEGER NOT NULL, key VARCHAR(96) NOT NULL, value FLOAT,
  raw TEXT, span_start INTEGER, span_end INTEGER, page INTEGER, bbox TEXT, confidence FLOAT, reader VARCHAR(32),
  note TEXT);
CREATE TABLE claims (id INTEGER PRIMARY KEY, extraction_id INTEGER NOT NULL, idx INTEGER NOT NULL, value FLOAT,
  unit VARCHAR(16), kind VARCHAR(16), quote TEXT, parent INTEGER, span_start INTEGER, span_end INTEGER,
  subject VARCHAR(64));
CREATE TABLE findings (id VARCHAR(40) PRIMARY KEY, document_id INTEGER NOT NULL, source VARCHAR(16) NOT NULL,
  rule TEXT NOT NULL, category VARCHAR(32) NOT NULL, severity VARCHAR(16) NOT NULL, keys TEXT, message TEXT,
  expected FLOAT, found FLOAT, fill TEXT, spans TEXT, status VARCHAR(16) NOT NULL, active BOOLEAN NOT NULL,
  first_seen VARCHAR(32), last_seen VARCHAR(32));
CREATE TABLE decisions (id INTEGER PRIMARY KEY, document_id INTEGER NOT NULL, finding_id VARCHAR(40),
  cell_key VARCHAR(96), action VARCHAR(16) NOT NULL, old_value TEXT, new_value TEXT, comment TEXT,
  who TEXT NOT NULL, at VARCHAR(32) NOT NULL);
INSERT INTO documents (id, content_hash, path, name) VALUES (1, 'abc', '/old/r.txt', 'r.txt');
INSERT INTO runs (id, backend, settings_key, documents) VALUES (1, 'rules', 'k', 1);
INSERT INTO decisions (document_id, finding_id, action, who, at) VALUES (1, 'f1', 'confirm', '老用户', '2025');
"""


def test_an_old_database_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.executescript(V1_SCHEMA)
    old = Extraction(report="r.txt", cells={"t2.licensing.decisions": CellReading(key="t2.licensing.decisions",
                                                                                  value=7)})
    con.execute("INSERT INTO extractions (id, document_id, settings_key, data) VALUES (1, 1, 'k', ?)",
                (old.model_dump_json(),))
    con.execute("UPDATE documents SET current_extraction_id = 1, text = 'x'")
    con.commit()
    con.close()
    store = Store(path)
    assert store.current(1).cells["t2.licensing.decisions"].value == 7  # a plain-JSON row still reads
    con = sqlite3.connect(path)
    assert con.execute("SELECT version FROM schema_version").fetchall() == [(LATEST,)]
    assert "skipped" in {r[1] for r in con.execute("PRAGMA table_info(runs)")}
    assert {"rules_version", "data_z"} <= {r[1] for r in con.execute("PRAGMA table_info(extractions)")}
    assert con.execute("SELECT who FROM decisions").fetchall() == [("老用户",)]
    con.close()
    assert store.load_hierarchy([("甲镇", "某县")]) == 1  # the table v2 added works
    assert [d.name for d in store.documents()] == ["r.txt"]
    Store(path)  # opening an up-to-date database again changes nothing


@pytest.mark.slow
def test_postgresql_url(pg_url: str) -> None:  # noqa: F811 - the fixture
    """Any SQL URL works: the same store code on a real PostgreSQL the test starts itself."""
    from store_helpers import extraction_from

    store = Store(pg_url)
    text = report_text("甲镇", 2023, consistent_values(random.Random(7)))
    _, ex = extraction_from(text)
    doc_id = store.save_result(None, "/in/a.txt", "pg-a", "txt", text, ex, "k")
    assert store.save_result(None, "/in/a-again.txt", "pg-a", "txt", text, ex, "k") == doc_id  # upsert, not a copy
    store.correct(doc_id, "t2.licensing.decisions", 5, "pg")
    assert store.current(doc_id).cells["t2.licensing.decisions"].value == 5
    assert {c["key"]: c["value"] for c in store.cells(doc_id)}["t2.licensing.decisions"] == ex.cells[
        "t2.licensing.decisions"].value  # the printed value is kept
    Store(pg_url)  # opening an up-to-date database again changes nothing
    assert [d.path for d in store.documents()] == ["/in/a-again.txt"]


def test_db_url_keeps_urls_and_makes_files_absolute(tmp_path: Path) -> None:
    from nianbao.review.store import db_url

    assert db_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert db_url(tmp_path / "x.db") == f"sqlite:///{tmp_path / 'x.db'}"


def test_two_findings_of_one_rule_on_the_same_keys_keep_their_own_decisions(tmp_path: Path) -> None:
    """Two 共…其中 sums that fail: same rule, no keys; each keeps its decision across re-checks."""
    from store_helpers import extraction_from

    from nianbao.models import Finding, Span

    store = Store(tmp_path / "n.db")
    text = report_text("甲镇", 2023, {"t2.licensing.decisions": 1})
    _, ex = extraction_from(text)
    a = Finding(category="narrative_sum", rule="n.sum", severity="warning", message="A", spans=[Span(start=0, end=2)])
    b = Finding(category="narrative_sum", rule="n.sum", severity="warning", message="B", spans=[Span(start=5, end=9)])
    ex.findings = [a, b]
    doc_id = store.save_result(None, "/a.txt", "h", "txt", text, ex, "k")
    fa = next(f for f in store.findings(doc_id) if f["message"] == "A")
    store.decide(doc_id, fa["id"], "dismiss", "x", "ok")
    ex.findings = [b, a]  # another run lists them the other way round
    store.save_result(None, "/a.txt", "h", "txt", text, ex, "k")
    status = {f["message"]: f["status"] for f in store.findings(doc_id)}
    assert status == {"A": "dismissed", "B": "open"}


def test_changed_rules_recheck_stored_reports_without_extracting_again(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A new nianbao with new rules: stored reports get the new findings; nothing is re-extracted."""
    from nianbao.review import store as store_mod

    monkeypatch.setattr(batch, "_backend", lambda name, options: KeyValueBackend())
    p = _write(tmp_path, "e.txt", "戊镇", 2023, _broken(consistent_values(random.Random(8))))
    store = Store(tmp_path / "n.db")
    settings = RunSettings(version="t")
    batch.run_batch(store, [p], settings, workers=1)
    doc = store.documents()[0]
    assert _ours(store, doc.id) == []  # the balance rule does not exist yet
    with balance_rule_registered():
        again = batch.run_batch(store, [p], settings, workers=1)
        assert (again.done, again.skipped, again.rechecked) == (0, 1, 0)  # same rule code: nothing to do
        monkeypatch.setattr(store_mod, "rules_version", lambda: "new-rules")
        again = batch.run_batch(store, [p], settings, workers=1)
        assert (again.done, again.skipped, again.rechecked) == (0, 1, 1)
        (f,) = _ours(store, doc.id)
        store.decide(doc.id, f["id"], "confirm", "审核员")
        assert batch.run_batch(store, [p], settings, workers=1).rechecked == 0
        monkeypatch.setattr(store_mod, "rules_version", lambda: "newer-rules")
        assert batch.run_batch(store, [p], settings, workers=1).rechecked == 1
        assert [g["status"] for g in _ours(store, doc.id)] == ["confirmed"]


def test_backend_identity_makes_a_new_prompt_a_new_setting() -> None:
    """Same backend and options, another model or prompt: the stored results are not reused."""
    from types import SimpleNamespace

    reader = SimpleNamespace(prompt_version="table-v2+narrative-v1", cfg=SimpleNamespace(model="qwen", api_key="s"))
    be = SimpleNamespace(name="llm", reader=reader)
    ident = batch.describe_backend(be)
    assert dict(ident) == {"model": "qwen", "prompt_version": "table-v2+narrative-v1"}  # never the key
    a = RunSettings("llm", (), "1", ident)
    reader.prompt_version = "table-v3+narrative-v1"
    b = RunSettings("llm", (), "1", batch.describe_backend(be))
    assert a.key != b.key and a.model == "qwen" and b.prompt_version == "table-v3+narrative-v1"
    assert batch.describe_backend(SimpleNamespace(settings=lambda: {"model": "m"})) == (("model", "m"),)


def test_llm_backends_run_with_bounded_concurrency(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A network backend gets threads, never more calls in flight than --workers."""
    import threading
    import time

    class SlowRemote(KeyValueBackend):
        name = "llm"
        lock = threading.Lock()
        now = peak = 0

        def extract(self, doc):  # type: ignore[no-untyped-def]
            with self.lock:
                SlowRemote.now += 1
                SlowRemote.peak = max(SlowRemote.peak, SlowRemote.now)
            time.sleep(0.05)
            with self.lock:
                SlowRemote.now -= 1
            ex = super().extract(doc)
            ex.backend = "llm"
            ex.usage = {"prompt_tokens": 100, "completion_tokens": 10, "cost_usd": 0.001}
            return ex

    monkeypatch.setattr(batch, "_backend", lambda name, options: SlowRemote())
    rng = random.Random(9)
    files = [_write(tmp_path / "in", f"{i}.txt", f"镇{i}", 2023, consistent_values(rng)) for i in range(8)]
    store = Store(tmp_path / "n.db")
    res = batch.run_batch(store, files, RunSettings("llm", (("model", "m"),), "t"), workers=3)
    assert res.done == 8 and SlowRemote.peak == 3
    (run,) = store.runs()
    assert (run.prompt_tokens, run.completion_tokens, round(run.cost_usd, 6), run.model) == (800, 80, 0.008, "m")

"""`nianbao export` and `nianbao run --hierarchy` through the CLI, as a user calls them."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from store_helpers import consistent_values, extraction_from, report_text
from typer.testing import CliRunner

from nianbao.app.cli import app
from nianbao.review.store import Store
from nianbao.spec import keys

runner = CliRunner()


def _store(tmp_path: Path) -> Path:
    db = tmp_path / "n.db"
    store = Store(db)
    rng = random.Random(51)
    for agency, year in [("甲镇", 2022), ("甲镇", 2023), ("乙镇", 2023)]:
        text = report_text(agency, year, consistent_values(rng))
        _, ex = extraction_from(text, f"{agency}{year}.txt")
        store.save_result(None, f"/in/{agency}{year}.txt", f"{agency}{year}", "txt", text, ex, "k")
    return db


def test_export_long_wide_and_diff(tmp_path: Path) -> None:
    db = _store(tmp_path)
    r = runner.invoke(app, ["export", "--db", str(db), "--format", "csv", "-o", str(tmp_path / "l.csv")])
    assert r.exit_code == 0, r.output
    with (tmp_path / "l.csv").open(encoding="utf-8-sig") as fh:
        assert len(list(csv.DictReader(fh))) == 3 * len(keys("2021"))
    r = runner.invoke(app, ["export", "--db", str(db), "-f", "jsonl", "--wide", "-o", str(tmp_path / "w.jsonl")])
    assert r.exit_code == 0
    assert len((tmp_path / "w.jsonl").read_text(encoding="utf-8").splitlines()) == 3
    r = runner.invoke(app, ["export", "--db", str(db), "--diff", "甲镇", "--changed"])
    assert r.exit_code == 0
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert rows and all(x["year_before"] == 2022 and x["year_after"] == 2023 for x in rows)
    assert all(x["delta"] == x["after"] - x["before"] for x in rows if x["delta"] is not None)
    r = runner.invoke(app, ["export", "--db", str(db), "--diff", "乙镇"])
    assert r.exit_code == 2  # one year only
    r = runner.invoke(app, ["export", "--db", str(db), "-f", "docx", "-o", str(tmp_path / "x")])
    assert r.exit_code == 2


def test_run_loads_a_hierarchy(tmp_path: Path) -> None:
    db = _store(tmp_path)
    h = tmp_path / "h.csv"
    h.write_text("agency,parent\n甲镇,某县\n乙镇,某县\n", encoding="utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    r = runner.invoke(app, ["run", str(empty), "--db", str(db), "--hierarchy", str(h)])
    assert r.exit_code == 0, r.output
    from sqlalchemy import select

    from nianbao.review.schema import hierarchy

    with Store(db).engine.connect() as c:
        assert sorted(c.execute(select(hierarchy.c.agency, hierarchy.c.parent)).all()) == [
            ("乙镇", "某县"), ("甲镇", "某县")]


def test_unknown_backend_and_bad_db_are_one_line_errors(tmp_path: Path) -> None:
    r = runner.invoke(app, ["run", str(tmp_path), "--db", str(tmp_path / "n.db"), "--backend", "nope"])
    assert r.exit_code == 2 and "unknown backend" in r.output
    not_db = tmp_path / "not.db"
    not_db.write_text("this is not sqlite " * 100)
    r = runner.invoke(app, ["export", "--db", str(not_db), "-o", str(tmp_path / "x.csv")])
    assert r.exit_code == 2 and "cannot open the store" in r.output
    for cmd in (["export", "-o", str(tmp_path / "x.csv")], ["review"]):
        r = runner.invoke(app, [*cmd, "--db", str(tmp_path / "typo.db")])
        assert r.exit_code == 2 and "no such store" in r.output and not (tmp_path / "typo.db").exists()

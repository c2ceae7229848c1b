"""The Python API (nianbao.extract, check, load_store) and the review commands a user types."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest
from conftest import EXAMPLES
from review_server import live_server
from store_helpers import consistent_values, template_text
from typer.testing import CliRunner

import nianbao
from nianbao.app.cli import app
from nianbao.app.pipeline import process_document
from nianbao.document import Document

runner = CliRunner()


def test_extract_check_and_load_store(tmp_path: Path) -> None:
    path = sorted(EXAMPLES.glob("*.txt"))[0]
    ex = nianbao.extract(path)
    assert ex.report == path.name and ex.cells and ex.meta.template in ("2019", "2021")
    assert nianbao.extract(path, backend="rules").cells.keys() == ex.cells.keys()
    import nianbao.extract as package  # the subpackage of the same name still imports as a module

    assert package.read_document(path).name == path.name
    key = "t3.new_received.total"
    assert not any(key in f.keys and f.category == "arithmetic" for f in ex.findings)
    ex.cells[key].value = (ex.cells[key].value or 0) + 7
    after = nianbao.check(ex).findings
    assert any(key in f.keys and f.category == "arithmetic" for f in after)
    store = nianbao.load_store(tmp_path / "api.db")
    assert store.documents() == [] and (tmp_path / "api.db").is_file()


@pytest.mark.slow
def test_user_add_and_review_off_loopback_needs_reviewers(tmp_path: Path) -> None:
    db = tmp_path / "n.db"
    nianbao.load_store(db)
    r = runner.invoke(app, ["review", "--db", str(db), "--host", "0.0.0.0"])
    assert r.exit_code == 2 and "nianbao user add" in r.output
    r = runner.invoke(app, ["user", "add", "王科长", "--db", str(db), "--password-stdin"], input="short\n")
    assert r.exit_code == 2 and "至少" in r.output
    r = runner.invoke(app, ["user", "add", "王科长", "--db", str(db), "--password-stdin"], input="一二三四五六七八\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["user", "add", "王科长", "--db", str(db), "--password-stdin"], input="another one\n")
    assert r.exit_code == 2 and "已存在" in r.output
    assert runner.invoke(app, ["user", "list", "--db", str(db)]).output.split() == ["王科长"]
    from nianbao.review.accounts import login

    assert login(nianbao.load_store(db), "王科长", "一二三四五六七八") is not None
    assert login(nianbao.load_store(db), "王科长", "wrong") is None
    r = runner.invoke(app, ["export", "--db", str(db), "--labels", "fr", "-o", str(tmp_path / "x.csv")])
    assert r.exit_code == 2 and "--labels" in r.output


@pytest.mark.slow
def test_year_over_year_page_is_chinese_rounded_with_changes_and_cross_findings(tmp_path: Path) -> None:
    store = nianbao.load_store(tmp_path / "y.db")
    rng = random.Random(5)
    last = consistent_values(rng)
    last["t2.admin_fee.amount_wan"] = 12.3456
    this = consistent_values(rng)
    this["t2.admin_fee.amount_wan"] = 10.0157
    this["t3.carried_over.natural_person"] = last["t3.carried_forward.natural_person"] + 4  # not carried over
    for year, values in ((2022, last), (2023, this)):
        text = template_text("丁镇", year, values)
        ex = process_document(Document(name=f"丁镇{year}.txt", kind="txt", text=text))
        store.save_result(None, f"/in/丁镇{year}.txt", f"h{year}", "txt", text, ex, "k")
    store.cross_check()
    with live_server(store) as base:
        page = httpx.get(f"{base}/diff", params={"agency": "丁镇", "changed": "1"}).text
    visible = page.split("<main>")[1]
    import re

    text_only = re.sub(r'title="[^"]*"', "", re.sub(r"<[^>]+title=\"[^\"]*\"", "<", visible))
    assert "t3." not in re.sub(r"<[^>]*>", "", text_only)  # keys only in tooltips
    assert "<h1>年度对比：丁镇</h1>" in page and 'value="丁镇" selected' in page
    fee = re.search(r'<td title="t2\.admin_fee\.amount_wan">(.*?)</tr>', page, re.S).group(1)
    assert "12.3456" in fee and "10.0157" in fee and "-2.3299" in fee and "-18.9%" in fee
    assert "0000000" not in page  # no float noise such as -185.27999999999975
    carried = re.search(r'<td title="t3\.carried_over\.natural_person">(.*?)</tr>', page, re.S).group(1)
    assert "上年结转与上年报告不符" in carried

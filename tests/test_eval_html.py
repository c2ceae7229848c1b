"""The eval's HTML page opens in the real Chromium and shows its charts; report text stays escaped."""

from __future__ import annotations

import json

import pytest
from conftest import EXAMPLES, FIXTURES, ROOT

from nianbao.eval.harness import Case, find_cases, run_backend
from nianbao.eval.html_report import marked_source, write_html
from nianbao.eval.prices import load_prices


def test_source_is_escaped_and_marked():
    html = marked_source("<script>x</script> 共3条", [(19, 21, "at-1")])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<mark id="at-1">共3</mark>' in html


@pytest.fixture
def page_file(tmp_path):
    cases, _ = find_cases([EXAMPLES], FIXTURES)
    # a hostile report name and a deliberately wrong prediction so the error list and sources show
    evil = tmp_path / "evil<b>x<b>.txt"
    evil.write_text((EXAMPLES / f"{cases[0].name}.txt").read_text(encoding="utf-8"), encoding="utf-8")
    gold = json.loads(json.dumps(cases[0].gold))
    gold["cells"]["t3.new_received.total"] = 999
    cases.append(Case(evil.stem, evil, gold))
    runs = [run_backend("rules", cases, load_prices())]
    out = tmp_path / "report.html"
    write_html(out, runs, {c.name: c for c in cases})
    return out


@pytest.mark.browser
def test_html_report_in_chromium(page_file, chromium):
    text = page_file.read_text(encoding="utf-8")
    assert "<b>x<b>" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    shots = ROOT / "out" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page = chromium.new_page(viewport={"width": 1000, "height": 900})
    page.goto(page_file.as_uri())
    charts = page.locator("svg.chart")
    assert charts.count() == 2
    for i in range(2):
        box = charts.nth(i).bounding_box()
        assert box and box["width"] >= 400 and box["height"] >= 60
    bars = page.locator("rect.bar")
    widths = [bars.nth(i).bounding_box()["width"] for i in range(bars.count())]
    assert len(widths) >= 4 and max(widths) > 50
    assert page.locator("#figures tr").count() > 10
    page.screenshot(path=str(shots / "eval_report.png"), full_page=False)
    link = page.locator("#errors a").first
    assert link.count() == 1
    link.click()
    assert page.locator(link.get_attribute("href")).is_visible()
    span_link = page.locator('#errors a[href^="#at-"]').first  # the wrong cell, marked in its source
    target = page.locator(span_link.get_attribute("href"))
    assert target.evaluate("e => e.tagName") == "MARK" and target.inner_text().strip()
    assert (shots / "eval_report.png").stat().st_size > 5000

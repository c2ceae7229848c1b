"""The review page in real Chromium: dismiss a finding, correct a cell, see both in page and database."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from review_server import live_server
from store_helpers import TEST_RULE, balance_rule_registered, consistent_values, extraction_from, report_text

from nianbao.app.pipeline import check
from nianbao.review.store import Store

pytestmark = pytest.mark.browser



def test_dismiss_and_correct_in_the_browser(tmp_path: Path, chromium) -> None:
    with balance_rule_registered():
        store = Store(tmp_path / "n.db")
        rng = random.Random(41)
        for i, agency in enumerate(["承留镇", "乌伊岭镇"]):
            v = consistent_values(rng)
            if i == 0:
                v["t3.total_processed.natural_person"] += 3
                v["t3.carried_forward.other_org"] += 1
            text = report_text(agency, 2023, v, extra="全年共发布信息 1359 条。<script>window.__pwned=1</script>")
            _, ex = extraction_from(text, f"{agency}.txt")
            doc_id = store.save_result(None, f"/in/{agency}.txt", agency, "txt", text, check(None, ex), "k")
            if i == 0:
                target = doc_id
        key = "t3.total_processed.natural_person"
        printed = store.current(target).cells[key].value
        with live_server(store, who="浏览器审核员") as base:
            page = chromium.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(base + "/")
            row = page.locator(f'tr.report-row[data-doc="{target}"]')
            errors = sum(1 for f in store.findings(target) if f["severity"] == "error" and f["status"] == "open")
            assert errors >= 2 and row.locator("td.count.sev-error").inner_text() == str(errors)
            page.screenshot(path=str(tmp_path / "list.png"), full_page=True)
            row.locator("a").click()
            page.wait_for_selector("li.finding")
            assert page.evaluate("window.__pwned") is None
            # j moves to the first finding and lights up its cells
            page.keyboard.press("j")
            first = page.locator("li.finding.current")
            assert first.count() == 1
            fid = first.get_attribute("data-id")
            keys = first.get_attribute("data-keys").split()  # every cell of every finding on the card
            assert fid in {f["id"] for f in store.findings(target)}
            assert keys and page.locator("td.cell.hl").count() == len(set(keys))
            page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
            # d focuses the reason box; typing and Enter dismisses
            page.keyboard.press("d")
            page.keyboard.type("原表如此，不改")
            page.keyboard.press("Enter")
            page.wait_for_selector(f'li.finding.status-dismissed[data-id="{fid}"]')
            assert next(f for f in store.findings(target) if f["id"] == fid)["status"] == "dismissed"
            # back on the page at the next open finding; k and j move, c confirms
            nxt = page.locator("li.finding.current").get_attribute("data-id")
            assert nxt != fid and "status-open" in page.locator("li.finding.current").get_attribute("class")
            page.keyboard.press("j")
            page.keyboard.press("k")
            assert page.locator("li.finding.current").get_attribute("data-id") == nxt
            page.keyboard.press("c")
            page.wait_for_selector(f'li.finding.status-confirmed[data-id="{nxt}"]')
            assert next(f for f in store.findings(target) if f["id"] == nxt)["status"] == "confirmed"
            # clicking a table cell fills the correction form and scrolls the text to its number
            page.locator(f'[id="cell-{key}"]').click()
            assert page.locator("#correct-key").input_value() == key
            assert page.locator(f'#source [data-keys~="{key}"].hl').count() >= 1
            page.fill("#correct-value", str(printed - 3))
            page.fill("#correct-comment", "多计3件")
            page.click("#correct-submit")
            page.wait_for_selector(f'[id="cell-{key}"].corrected')
            assert page.locator(f'[id="cell-{key}"] .v').inner_text() == str(printed - 3)
            page.screenshot(path=str(tmp_path / "report_after.png"), full_page=False)
            page.close()
        assert store.current(target).cells[key].value == printed - 3
        actions = [(d["action"], d["who"]) for d in store.decisions(target)]
        runs = [a for i, a in enumerate(actions) if i == 0 or actions[i - 1] != a]  # a card decides all its findings
        assert runs == [("dismiss", "浏览器审核员"), ("confirm", "浏览器审核员"), ("correct", "浏览器审核员")]
        assert not [f for f in store.findings(target) if f["rule"] == TEST_RULE and key in f["keys"]]


def test_seed_report_page_highlights_every_number(tmp_path: Path, chromium) -> None:
    """Seed 004 through the real pipeline: every stored cell span is a highlight; click goes both ways."""
    from conftest import EXAMPLES

    from nianbao import __version__
    from nianbao.review.batch import run_batch
    from nianbao.review.store import RunSettings

    store = Store(tmp_path / "s.db")
    run_batch(store, sorted(EXAMPLES.glob("*.txt")), RunSettings(version=__version__), workers=1)
    doc = next(d for d in store.documents() if d.name.startswith("004_"))
    spanned = [c["key"] for c in store.cells(doc.id) if c["span_start"] is not None]
    assert spanned
    with live_server(store) as base:
        page = chromium.new_page(viewport={"width": 1500, "height": 1000})
        page.goto(f"{base}/")
        page.screenshot(path=str(tmp_path / "list_seeds.png"), full_page=True)
        page.goto(f"{base}/report/{doc.id}")
        assert page.locator('#source span.anchor[id^="src-"]').count() == len(spanned)
        key = spanned[-1]
        mark = page.locator(f'#source [data-keys~="{key}"]').first
        mark.click()  # source number → its table cell
        assert page.locator(f'[id="cell-{key}"].hl').count() == 1
        page.keyboard.press("j")
        page.screenshot(path=str(tmp_path / "report_seed004.png"))
        page.close()

"""The review page at work in real Chromium: the original page beside a scanned report's finding,
a bulk dismissal, a sign-off that reaches the list and the export, a correction kept as 已更正,
Chinese throughout, and a forged POST from another port of 127.0.0.1 refused.
"""

from __future__ import annotations

import hashlib
import http.server
import random
import re
import threading
from pathlib import Path

import pytest
from conftest import FIXTURES
from review_server import free_port, live_server
from store_helpers import consistent_values, template_text

from nianbao.app.pipeline import check, process_document
from nianbao.document import Document
from nianbao.extract import read_document
from nianbao.review import decide
from nianbao.review.store import Store
from nianbao.rules import registry
from nianbao.spec import TEMPLATES, keys

SCAN = FIXTURES / "docs" / "004_6f1ea477f42cf686.scan.pdf"

pytestmark = pytest.mark.browser



def _ids_never_shown() -> list[str]:
    """Every id the page must show only in tooltips: cell keys, rule ids, statuses, severities, categories."""
    import nianbao.rules  # noqa: F401  (registers the rules)

    ids = {k for t in TEMPLATES for k in keys(t)} | set(registry.RULES)
    ids |= {"error", "warning", "info", "open", "confirmed", "dismissed", "corrected", "arithmetic",
            "structure", "ocr", "narrative_mismatch", "narrative_sum", "stale_year", "disagreement"}
    return sorted(ids, key=len, reverse=True)


def _english_ids(text: str) -> list[str]:
    return [i for i in _ids_never_shown() if re.search(rf"(?<![A-Za-z_.]){re.escape(i)}(?![A-Za-z_])", text)]


def _save_generated(store: Store, agency: str, values: dict, year: int = 2023) -> int:
    text = template_text(agency, year, values)
    ex = process_document(Document(name=f"{agency}.txt", kind="txt", text=text))
    return store.save_result(None, f"/in/{agency}.txt", hashlib.sha256(text.encode()).hexdigest(), "txt", text,
                             ex, "k")


def test_scanned_pdf_finding_shows_the_page_with_the_cells_box(tmp_path: Path, chromium, monkeypatch) -> None:
    monkeypatch.setenv("NIANBAO_CACHE_DIR", str(tmp_path / "cache"))
    doc = read_document(SCAN)
    ex = process_document(doc)
    key = "t3.new_received.natural_person"
    cell = ex.cells[key]
    assert cell.span and cell.span.page and cell.span.bbox, "the OCR reader places every cell on its page"
    cell.value += 7  # as if the agency had printed a wrong number here: the identities now fail on it
    ex = check(doc, ex)
    assert any(key in f.keys and f.category == "arithmetic" for f in ex.findings)
    store = Store(tmp_path / "scan.db")
    data = SCAN.read_bytes()
    doc_id = store.save_result(None, str(SCAN), hashlib.sha256(data).hexdigest(), doc.kind, doc.text, ex, "k")
    with live_server(store) as base:
        page = chromium.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(f"{base}/report/{doc_id}")
        card = page.locator(f'li.finding[data-keys~="{key}"]').first
        fid = card.get_attribute("data-id")
        card.locator(".msg").click()
        page.wait_for_selector("#page-view:not([hidden])")
        # polled from here: the page's CSP (script-src 'self') refuses wait_for_function's eval
        for _ in range(200):
            if page.evaluate("document.getElementById('page-img').complete && "
                             "document.getElementById('page-img').naturalWidth > 0"):
                break
            page.wait_for_timeout(100)
        assert page.locator("#page-img").get_attribute("src") == f"/report/{doc_id}/page/{cell.span.page}.png"
        # the red box sits where the reader placed the cell, scaled to the rendered page
        img = page.locator("#page-img").bounding_box()
        box = page.locator("#page-box").bounding_box()
        natural = page.evaluate("[document.getElementById('page-img').naturalWidth, "
                                "document.getElementById('page-img').naturalHeight]")
        from nianbao.review.pages import page_image

        rendered = page_image(str(SCAN), hashlib.sha256(data).hexdigest(), cell.span.page)
        assert natural == [rendered.width, rendered.height]
        x0, y0, x1, y1 = (v * rendered.scale for v in cell.span.bbox)
        k = img["width"] / rendered.width
        assert abs(box["x"] - (img["x"] + x0 * k)) < 1.5
        assert abs(box["y"] - (img["y"] + y0 * k)) < 1.5
        assert abs(box["width"] - (x1 - x0) * k) < 1.5 and abs(box["height"] - (y1 - y0) * k) < 1.5
        # and on the page image, inside that box, there is ink: the printed digit
        from PIL import Image

        with Image.open(rendered.path) as im:
            crop = im.convert("L").crop((int(x0), int(y0), int(x1) + 1, int(y1) + 1))
            assert crop.getextrema()[0] < 128
        assert f'href="/report/{doc_id}/original"' in page.content()
        page.screenshot(path=str(tmp_path / "pdf_finding.png"))
        original = page.request.get(f"{base}/report/{doc_id}/original")
        assert original.status == 200 and original.headers["content-type"] == "application/pdf"
        assert original.body() == data
        assert fid and not _english_ids(page.inner_text("body"))
        page.close()


def test_bulk_dismissal_sign_off_correction_and_chinese_text(tmp_path: Path, chromium) -> None:
    store = Store(tmp_path / "n.db")
    rng = random.Random(7)
    docs = []
    for i in range(4):
        v = consistent_values(rng)
        v["t3.new_received.natural_person"] += 2 + i  # one cause each: 一 新收 of 自然人 misprinted
        docs.append(_save_generated(store, f"测试{i}镇", v))
    balance = [f for f in store.findings() if f["rule"] == "arithmetic.balance"]
    assert len(balance) == 4
    with live_server(store, who="审核员甲") as base:
        page = chromium.new_page(viewport={"width": 1500, "height": 1000})
        page.goto(base + "/")
        assert not _english_ids(page.inner_text("body"))
        assert "已审核报告 0 / 4" in page.inner_text("#progress")
        # one card per report for the misprinted cell, listing every rule that saw it
        page.goto(f"{base}/report/{docs[0]}")
        assert not _english_ids(page.inner_text("body")), _english_ids(page.inner_text("body"))
        first = page.locator('li.finding[data-keys~="t3.new_received.natural_person"]')
        assert first.count() == 1 and first.locator(".also li").count() >= 2
        assert "表三" in first.inner_text() and "自然人" in first.inner_text()
        # bulk: the queue of one rule across reports, three picked, one reason
        page.goto(f"{base}/queue?rule=arithmetic.balance")
        assert not _english_ids(page.inner_text("body"))
        picks = page.locator("input.pick")
        assert picks.count() == 4
        for i in range(3):
            picks.nth(i).check()
        page.select_option("#bulk-action", "dismiss")
        page.fill("#bulk-reason", "原表如此，已电话核实")
        page.click("#bulk-submit")
        page.wait_for_url(re.compile(r"done=3"))
        after = {f["id"]: f["status"] for f in store.findings() if f["rule"] == "arithmetic.balance"}
        assert sorted(after.values()) == ["dismissed", "dismissed", "dismissed", "open"]
        reasons = {d["comment"] for d in store.decisions() if d["action"] == "dismiss"}
        assert reasons == {"原表如此，已电话核实"}
        assert page.locator("input.pick").count() == 1  # the open queue moved on
        # a correction keeps its card, marked 已更正 with old → new
        target = docs[3]
        key = "t3.new_received.natural_person"
        printed = store.current(target).cells[key].value
        page.goto(f"{base}/report/{target}")
        page.locator(f'[id="cell-{key}"]').click()
        page.fill("#correct-value", str(printed - 5))
        page.fill("#correct-comment", "多印了5")
        page.click("#correct-submit")
        page.wait_for_selector("li.finding.status-corrected")
        card = page.locator("li.finding.status-corrected").first
        assert "已更正" in card.inner_text() and f"{printed} → {printed - 5}" in card.inner_text()
        assert "原 " + str(printed) in page.locator(f'[id="cell-{key}"]').inner_text()
        assert not _english_ids(page.inner_text("body"))
        page.screenshot(path=str(tmp_path / "corrected.png"))
        # sign-off: shown on the report, in the list and counted in the header
        page.click("#sign-off")
        page.wait_for_selector(".signoff-bar.signed")
        assert "审核员甲" in page.inner_text("#signoff")
        page.goto(base + "/")
        row = page.locator(f'tr.report-row[data-doc="{target}"]')
        assert "已审核" in row.inner_text() and "审核员甲" in row.inner_text()
        assert "已审核报告 1 / 4" in page.inner_text("#progress")
        assert row.locator("td.count").last.inner_text().startswith(
            str(sum(1 for f in decide.review_findings(store, target) if f["status"] != "open")))
        page.screenshot(path=str(tmp_path / "list.png"), full_page=True)
        page.close()
    from openpyxl import load_workbook

    from nianbao.review.export import export

    export(store, "xlsx", tmp_path / "all.xlsx")
    sheet = [list(r) for r in load_workbook(tmp_path / "all.xlsx", read_only=True)["报告"].iter_rows(values_only=True)]
    head = sheet[0]
    signed = {r[head.index("报告编号")]: (r[head.index("已审核")], r[head.index("审核人")]) for r in sheet[1:]}
    assert signed[target] == (True, "审核员甲") and signed[docs[0]] == (False, None)


def test_j_and_k_skip_decided_cards_and_changing_a_decision_asks_first(tmp_path: Path, chromium) -> None:
    store = Store(tmp_path / "n.db")
    rng = random.Random(8)
    v = consistent_values(rng)
    v["t3.new_received.natural_person"] += 2
    v["t3.granted.business"] += 1
    v["t4.review.upheld"] += 1
    doc = _save_generated(store, "乙镇", v)
    with live_server(store) as base:
        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{base}/report/{doc}")
        ids = [c.get_attribute("data-id") for c in page.locator("li.finding").all()]
        assert len(ids) >= 3
        page.keyboard.press("j")
        assert page.locator("li.finding.current").get_attribute("data-id") == ids[0]
        page.keyboard.press("c")  # confirm the first; back on the page at the next open card
        page.wait_for_selector(f'li.finding.status-confirmed[data-id="{ids[0]}"]')
        assert page.locator("li.finding.current").get_attribute("data-id") == ids[1]
        page.keyboard.press("k")  # the confirmed card is skipped
        assert page.locator("li.finding.current").get_attribute("data-id") == ids[1]
        # dismissing the confirmed card asks first; saying no changes nothing
        confirmed = page.locator(f'li.finding[data-id="{ids[0]}"]')
        confirmed.locator(".reason").fill("看错了")
        page.once("dialog", lambda d: d.dismiss())
        confirmed.locator("button.dismiss").click()
        page.wait_for_timeout(300)
        assert {f["status"] for f in store.findings(doc) if f["id"] == ids[0]} == {"confirmed"}
        page.once("dialog", lambda d: d.accept())
        confirmed.locator("button.dismiss").click()
        page.wait_for_selector(f'li.finding.status-dismissed[data-id="{ids[0]}"]')
        assert {f["status"] for f in store.findings(doc) if f["id"] == ids[0]} == {"dismissed"}
        page.close()


def test_a_page_on_another_loopback_port_cannot_make_a_decision(tmp_path: Path, chromium) -> None:
    store = Store(tmp_path / "n.db")
    v = consistent_values(random.Random(9))
    v["t3.new_received.natural_person"] += 2
    doc = _save_generated(store, "丙镇", v)
    fid = store.findings(doc)[0]["id"]
    with live_server(store) as base:
        context = chromium.new_context()
        victim = context.new_page()
        victim.goto(f"{base}/report/{doc}")  # the reviewer has the page open: a real session and token
        token = victim.locator('input[name="csrf_token"]').first.input_value()
        attacker_port = free_port()
        evil = tmp_path / "evil"
        evil.mkdir()
        target = f"{base}/report/{doc}/finding/{fid}"
        # 1. a planted session cookie (cookies ignore ports) with a token the attacker made up
        (evil / "planted.html").write_text(
            f'<form id="f" method="post" action="{target}"><input name="action" value="dismiss">'
            f'<input name="comment" value="forged"><input name="csrf_token" value="{"0" * 64}"></form>'
            '<script>document.cookie = "nianbao_session=planted; path=/"; '
            'document.getElementById("f").submit();</script>', encoding="utf-8")
        # 2. the victim's own cookie and even a leaked valid token: the origin gives it away
        (evil / "leaked.html").write_text(
            f'<form id="f" method="post" action="{target}"><input name="action" value="dismiss">'
            f'<input name="comment" value="forged"><input name="csrf_token" value="{token}"></form>'
            '<script>document.getElementById("f").submit();</script>', encoding="utf-8")
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(evil), **k)  # noqa: E731
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", attacker_port), handler)
        t = threading.Thread(target=httpd.serve_forever, daemon=True)
        t.start()
        try:
            # the reviewer's browser, logged-in page open, follows a link to the attacker's page
            page = context.new_page()
            with page.expect_navigation(url=re.compile(re.escape(target))):
                page.goto(f"http://127.0.0.1:{attacker_port}/leaked.html")
            assert "拒绝" in page.inner_text("body")
            page.close()
            # a browser with no session yet: the attacker's script plants one (cookies ignore ports)
            fresh = chromium.new_context()
            page = fresh.new_page()
            with page.expect_navigation(url=re.compile(re.escape(target))):
                page.goto(f"http://127.0.0.1:{attacker_port}/planted.html")
            assert "拒绝" in page.inner_text("body")
            assert any(c["name"] == "nianbao_session" and c["value"] == "planted" for c in fresh.cookies(base))
            fresh.close()
        finally:
            httpd.shutdown()
            httpd.server_close()
        assert store.decisions(doc) == []
        assert {f["status"] for f in store.findings(doc)} == {"open"}
        # the reviewer's own page still works (after reloading with a fresh cookie)
        context.clear_cookies()
        victim.goto(f"{base}/report/{doc}")
        victim.locator(f'li.finding[data-id="{fid}"] button.confirm').click()
        victim.wait_for_selector(f'li.finding.status-confirmed[data-id="{fid}"]')
        context.close()
    assert [d["action"] for d in store.decisions(doc)][:1] == ["confirm"]

"""The review server over real HTTP: list, report page, escaping, CSRF, decisions and corrections."""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path

import httpx
import pytest
from review_server import live_server
from store_helpers import TEST_RULE, balance_rule_registered, consistent_values, extraction_from, report_text

from nianbao.app.pipeline import check
from nianbao.review.export import diff_rows
from nianbao.review.store import Store

EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2">'


@pytest.fixture
def store(tmp_path: Path):
    with balance_rule_registered():
        s = Store(tmp_path / "n.db")
        v = consistent_values(random.Random(31))
        v["t3.total_processed.natural_person"] += 3
        text = report_text("甲镇<b>", 2023, v, extra=f"本年度共收到申请。{EVIL}")
        _, ex = extraction_from(text, "evil<i>.txt")
        span = ex.cells["t3.new_received.business"].span
        span.page, span.bbox = 3, (72.0, 400.5, 90.25, 412.0)  # as a PDF reader places a cell
        ex.uncertain = ["t3.granted.business"]
        s.doc_id = s.save_result(None, "/in/evil<i>.txt", "h1", "txt", text, check(None, ex), "k")
        yield s


def _token(client: httpx.Client, url: str) -> tuple[str, str]:
    page = client.get(url)
    assert page.status_code == 200
    m = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert m, "the page carries a CSRF token"
    return page.text, m.group(1)


def test_list_and_report_pages_escape_report_text(store: Store) -> None:
    with live_server(store) as base, httpx.Client(base_url=base, headers={"Origin": base}) as client:
        listing = client.get("/")
        assert listing.status_code == 200
        assert "evil&lt;i&gt;.txt" in listing.text and "<i>.txt" not in listing.text
        assert f'href="/report/{store.doc_id}"' in listing.text
        page = client.get(f"/report/{store.doc_id}")
        assert page.status_code == 200
        assert "<script>window" not in page.text and "&lt;script&gt;window.__pwned" in page.text
        assert 'onerror="' not in page.text
        assert "甲镇&lt;b&gt;" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        # every cell has its place in the rebuilt table and its highlight in the text
        assert 'id="cell-t3.total_processed.natural_person"' in page.text
        assert 'id="src-t3.total_processed.natural_person"' in page.text
        cell = re.search(r'<td id="cell-t3\.new_received\.business"[^>]*>.*?</td>', page.text, re.S).group(0)
        assert "第3页" in cell and "72.0,400.5,90.2,412.0" in cell and ">第3页<" in cell
        assert re.search(r'<td id="cell-t3\.granted\.business"[^>]*class="[^"]*uncertain', page.text)
        assert client.get("/report/999").status_code == 404
        assert client.get("/report/..%2f..%2fetc%2fpasswd").status_code in (404, 422)
        for probe in ("/static/..%2f..%2f..%2fetc%2fpasswd", "/static/%2e%2e/%2e%2e/pyproject.toml",
                      "/static/../web.py"):
            r = client.get(probe)
            assert r.status_code == 404 and "root:" not in r.text and "def create_app" not in r.text
        assert client.get("/static/review.js").status_code == 200


def test_posts_without_the_csrf_token_are_refused(store: Store) -> None:
    fid = next(f["id"] for f in store.findings(store.doc_id) if f["rule"] == TEST_RULE)
    with live_server(store) as base, httpx.Client(base_url=base, headers={"Origin": base}) as client:
        _, token = _token(client, f"/report/{store.doc_id}")
        url = f"/report/{store.doc_id}/finding/{fid}"
        assert client.post(url, data={"action": "confirm"}).status_code == 403
        assert client.post(url, data={"action": "confirm", "csrf_token": "forged"}).status_code == 403
        with httpx.Client(base_url=base, headers={"Origin": base}) as stranger:  # a token without its cookie is refused too
            assert stranger.post(url, data={"action": "confirm", "csrf_token": token}).status_code == 403
        assert store.decisions(store.doc_id) == []
        ok = client.post(url, data={"action": "confirm", "csrf_token": token})
        assert ok.status_code == 303
    assert [d["action"] for d in store.decisions(store.doc_id)] == ["confirm"]


@pytest.mark.slow
def test_dismiss_and_correct_over_http(store: Store) -> None:
    fid = next(f["id"] for f in store.findings(store.doc_id) if f["rule"] == TEST_RULE)
    key = "t3.total_processed.natural_person"
    with live_server(store) as base, httpx.Client(base_url=base, follow_redirects=True, headers={"Origin": base}) as client:
        _, token = _token(client, f"/report/{store.doc_id}")
        url = f"/report/{store.doc_id}/finding/{fid}"
        assert client.post(url, data={"action": "dismiss", "csrf_token": token}).status_code == 400  # no reason
        page = client.post(url, data={"action": "dismiss", "comment": "<b>原表</b>如此", "csrf_token": token})
        assert page.status_code == 200 and "&lt;b&gt;原表&lt;/b&gt;如此" in page.text
        bad = client.post(f"/report/{store.doc_id}/correct",
                          data={"key": "../../etc/passwd", "value": "1", "csrf_token": token})
        assert bad.status_code == 400
        assert client.post(f"/report/{store.doc_id}/correct",
                           data={"key": key, "value": "abc", "csrf_token": token}).status_code == 400
        old = store.current(store.doc_id).cells[key].value
        page = client.post(f"/report/{store.doc_id}/correct",
                           data={"key": key, "value": str(old - 3), "comment": "多计", "csrf_token": token})
        assert page.status_code == 200
        assert re.search(rf'id="cell-{re.escape(key)}"[^>]*class="cell[^"]*corrected', page.text)
    assert store.current(store.doc_id).cells[key].value == old - 3
    assert [f for f in store.findings(store.doc_id) if f["id"] == fid] == []  # the identity holds now
    assert [d["action"] for d in store.decisions(store.doc_id)] == ["dismiss", "correct"]


@pytest.mark.slow
def test_diff_page_and_filters(tmp_path: Path) -> None:
    store = Store(tmp_path / "d.db")
    rng = random.Random(33)
    for year in (2022, 2023):
        v = consistent_values(rng)
        text = report_text("丙镇", year, v)
        _, ex = extraction_from(text, f"丙镇{year}.txt")
        store.save_result(None, f"/in/丙镇{year}.txt", f"h{year}", "txt", text, ex, "k")
    changed = len(diff_rows(store, "丙镇", changed_only=True))
    with live_server(store) as base, httpx.Client(base_url=base, headers={"Origin": base}) as client:
        page = client.get("/diff", params={"agency": "丙镇", "changed": 1})
        assert page.status_code == 200 and page.text.count('class="diff-row') == changed > 0
        assert client.get("/", params={"year": "2022"}).text.count('class="report-row"') == 1
        assert client.get("/", params={"agency": "丁"}).text.count('class="report-row"') == 0
        assert client.get("/", params={"status": "open"}).text.count('class="report-row"') == 0


@pytest.mark.slow
def test_foreign_host_names_are_refused(store: Store) -> None:
    """A page on another site that rebinds its DNS name to 127.0.0.1 cannot read the store."""
    with live_server(store) as base, httpx.Client(base_url=base, headers={"Origin": base}) as client:
        assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
        assert client.get("/").status_code == 200


@pytest.mark.slow
def test_failed_reports_are_listed_with_their_error_escaped(store: Store) -> None:
    bad = store.save_error(None, "/in/<bad>.pdf", "h-bad", "could not be read as pdf: <PdfiumError> broken")
    with live_server(store) as base, httpx.Client(base_url=base, headers={"Origin": base}) as client:
        listing = client.get("/", params={"sort": "name"}).text
        assert "&lt;PdfiumError&gt;" in listing and "<PdfiumError>" not in listing
        names = re.findall(r'<a href="/report/\d+">([^<]+)</a>', listing)
        assert names == sorted(names) and "&lt;bad&gt;.pdf" in names
        by_open = re.findall(r'<a href="/report/(\d+)">', client.get("/", params={"sort": "open"}).text)
        assert by_open[0] == str(store.doc_id)  # the report with an open error comes first
        page = client.get(f"/report/{bad}")
        assert page.status_code == 200 and "&lt;PdfiumError&gt;" in page.text
        assert f'href="/report/{store.doc_id}" id="prev-report"' in page.text  # in the list's order


@pytest.mark.slow
def test_ids_are_checked_before_sql_and_errors_are_chinese_pages(store: Store) -> None:
    with live_server(store) as base, httpx.Client(base_url=base, headers={"Origin": base}) as client:
        for url in ("/report/99999999999999999999", "/report/0", "/report/-1", "/report/1e3",
                    "/report/99999999999999999999/page/1.png", "/report/abc/original", "/no/such/page"):
            r = client.get(url)
            assert r.status_code == 404, url
            assert "text/html" in r.headers["content-type"] and "返回" in r.text and "detail" not in r.text
        _, token = _token(client, f"/report/{store.doc_id}")
        bad = client.post(f"/report/{store.doc_id}/correct",
                          data={"key": "t3.total_processed.natural_person", "value": "十", "csrf_token": token})
        assert bad.status_code == 400 and "不是数字" in bad.text and "{" not in bad.text.split("<main>")[1][:200]
        assert 'id="form-error"' in bad.text
        r = client.post(f"/report/{store.doc_id}/finding/{'0' * 16}",
                        data={"action": "confirm", "csrf_token": token})
        assert r.status_code == 400 and "没有问题" in r.text
        r = client.post(f"/report/{store.doc_id}/finding/xyz", data={"action": "confirm", "csrf_token": token})
        assert r.status_code == 404 and "没有这条问题" in r.text
        r = client.post("/bulk", data={"action": "dismiss", "comment": "x", "csrf_token": token, "pick": "1:nope"})
        assert r.status_code == 422 and "编号不对" in r.text


@pytest.mark.slow
def test_a_planted_session_cookie_from_this_origin_still_needs_the_servers_signature(store: Store) -> None:
    fid = store.findings(store.doc_id)[0]["id"]
    with live_server(store) as base:
        with httpx.Client(base_url=base, headers={"Origin": base}, cookies={"nianbao_session": "planted"}) as c:
            page = c.get(f"/report/{store.doc_id}")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            # a token the page gives for the planted session is valid for it, and only for it
            forged = hashlib.sha256(b"planted").hexdigest()
            r = c.post(f"/report/{store.doc_id}/finding/{fid}", data={"action": "confirm", "csrf_token": forged})
            assert r.status_code == 403 and "过期" in r.text
            with httpx.Client(base_url=base, headers={"Origin": base}, cookies={"nianbao_session": "other"}) as d:
                r = d.post(f"/report/{store.doc_id}/finding/{fid}", data={"action": "confirm", "csrf_token": token})
                assert r.status_code == 403
            r = c.post(f"/report/{store.doc_id}/finding/{fid}", data={"action": "confirm", "csrf_token": token},
                       headers={"Origin": "http://127.0.0.1:1"})
            assert r.status_code == 403 and "拒绝" in r.text
    assert store.decisions(store.doc_id) == []


@pytest.mark.slow
def test_changing_a_decision_over_http_needs_the_overturn_flag(store: Store) -> None:
    fid = store.findings(store.doc_id)[0]["id"]
    url = f"/report/{store.doc_id}/finding/{fid}"
    with live_server(store) as base, httpx.Client(base_url=base, headers={"Origin": base}) as client:
        _, token = _token(client, f"/report/{store.doc_id}")
        assert client.post(url, data={"action": "confirm", "csrf_token": token}).status_code == 303
        r = client.post(url, data={"action": "dismiss", "comment": "改主意", "csrf_token": token})
        assert r.status_code == 409 and "需要先确认" in r.text
        r = client.post(url, data={"action": "dismiss", "comment": "改主意", "csrf_token": token, "overturn": "1"})
        assert r.status_code == 303
    assert [d["action"] for d in store.decisions(store.doc_id)] == ["confirm", "dismiss"]


@pytest.mark.slow
def test_login_is_required_off_loopback(store: Store) -> None:
    import threading
    import time

    import uvicorn
    from review_server import free_port

    from nianbao.review.accounts import add_user
    from nianbao.review.web import create_app

    add_user(store, "张三", "correct horse battery")
    with pytest.raises(Exception, match="至少"):
        add_user(store, "李四", "short")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(store, login=True), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    while not server.started:
        time.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, headers={"Origin": base}) as client:
            r = client.get(f"/report/{store.doc_id}")
            assert r.status_code == 303 and r.headers["location"].startswith("/login")
            assert client.get(f"/report/{store.doc_id}/original").status_code == 303
            r = client.post("/login", data={"name": "张三", "password": "wrong password"})
            assert r.status_code == 401 and "用户名或密码不对" in r.text
            r = client.post("/login", data={"name": "张三", "password": "correct horse battery",
                                            "next": f"/report/{store.doc_id}"})
            assert r.status_code == 303 and r.headers["location"] == f"/report/{store.doc_id}"
            assert "nianbao_session" in client.cookies
            page, token = _token(client, f"/report/{store.doc_id}")
            assert "审核人：张三" in page
            fid = store.findings(store.doc_id)[0]["id"]
            r = client.post(f"/report/{store.doc_id}/finding/{fid}", data={"action": "confirm", "csrf_token": token})
            assert r.status_code == 303
            client.post("/logout", data={"csrf_token": token})
            assert client.get("/").status_code == 303
    finally:
        server.should_exit = True
        t.join(timeout=10)
    assert [(d["action"], d["who"]) for d in store.decisions(store.doc_id)] == [("confirm", "张三")]
    from sqlalchemy import select

    from nianbao.review.schema_team import users
    with store.engine.connect() as c:
        stored = c.execute(select(users.c.password_hash)).scalar_one()
    assert stored.startswith("scrypt$") and "correct horse" not in stored


@pytest.mark.slow
def test_a_saturated_server_answers_503_rather_than_queueing(store: Store, monkeypatch) -> None:
    import threading

    from fastapi.testclient import TestClient

    from nianbao.review import web

    monkeypatch.setattr(web, "QUEUE_WAIT", 0.2)
    app = web.create_app(store, slots=1)
    release = threading.Event()

    @app.get("/_hold")
    def hold() -> dict:
        release.wait(10)
        return {}

    client = TestClient(app, base_url="http://127.0.0.1")
    t = threading.Thread(target=lambda: client.get("/_hold"))
    t.start()
    try:
        import time

        time.sleep(0.3)
        r = client.get("/")
        assert r.status_code == 503 and r.headers["retry-after"] == "2" and "正忙" in r.text
        assert client.get("/static/review.css").status_code == 200  # static files are never held up
    finally:
        release.set()
        t.join(10)
    assert client.get("/").status_code == 200

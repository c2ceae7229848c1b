"""The review server keeps rendered pages for one revision of the store: a page shows every write
the moment it is made, whoever made it (this server, another process), and each visitor gets the
kept page with their own CSRF token."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from review_server import live_server
from store_helpers import TEST_RULE, balance_rule_registered, consistent_values, extraction_from, report_text

from nianbao.app.pipeline import check
from nianbao.review import web
from nianbao.review.pagecache import PageCache
from nianbao.review.store import Store

EVIL = '<script>window.__pwned = 1</script>'
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def store(tmp_path: Path):
    with balance_rule_registered():
        s = Store(tmp_path / "n.db")
        for i, agency in enumerate(("甲镇<b>", "乙镇")):
            v = consistent_values(random.Random(31 + i))
            v["t3.total_processed.natural_person"] += 3
            text = report_text(agency, 2023, v, extra=f"本年度共收到申请。{EVIL}")
            _, ex = extraction_from(text, f"r{i}<i>.txt")
            doc = s.save_result(None, f"/in/r{i}<i>.txt", f"h{i}", "txt", text, check(None, ex), "k")
            if i == 0:
                s.doc_id = doc
        yield s


@pytest.fixture
def card(store: Store) -> dict:
    """The report's card holding the balance rule's finding: the form data that decides it whole."""
    from nianbao.review.causes import group
    from nianbao.review.decide import review_findings

    found = next(c for c in group(review_findings(store, store.doc_id)) if TEST_RULE in c.rules)
    store.fid = found.id
    return {"ids": found.ids[1:]}


def _card_status(page: str, fid: str) -> str:
    return re.search(rf'id="finding-{fid}" data-id="{fid}" data-status="(\w+)"', page).group(1)


def _decided(page: str) -> int:
    return int(re.search(r"已处理问题 <b>(\d+)</b>", page).group(1))


def _row_decided(listing: str, doc: int) -> str:
    """The list's 已处理/全部 figure for one report."""
    row = re.search(rf'<tr class="report-row[^"]*" data-doc="{doc}">.*?</tr>', listing, re.S).group(0)
    return re.search(r'<td class="count">(\d+/\d+)</td>', row).group(1)


def test_a_decision_shows_on_the_very_next_page(store: Store, card: dict) -> None:
    report = f"/report/{store.doc_id}"
    with live_server(store) as base, httpx.Client(base_url=base, headers={"Origin": base}) as client:
        page = client.get(report).text
        assert client.get(report).text == page  # the same page, kept
        listing = client.get("/").text
        assert _card_status(page, store.fid) == "open" and _decided(page) == _decided(listing) == 0
        assert _row_decided(listing, store.doc_id).startswith("0/")
        token = TOKEN.search(page).group(1)
        r = client.post(f"{report}/finding/{store.fid}", data={"action": "dismiss", "comment": "原表如此",
                                                               "csrf_token": token, **card})
        assert r.status_code == 303
        page = client.get(report).text
        assert _card_status(page, store.fid) == "dismissed" and "原表如此" in page and _decided(page) == 5
        listing = client.get("/").text
        assert _decided(listing) == 5 and _row_decided(listing, store.doc_id).startswith("5/")
        assert _row_decided(client.get("/", params={"sort": "name"}).text, store.doc_id).startswith("5/")
        assert 'class="qf status-dismissed"' in client.get("/queue", params={"rule": TEST_RULE, "status": ""}).text
        r = client.post(f"{report}/signoff", data={"action": "sign", "csrf_token": token})
        assert r.status_code == 303 and "已审核" in client.get(report).text


@pytest.mark.slow
def test_a_write_by_another_process_shows_on_the_next_page(store: Store, card: dict) -> None:
    report = f"/report/{store.doc_id}"
    with live_server(store) as base, httpx.Client(base_url=base, headers={"Origin": base}) as client:
        assert _card_status(client.get(report).text, store.fid) == "open"
        assert _decided(client.get("/").text) == 0
        subprocess.run([sys.executable, "-c", (
            "import sys; from nianbao.review.store import Store; from nianbao.review import decide; "
            "doc = int(sys.argv[2]); decide.decide_many(Store(sys.argv[1]), [(doc, f) for f in sys.argv[3:]], "
            "'confirm', '别处的审核员')"),
            store.url.removeprefix("sqlite:///"), str(store.doc_id), store.fid, *card["ids"]], check=True, timeout=60)
        page = client.get(report).text
        assert _card_status(page, store.fid) == "confirmed" and "别处的审核员" in page
        assert _decided(client.get("/").text) == 5


def test_each_visitor_gets_the_kept_page_with_their_own_token(store: Store, card: dict) -> None:
    report = f"/report/{store.doc_id}"
    url = f"{report}/finding/{store.fid}"
    with live_server(store) as base, httpx.Client(base_url=base, headers={"Origin": base}) as a, \
            httpx.Client(base_url=base, headers={"Origin": base}) as b:
        page_a, page_b = a.get(report).text, b.get(report).text
        token_a, token_b = TOKEN.search(page_a).group(1), TOKEN.search(page_b).group(1)
        assert token_a != token_b and a.cookies["nianbao_session"] != b.cookies["nianbao_session"]
        assert page_a.replace(token_a, "") == page_b.replace(token_b, "")  # one page, two tokens
        assert set(TOKEN.findall(page_a)) == {token_a}
        assert "&lt;script&gt;window.__pwned" in page_a and "<script>window" not in page_a
        assert b.post(url, data={"action": "confirm", "csrf_token": token_a, **card}).status_code == 403
        assert a.post(url, data={"action": "confirm", "csrf_token": token_a, **card}).status_code == 303
    assert {d["action"] for d in store.decisions(store.doc_id)} == {"confirm"}


def test_many_visitors_asking_for_one_page_cause_one_build(store: Store, monkeypatch) -> None:
    built: list[tuple] = []
    build = web.Pages.build

    def counting(self, what, *args, **kwargs):
        built.append(what)
        return build(self, what, *args, **kwargs)

    monkeypatch.setattr(web.Pages, "build", counting)
    app = web.create_app(store, "审核员")
    urls = [f"/report/{store.doc_id}", "/", "/queue"] * 20

    async def visits() -> None:  # one event loop, as a server has
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
            async def burst() -> set[int]:
                return {r.status_code for r in await asyncio.gather(*[c.get(u) for u in urls])}

            assert await burst() == {200}
            assert sorted(w[0] for w in built) == ["list", "queue", "report"]
            assert await burst() == {200}
            assert len(built) == 3 and app.state.page_cache.hits >= 60  # all kept
            await asyncio.to_thread(decide.sign_off, store, store.doc_id, "别人")  # any write: nothing kept is current
            assert await burst() == {200}
            assert len(built) == 6

    from nianbao.review import decide

    asyncio.run(visits())
    app.state.close()


@pytest.mark.slow
def test_pages_built_in_a_process_of_their_own(store: Store, card: dict) -> None:
    report = f"/report/{store.doc_id}"
    with live_server(store, processes=1) as base, httpx.Client(base_url=base, headers={"Origin": base}) as client:
        page = client.get(report)
        assert page.status_code == 200 and "&lt;script&gt;window.__pwned" in page.text
        assert "<script>window" not in page.text and _card_status(page.text, store.fid) == "open"
        missing = client.get("/report/999")  # the build process's refusal, answered here in Chinese
        assert missing.status_code == 404 and "没有这份报告" in missing.text
        token = TOKEN.search(page.text).group(1)
        r = client.post(f"{report}/finding/{store.fid}", data={"action": "confirm", "csrf_token": token, **card})
        assert r.status_code == 303 and _card_status(client.get(report).text, store.fid) == "confirmed"
        assert client.get("/", params={"page": "2"}).status_code == 200


def test_the_page_memory_is_bounded_and_holds_one_revision() -> None:
    cache = PageCache(max_bytes=10)
    cache.put("a", (0, 1), (b"1234",))
    cache.put("b", (0, 1), (b"12", b"34"))
    assert cache.get("a", (0, 1)) == (b"1234",)  # a is now the most recently used
    cache.put("c", (0, 1), (b"1234",))  # 12 bytes: b goes
    assert cache.get("b", (0, 1)) is None and cache.get("a", (0, 1)) and cache.get("c", (0, 1))
    cache.put("big", (0, 1), (b"x" * 11,))
    assert cache.get("big", (0, 1)) is None
    assert cache.get("a", (0, 2)) is None and len(cache) == 0  # a new revision: nothing kept is current
    cache.put("a", (0, 1), (b"old",))  # built from an older revision than one already seen: not kept
    assert cache.get("a", (0, 2)) is None


@pytest.mark.slow
def test_a_build_process_that_dies_costs_one_503_not_the_server(store: Store) -> None:
    import os
    import signal

    import psutil

    others = {p.pid for p in psutil.Process().children()}

    def builders() -> list[psutil.Process]:
        found = []
        for p in psutil.Process().children():
            with contextlib.suppress(psutil.Error):
                if p.pid not in others and "spawn_main" in " ".join(p.cmdline()) and p.is_running() \
                        and p.status() != psutil.STATUS_ZOMBIE:
                    found.append(p)
        return found

    with live_server(store, processes=1) as base, httpx.Client(base_url=base, headers={"Origin": base}) as client:
        assert client.get("/").status_code == 200
        (first,) = builders()
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        r = client.get(f"/report/{store.doc_id}")  # its build finds the process gone
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert client.get("/").status_code == 200  # what is kept is still answered meanwhile
        deadline = time.monotonic() + 120
        while (r := client.get(f"/report/{store.doc_id}")).status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.5)  # new build processes are starting
        assert r.status_code == 200 and "&lt;script&gt;window.__pwned" in r.text
        assert [p.pid for p in builders()] not in ([], [first.pid])
    assert builders() == []  # ended with the server


@pytest.mark.slow
def test_build_processes_end_when_the_server_is_killed(store: Store) -> None:
    import os
    import signal

    import psutil
    from review_server import free_port

    port = free_port()
    exe = Path(sys.executable).with_name("nianbao")
    server = subprocess.Popen([str(exe), "review", "--db", store.url.removeprefix("sqlite:///"), "--port", str(port),
                               "--user", "t"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        builders = psutil.Process(server.pid).children()
        assert builders, "the server builds pages in a process of its own"
        os.kill(server.pid, signal.SIGKILL)  # no chance to end them itself
        server.wait(10)
        gone, alive = psutil.wait_procs(builders, timeout=20)
        assert alive == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)


def test_every_page_of_the_whole_list_is_cut_from_one_ordered_read(store: Store) -> None:
    from nianbao.review import decide, queries

    decide.sign_off(store, store.doc_id, "某人")
    for sort in queries.SORTS:
        whole = queries.report_list(store, queries.Filters(sort=sort), per_page=None)
        for page in (0, 1, 2, 3, 99):
            assert queries.page_of(whole, page, per_page=1) == queries.report_list(
                store, queries.Filters(sort=sort, page=page), per_page=1), (sort, page)
    assert not queries.unfiltered(queries.Filters(year=2023)) and queries.unfiltered(queries.Filters(sort="name"))

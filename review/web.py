"""The review web page: the list, one page per report, queues across reports, decisions.

Server-rendered (FastAPI + Jinja2, autoescape on); report text is untrusted and only ever
reaches the page through the template engine's escaping. The browser only ever names a report by
its database id and a cell by a template key checked against the spec: no path it sends reaches
the file system.

Forgery: every POST must come from this server's own origin (Origin, else Referer) and carry a
CSRF token that is an HMAC, under a secret made when the server starts, of the session cookie;
a cookie planted by another page on the same host is useless without the secret.

Load: the list, report and queue pages are kept once rendered, for the store revision they were
built at (review/pagecache.py: any write, by this server or another process, makes a new
revision), and an address asked for before is answered from memory before any routing, with the
visitor's own CSRF token put into the kept bytes. Building a page is CPU-bound Python: `serve`
builds in processes of their own, so the event loop that answers everyone keeps its core and its
GIL (embedded, e.g. in tests, the app builds in worker threads). At most `slots` builds (or other
requests) are at work at once; visitors asking for a page that is being built wait for that one
build; a request waits for a slot only while the wait it can expect stays under QUEUE_WAIT, and
otherwise gets a 503 with Retry-After at once instead of a place in an ever longer queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Hashable
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from nianbao.review import accounts, decide, queries
from nianbao.review import labels as L
from nianbao.review import schema as S
from nianbao.review.pagecache import PageCache, Rev, Revision, Snapshot
from nianbao.review.pages import PageError, original_bytes, page_image
from nianbao.review.store import Store, StoreError, now, parse_value
from nianbao.review.view import report_view

SESSION_COOKIE = "nianbao_session"
SEVERITIES = ("error", "warning", "info")
STATUSES = ("open", "confirmed", "dismissed", "corrected")
DOC_ID = re.compile(r"^[1-9][0-9]{0,8}$")
FINDING_ID = re.compile(r"^[0-9a-f]{16}$")
LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")
SLOTS = 2  # CPU-bound page building under one GIL: more threads only wait longer
QUEUE_WAIT = 1.0  # seconds a request may wait for a slot before it gets a 503
MAX_WAITING = 8  # requests that may always wait; more only while their expected wait is under QUEUE_WAIT
CACHE_BYTES = 128 << 20  # rendered pages kept (UTF-8 bytes), least recently used dropped first
PAGE_PATHS = re.compile(r"^/(?:queue|report/[^/]*)?$")  # GET pages that are kept and gate themselves


class Busy(Exception):
    """No slot free within QUEUE_WAIT (or too many waiting): the answer is a 503."""


class Gate:
    """At most `slots` requests at work. A request waits for a slot only while the work queued
    ahead of it (for each waiting request, how long a slot was held lately by work of its kind —
    a list page, a report page, a decision), shared over the slots, stays under QUEUE_WAIT; at
    least MAX_WAITING may always wait; none waits past QUEUE_WAIT. The rest are Busy at once."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.sem = asyncio.Semaphore(slots)  # bound to the server's event loop when first waited on
        self.waiting = 0
        self.queued = 0.0  # seconds of work waiting, as expected
        self.held: dict[str, float] = {}  # seconds a slot is held, moving average per kind of work

    def cost(self, kind: str) -> float:
        return self.held.get(kind, 0.1)  # a cautious guess until measured

    def full(self) -> bool:
        """Would a request that needs a slot now be turned away?"""
        if not self.sem.locked() or self.waiting < MAX_WAITING:
            return False
        return self.queued / self.slots >= QUEUE_WAIT

    @contextlib.asynccontextmanager
    async def slot(self, kind: str = ""):
        if not self.sem.locked():
            await self.sem.acquire()  # a slot is free: taken at once, without waiting in line
        elif self.full():
            raise Busy
        else:
            cost = self.cost(kind)
            self.waiting += 1
            self.queued += cost
            try:
                await asyncio.wait_for(self.sem.acquire(), timeout=QUEUE_WAIT)
            except TimeoutError:
                raise Busy from None
            finally:
                self.waiting -= 1
                self.queued -= cost
        start = time.perf_counter()
        try:
            yield
        finally:
            self.sem.release()
            self.held[kind] = self.cost(kind) + 0.2 * (time.perf_counter() - start - self.cost(kind))


class Guard:
    """ASGI middleware. A kept page is answered by `front` before any routing or parsing when it
    can be: from memory when it is kept at the current revision, a 503 at once when it would need
    building and the gate is full. Requests other than static files and the kept pages take a slot
    of the gate (or get a 503). A write makes a new revision before its answer leaves."""

    def __init__(self, app: Any, gate: Gate, revision: Revision, busy: Callable[[], Response],
                 front: Callable[[Any], Response | None]) -> None:
        self.app, self.gate, self.revision, self.busy = app, gate, revision, busy
        self.front = front

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "GET" and PAGE_PATHS.match(scope["path"]):
            answer = self.front(scope)
            await (answer or self.app)(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            revision, plain_send = self.revision, send

            async def send(message: Any) -> None:
                if message["type"] == "http.response.start":
                    revision.bump()  # whatever it changed, no page kept before is shown again
                await plain_send(message)
        try:
            async with self.gate.slot():
                await self.app(scope, receive, send)
        except Busy:
            await self.busy()(scope, receive, send)


class PageProblem(Exception):
    """A request the page answers with a Chinese message and a way back."""

    def __init__(self, status: int, message: str, back: str = "/") -> None:
        super().__init__(message)
        self.status, self.message, self.back = status, message, back

    def __reduce__(self) -> tuple[Any, ...]:  # raised in a build process, answered by the server
        return PageProblem, (self.status, self.message, self.back)


class _PageEnvironment(Environment):
    """Jinja with `x.name` on a plain dict read as `x["name"]` first, as Jinja would after failing
    to find such an attribute: the same answer (names of dict methods still mean the method), without
    the AttributeError raised and caught for each of the thousands of lookups a report page makes."""

    _methods = frozenset(dir(dict))

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in self._methods:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


def _env() -> Environment:
    root = resources.files("nianbao.review")
    env = _PageEnvironment(loader=FileSystemLoader(str(root.joinpath("templates"))),
                      autoescape=select_autoescape(["html"], default=True))
    env.globals.update(urlencode=urlencode, L=L, SEVERITIES=SEVERITIES, STATUSES=STATUSES)
    env.filters["local_time"] = L.local_time
    return env


def _doc_id(raw: str) -> int:
    """A report id from a URL, checked before it reaches SQL."""
    if not DOC_ID.match(raw):
        raise PageProblem(404, "没有这份报告：报告编号不对。")
    return int(raw)


def _year(raw: str) -> int | None:
    raw = raw.strip()
    return int(raw) if re.fullmatch(r"(19|20)\d\d", raw) else None


def _page(raw: str) -> int:
    return int(raw) if re.fullmatch(r"[1-9]\d{0,5}", raw.strip() or "x") else 1


class Pages:
    """Builds the kept pages (list, report, queue) from the store, as the bytes around their CSRF
    token: in the server's worker threads, or in a build process of its own (`_build_in_process`)."""

    def __init__(self, store: Store, env: Environment | None = None) -> None:
        self.store, self.env = store, env or _env()
        self.snap = Snapshot(store)

    def context(self, what: tuple[Any, ...], rev: Rev) -> tuple[str, dict[str, Any]]:
        """The template and what it shows, for ("list", Filters, filters shown), ("report", id)
        or ("queue", category, rule, status, page)."""
        store, snap = self.store, self.snap
        if what[0] == "list":
            _, f, filters = what
            if queries.unfiltered(f):  # every page of the whole list from one read per sort and revision
                whole = snap.get(f"list:{f.sort}", lambda s: queries.report_list(s, f, per_page=None), rev)
                data = queries.page_of(whole, f.page)
            else:
                data = queries.report_list(store, f)
            return "list.html", dict(**data, filters=dict(filters), sorts=queries.SORTS,
                                     categories=snap.get("categories", queries.categories, rev),
                                     runs=store.runs()[-10:][::-1])
        if what[0] == "report":
            try:
                data = report_view(store, what[1], order=snap.get("order", queries.review_order, rev))
            except StoreError:
                raise PageProblem(404, "没有这份报告。") from None
            if data["paged"]:
                _place_boxes(data)
            return "report.html", data
        if what[0] == "queue":
            _, category, rule, status, page = what
            found = (queries.queue_findings(store, category=category[:40], rule=rule[:80], status=status, page=page)
                     if category or rule else None)
            return "queue.html", {"queues": snap.get("queues", queries.queues, rev), "category": category,
                                  "rule": rule, "status": status, "found": found}
        raise ValueError(f"no such page {what[0]!r}")

    def warm(self) -> None:
        """Compile the templates and load what a first page needs (labels, the spec), so that the
        first visitor after a start does not pay for it."""
        for name in ("list.html", "report.html", "queue.html", "error.html"):
            self.env.get_template(name)
        with self.store.engine.connect() as c:
            first = c.execute(select(func.min(S.documents.c.id))
                              .where(S.documents.c.current_extraction_id.is_not(None))).scalar()
        if first is not None:
            with contextlib.suppress(Exception):  # a revision of no store: nothing built here is served
                self.build(("report", first), (-1, -1), None, False, "warm")

    def build(self, what: tuple[Any, ...], rev: Rev, user: str | None, login: bool, sentinel: str,
              **extra: Any) -> tuple[bytes, ...]:
        name, ctx = self.context(what, rev)
        return self.render(name, rev, user, login, sentinel, **ctx, **extra)

    def render(self, name: str, rev: Rev, user: str | None, login: bool, sentinel: str,
               **ctx: Any) -> tuple[bytes, ...]:
        html = self.env.get_template(name).render(
            csrf_token=sentinel, who=user, login=login,
            progress=self.snap.get("progress", queries.progress, rev), **ctx)
        return tuple(html.encode("utf-8").split(sentinel.encode("ascii")))


_WORKER_PAGES: Pages | None = None


def _start_build_process(url: str) -> None:
    """In a build process: leave Ctrl-C to the server, end when it is gone, open the store."""
    global _WORKER_PAGES
    import os
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server = os.getppid()

    def watch() -> None:
        while os.getppid() == server:
            time.sleep(1.0)
        os._exit(0)  # the server died without ending this process (SIGKILL, a crash)

    threading.Thread(target=watch, daemon=True, name="nianbao-watch-server").start()
    _WORKER_PAGES = Pages(Store(url))
    _WORKER_PAGES.warm()


def _build_in_process(*args: Any) -> tuple[bytes, ...]:
    assert _WORKER_PAGES is not None
    return _WORKER_PAGES.build(*args)


def _build_process_ready() -> None:
    time.sleep(0.05)  # held a moment, so each of the first calls starts a process of its own


class _BuildPool:
    """Processes that build pages, so the event loop keeps its core (and the GIL) to answer. When
    one dies (killed, out of memory) the builds it held are 503s, and so is every build until new
    processes have started (in a thread, while the server goes on answering from memory)."""

    def __init__(self, url: str, processes: int) -> None:
        self.url, self.processes = url, processes
        self.pool: Any = self._start()

    def _start(self) -> Any:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_build_process, initargs=(self.url,))
        for f in [pool.submit(_build_process_ready) for _ in range(self.processes)]:
            f.result(timeout=300)  # started, the store opened and a first page built
        return pool

    def _restart(self) -> None:
        for _ in range(3):
            try:
                self.pool = self._start()
                return
            except Exception:  # tried again; the server answers 503 meanwhile
                time.sleep(1.0)

    async def build(self, *args: Any) -> tuple[bytes, ...]:
        from concurrent.futures.process import BrokenProcessPool

        loop = asyncio.get_running_loop()
        pool = self.pool
        if pool is None:
            raise Busy  # new build processes are starting
        try:
            return await loop.run_in_executor(pool, _build_in_process, *args)
        except BrokenProcessPool:
            if self.pool is pool:  # the first to notice has new ones started
                self.pool = None
                with contextlib.suppress(Exception):
                    pool.shutdown(wait=False, cancel_futures=True)
                loop.run_in_executor(None, self._restart)
            raise Busy from None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def create_app(store: Store, who: str = "reviewer", login: bool = False, slots: int = SLOTS,
               allowed_hosts: list[str] | None = None, cache_bytes: int = CACHE_BYTES,
               processes: int = 0) -> FastAPI:
    """The review app over one store.

    Without `login` (the loopback default) every visitor is `who`; with it, a reviewer signs in
    with an account from `nianbao user add` and the audit trail names them. With `processes`,
    pages are built in that many processes of their own (started here, before the first request;
    `app.state.close()` ends them), so building one never holds up the event loop that answers
    everyone else; without, in worker threads of this process.
    """
    app = FastAPI(title="nianbao review", docs_url=None, redoc_url=None, openapi_url=None)
    env = _env()
    secret = secrets.token_bytes(32)
    revision = Revision(store)
    pages = Pages(store, env)
    cache = PageCache(cache_bytes)
    pool = _BuildPool(store.url, processes) if processes > 0 else None
    gate = Gate(slots)
    building: dict[Hashable, asyncio.Future] = {}
    sentinel = "csrf-" + secrets.token_hex(16)  # stands for the visitor's token in a kept page
    busy_page = _busy(env)
    addresses: dict[tuple[str, bytes, str | None], Hashable] = {}  # (path, query, reviewer) → page key
    app.add_middleware(Guard, gate=gate, revision=revision, busy=lambda: _copy(busy_page),
                       front=lambda scope: front(scope))
    if not login:
        # only loopback names: a web page elsewhere cannot reach this server through DNS rebinding
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or ["127.0.0.1", "localhost", "[::1]"])
    static = resources.files("nianbao.review").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.state.page_cache, app.state.revision = cache, revision

    def close() -> None:
        if pool is not None:
            pool.close()
        revision.close()

    app.state.close = close
    app.state.warm = pages.warm

    # ------------------------------------------------------------ sessions and forgery

    def session_of(request: Request) -> str:
        return request.cookies.get(SESSION_COOKIE) or ""

    known: dict[str, tuple[Rev, tuple[str, str] | None]] = {}  # session → (revision, (who, expires))

    def user_of(request: Request) -> str | None:
        """The reviewer; with login, a session is looked up once per store revision (a login,
        logout or any other write makes a new one) and its expiry checked every time."""
        if not login:
            return who
        token = session_of(request)
        rev = revision.current()
        hit = known.get(token)
        if hit is None or hit[0] != rev:
            if len(known) > 10_000:
                known.clear()
            hit = known[token] = (rev, accounts.session(store, token))
        found = hit[1]
        return found[0] if found is not None and found[1] >= now() else None

    def csrf_for(session: str) -> str:
        return hmac.new(secret, b"csrf|" + session.encode("utf-8"), hashlib.sha256).hexdigest()

    def check_post(request: Request, token: str) -> str:
        """The reviewer making this POST, after the origin, session and token checks."""
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        origin = request.headers.get("origin")
        if origin is None or origin == "null":
            ref = request.headers.get("referer")
            origin = "{0.scheme}://{0.netloc}".format(urlsplit(ref)) if ref else None
        if origin != own:
            raise PageProblem(403, "请求不是从本审核页面发出的，已拒绝。请回到审核页面重新操作。")
        session = session_of(request)
        if not session or not token or not hmac.compare_digest(csrf_for(session), token):
            raise PageProblem(403, "页面已过期（安全校验未通过），请刷新页面后重试。", back=_back(request))
        user = user_of(request)
        if user is None:
            raise PageProblem(401, "请先登录。", back="/login")
        return user

    def respond(request: Request, parts: tuple[bytes, ...], http_status: int = 200) -> HTMLResponse:
        """A page for this visitor: their CSRF token in it, and a session if they have none."""
        session = session_of(request)
        new_session = None
        if not session and not login:
            session = new_session = secrets.token_urlsafe(32)
        token = csrf_for(session) if session else ""
        resp = HTMLResponse(token.encode("ascii").join(parts), status_code=http_status)
        _secure(resp)
        if new_session:
            resp.set_cookie(SESSION_COOKIE, new_session, httponly=True, samesite="strict")
        return resp

    def render(request: Request, name: str, http_status: int = 200, **ctx: Any) -> HTMLResponse:
        parts = pages.render(name, revision.current(), user_of(request), login, sentinel, **ctx)
        return respond(request, parts, http_status)

    def front(scope: Any) -> Response | None:
        """The answer to a page's address when no routing is needed: the page kept at the current
        revision (an address asked for before), or a 503 when it would need building and no slot
        is to be had; None to go on."""
        request = Request(scope)
        user = user_of(request)
        if user is None:
            return None
        rev = revision.current()
        key = addresses.get((scope["path"], scope["query_string"], user))
        if key is not None:
            parts = cache.get(key, rev)
            if parts is not None:
                return respond(request, parts)
            if (key, rev) in building:
                return None  # to wait for the build under way
        return _copy(busy_page) if gate.full() else None

    async def kept(request: Request, what: tuple[Any, ...]) -> Response:
        """A page from memory when it was built at the store's current revision; else built once
        (holding a slot of the gate) for every visitor asking for it meanwhile."""
        user = need_user(request)
        rev = revision.current()  # read before any row the page shows: what is kept is never older
        key = (user, what)
        if len(addresses) > 100_000:
            addresses.clear()
        addresses[(request.scope["path"], request.scope["query_string"], user)] = key
        parts = cache.get(key, rev)
        if parts is None:
            try:
                parts = await _build_once(key, rev, user, what)
            except Busy:
                return _copy(busy_page)
        return respond(request, parts)

    async def _build_once(key: Hashable, rev: Rev, user: str | None, what: tuple[Any, ...]) -> tuple[bytes, ...]:
        pending = building.get((key, rev))
        if pending is not None:
            return await asyncio.shield(pending)
        pending = asyncio.get_running_loop().create_future()
        pending.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved, even with no waiter
        building[(key, rev)] = pending
        try:
            async with gate.slot(what[0]):
                if pool is not None:
                    parts = await pool.build(what, rev, user, login, sentinel)
                else:
                    parts = await run_in_threadpool(pages.build, what, rev, user, login, sentinel)
            cache.put(key, rev, parts)
            pending.set_result(parts)
            return parts
        except asyncio.CancelledError:
            pending.set_exception(Busy())
            raise
        except BaseException as e:
            pending.set_exception(e)
            raise
        finally:
            building.pop((key, rev), None)

    def need_user(request: Request) -> str:
        user = user_of(request)
        if user is None:
            raise PageProblem(401, "请先登录。", back="/login")
        return user

    # ------------------------------------------------------------ errors in Chinese

    @app.exception_handler(PageProblem)
    async def problem(request: Request, exc: PageProblem) -> Response:
        if exc.status == 401 and request.method == "GET":
            return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)
        return _error_page(env, exc.status, exc.message, exc.back)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        msg = {404: "没有这个页面。", 405: "不支持这种请求方式。"}.get(exc.status_code, "请求无法处理。")
        return _error_page(env, exc.status_code, msg, "/")

    @app.exception_handler(RequestValidationError)
    async def bad_form(request: Request, exc: RequestValidationError) -> Response:
        return _error_page(env, 422, "提交的内容不完整或格式不对，请返回后重新填写。", _back(request))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        return _error_page(env, 500, "服务器出错了，请稍后重试；问题持续时请联系管理员。", "/")

    @app.exception_handler(PoolTimeout)
    async def pool_full(request: Request, exc: Exception) -> Response:
        return _busy(env)

    @app.exception_handler(OperationalError)
    async def db_busy(request: Request, exc: OperationalError) -> Response:
        if "locked" in str(exc).lower() or "busy" in str(exc).lower():
            return _busy(env)
        return _error_page(env, 500, "数据库出错，请稍后重试。", "/")

    # ------------------------------------------------------------ login

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/") -> HTMLResponse:
        if not login:
            return RedirectResponse("/", status_code=303)
        return _login_page(env, next=_local(next))

    @app.post("/login")
    def login_post(request: Request, name: str = Form(""), password: str = Form(""), next: str = Form("/")
                   ) -> Response:
        if not login:
            return RedirectResponse("/", status_code=303)
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if request.headers.get("origin", own) != own:
            raise PageProblem(403, "请求不是从本审核页面发出的，已拒绝。", back="/login")
        token = accounts.login(store, name.strip(), password)
        if token is None:
            return _login_page(env, next=_local(next), error="用户名或密码不对。", status=401)
        resp = RedirectResponse(_local(next), status_code=303)
        resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", max_age=7 * 86400)
        return resp

    @app.post("/logout")
    def logout(request: Request, csrf_token: str = Form("")) -> Response:
        check_post(request, csrf_token)
        accounts.logout(store, session_of(request))
        resp = RedirectResponse("/login" if login else "/", status_code=303)
        resp.delete_cookie(SESSION_COOKIE)
        return resp

    # ------------------------------------------------------------ pages

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request, agency: str = "", year: str = "", category: str = "", rule: str = "",
                    status: str = "", signed: str = "", sort: str = "open", page: str = "1") -> Response:
        f = queries.Filters(agency=agency.strip()[:100], year=_year(year), category=category.strip()[:40],
                            rule=rule.strip()[:80], status=status if status in STATUSES else "",
                            signed=signed if signed in ("yes", "no") else "",
                            sort=sort if sort in queries.SORTS else "open", page=_page(page))
        filters = {"agency": f.agency, "year": year if f.year else "", "category": f.category, "rule": f.rule,
                   "status": f.status, "signed": f.signed, "sort": f.sort}
        return await kept(request, ("list", f, tuple(filters.items())))

    @app.get("/report/{doc_id}", response_class=HTMLResponse)
    async def report(request: Request, doc_id: str) -> Response:
        return await kept(request, ("report", _doc_id(doc_id)))

    def report_page(request: Request, doc_id: int, error: str = "", status: int = 200) -> HTMLResponse:
        """The report page with a message (after a refused decision): built for this answer only."""
        parts = pages.build(("report", doc_id), revision.current(), user_of(request), login, sentinel, error=error)
        return respond(request, parts, status)

    @app.get("/report/{doc_id}/page/{page}.png")
    def page_png(request: Request, doc_id: str, page: str) -> Response:
        need_user(request)
        doc = _document(doc_id)
        if not re.fullmatch(r"[1-9]\d{0,3}", page):
            raise PageProblem(404, "没有这一页。", back=f"/report/{doc.id}")
        try:
            img = page_image(doc.path, doc.content_hash, int(page))
        except PageError as e:
            raise PageProblem(404, f"无法显示原件：{e}。", back=f"/report/{doc.id}") from None
        resp = FileResponse(img.path, media_type="image/png",
                            headers={"Cache-Control": "private, max-age=86400",
                                     "X-Page-Scale": repr(img.scale)})
        return resp

    @app.get("/report/{doc_id}/original")
    def original(request: Request, doc_id: str) -> Response:
        need_user(request)
        doc = _document(doc_id)
        try:
            data = original_bytes(doc.path, doc.content_hash)
        except PageError as e:
            raise PageProblem(404, f"无法打开原件：{e}。", back=f"/report/{doc.id}") from None
        media, inline = _media(data)
        name = doc.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        disposition = f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{_quote(name)}"
        resp = Response(data, media_type=media, headers={"Content-Disposition": disposition})
        resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp

    def _document(raw: str) -> Any:
        try:
            return store.document(_doc_id(raw))
        except StoreError:
            raise PageProblem(404, "没有这份报告。") from None

    @app.get("/queue", response_class=HTMLResponse)
    async def queue(request: Request, category: str = "", rule: str = "", status: str = "open", page: str = "1"
                    ) -> Response:
        status = status if status in STATUSES else ""
        return await kept(request, ("queue", category, rule, status, _page(page) if category or rule else 1))

    @app.get("/diff", response_class=HTMLResponse)
    def diff(request: Request, agency: str = "", changed: str = "1") -> HTMLResponse:
        need_user(request)
        from nianbao.review.yoy import agencies_with_years, year_over_year

        choices = agencies_with_years(store)
        agency = agency.strip()[:100] or (choices[0] if choices else "")
        if agency and agency not in choices:
            choices = [agency, *choices]
        data = year_over_year(store, agency, changed_only=changed == "1") if agency else {"pairs": []}
        return render(request, "diff.html", agency=agency, agencies=choices, changed=changed == "1", **data)

    # ------------------------------------------------------------ decisions

    @app.post("/report/{doc_id}/finding/{fid}")
    def decide_card(request: Request, doc_id: str, fid: str, action: str = Form(""), comment: str = Form(""),
                    csrf_token: str = Form(""), ids: Annotated[list[str] | None, Form()] = None,
                    overturn: str = Form("")) -> Response:
        user = check_post(request, csrf_token)
        doc = _doc_id(doc_id)
        ids = ids or []
        wanted = [i for i in [fid, *ids] if FINDING_ID.match(i)]
        if not FINDING_ID.match(fid) or len(wanted) != 1 + len(ids):
            raise PageProblem(404, "没有这条问题。", back=f"/report/{doc}")
        try:
            decide.decide_many(store, [(doc, i) for i in wanted], action, user, comment, overturn=overturn == "1")
        except StoreError as e:
            return report_page(request, doc, error=str(e), status=409 if isinstance(
                e, decide.ChangeNeedsConfirmation) else 400)
        return RedirectResponse(f"/report/{doc}#next-after-{fid}", status_code=303)

    @app.post("/report/{doc_id}/rule")
    def decide_rule(request: Request, doc_id: str, rule: str = Form(""), action: str = Form(""),
                    comment: str = Form(""), csrf_token: str = Form("")) -> Response:
        """Dismiss (or confirm) every open finding of one rule in this report, with one reason."""
        user = check_post(request, csrf_token)
        doc = _doc_id(doc_id)
        targets = [(doc, f["id"]) for f in store.findings(doc) if f["rule"] == rule and f["status"] == "open"]
        try:
            decide.decide_many(store, targets, action, user, comment)
        except StoreError as e:
            return report_page(request, doc, error=str(e), status=400)
        return RedirectResponse(f"/report/{doc}", status_code=303)

    @app.post("/bulk")
    def bulk(request: Request, action: str = Form(""), comment: str = Form(""), csrf_token: str = Form(""),
             pick: Annotated[list[str] | None, Form()] = None, back: str = Form("/queue"),
             overturn: str = Form("")) -> Response:
        """One decision with one reason for every finding picked on a queue page."""
        user = check_post(request, csrf_token)
        targets = []
        for p in pick or []:
            m = re.fullmatch(r"([1-9][0-9]{0,8}):([0-9a-f]{16})", p)
            if not m:
                raise PageProblem(422, "选中的问题编号不对。", back=_local(back))
            targets.append((int(m.group(1)), m.group(2)))
        try:
            n = decide.decide_many(store, targets, action, user, comment, overturn=overturn == "1")
        except StoreError as e:
            raise PageProblem(400, str(e), back=_local(back)) from None
        sep = "&" if "?" in _local(back) else "?"
        return RedirectResponse(f"{_local(back)}{sep}done={n}", status_code=303)

    @app.post("/report/{doc_id}/correct")
    def correct(request: Request, doc_id: str, key: str = Form(""), value: str = Form(""),
                comment: str = Form(""), csrf_token: str = Form("")) -> Response:
        user = check_post(request, csrf_token)
        doc = _doc_id(doc_id)
        try:
            decide.correct(store, doc, key, parse_value(value), user, comment.strip()[:2000])
        except StoreError as e:
            return report_page(request, doc, error=_zh_store_error(str(e), key, value), status=400)
        return RedirectResponse(f"/report/{doc}#cell-{key}", status_code=303)

    @app.post("/report/{doc_id}/signoff")
    def signoff(request: Request, doc_id: str, action: str = Form("sign"), comment: str = Form(""),
                csrf_token: str = Form("")) -> Response:
        user = check_post(request, csrf_token)
        doc = _doc_id(doc_id)
        try:
            if action == "withdraw":
                decide.withdraw_sign_off(store, doc, user)
            else:
                decide.sign_off(store, doc, user, comment[:2000])
        except StoreError:
            raise PageProblem(404, "没有这份报告。") from None
        return RedirectResponse(f"/report/{doc}", status_code=303)

    return app


def _place_boxes(data: dict[str, Any]) -> None:
    """Each card's box as percentages of its page image (rendering the page once, then cached)."""
    doc = data["doc"]
    pages: dict[int, Any] = {}
    for card in data["cards"]:
        n, bbox = card.get("page"), card.get("bbox")
        if not n or not bbox:
            continue
        if n not in pages:
            try:
                pages[n] = page_image(doc.path, doc.content_hash, int(n))
            except PageError as e:
                pages[n] = str(e)
        img = pages[n]
        if isinstance(img, str):
            card["page_error"] = img
            continue
        x0, y0, x1, y1 = (float(v) * img.scale for v in bbox)
        card["box"] = {"left": round(100 * x0 / img.width, 3), "top": round(100 * y0 / img.height, 3),
                       "width": round(100 * (x1 - x0) / img.width, 3),
                       "height": round(100 * (y1 - y0) / img.height, 3)}
    data["page_errors"] = {n: v for n, v in pages.items() if isinstance(v, str)}


def _zh_store_error(msg: str, key: str, value: str) -> str:
    if msg.startswith("not a number"):
        return f"“{value[:40]}”不是数字：请填写阿拉伯数字（如 12 或 3.5），不填表示该格为空。"
    if "is not a cell" in msg:
        return f"“{key[:60]}”不是本报告模板中的单元格：请在表格中点选要更正的格。"
    return msg


def _secure(resp: Response) -> None:
    resp.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"


def _copy(resp: HTMLResponse) -> HTMLResponse:
    out = HTMLResponse(resp.body, status_code=resp.status_code)
    out.headers.update({k: v for k, v in resp.headers.items() if k.lower() != "content-length"})
    return out


def _error_page(env: Environment, status: int, message: str, back: str) -> HTMLResponse:
    html = env.get_template("error.html").render(status=status, message=message, back=_local(back),
                                                 csrf_token="", who=None, login=False, progress=None)
    resp = HTMLResponse(html, status_code=status)
    _secure(resp)
    return resp


def _busy(env: Environment) -> HTMLResponse:
    resp = _error_page(env, 503, "审核服务器正忙，请几秒后刷新。", "/")
    resp.headers["Retry-After"] = "2"
    return resp


def _login_page(env: Environment, next: str = "/", error: str = "", status: int = 200) -> HTMLResponse:
    html = env.get_template("login.html").render(next=next, error=error, csrf_token="", who=None, login=True,
                                                 progress=None)
    resp = HTMLResponse(html, status_code=status)
    _secure(resp)
    return resp


def _local(url: str) -> str:
    """A redirect target on this server only (no scheme, no host, no //)."""
    parts = urlsplit(url or "/")
    if parts.scheme or parts.netloc or not (parts.path or "/").startswith("/") or url.startswith("//"):
        return "/"
    return url[:500]


def _back(request: Request) -> str:
    ref = request.headers.get("referer") or "/"
    parts = urlsplit(ref)
    if parts.netloc and parts.netloc != request.headers.get("host"):
        return "/"
    return _local(parts.path + (f"?{parts.query}" if parts.query else ""))


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def _media(data: bytes) -> tuple[str, bool]:
    """What the original is, by its bytes: PDFs and images open in the browser, anything else downloads."""
    if data[:5] == b"%PDF-":
        return "application/pdf", True
    for magic, media in ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"II*\x00", "image/tiff"),
                         (b"MM\x00*", "image/tiff")):
        if data.startswith(magic):
            return media, True
    return "application/octet-stream", False


def build_processes() -> int:
    """Processes that build pages when serving: one core is left to the event loop that answers."""
    import os

    return max(1, min(4, (os.cpu_count() or 2) - 1))


def serve(store: Store, host: str = "127.0.0.1", port: int = 8765, who: str = "reviewer") -> None:
    """Serve the review page: on loopback without login, elsewhere only with login. Pages are
    built in processes of their own (`build_processes()`), started and warmed before the first
    request is accepted."""
    import uvicorn

    login = host not in LOOPBACK
    app = create_app(store, who, login=login, processes=build_processes())
    try:
        app.state.warm()
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        app.state.close()

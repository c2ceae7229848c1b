"""The review web page: the list, one page per report, queues across reports, decisions.

Server-rendered (FastAPI + Jinja2, autoescape on); report text is untrusted and only ever
reaches the page through the template engine's escaping. The browser only ever names a report by
its database id and a cell by a template key checked against the spec: no path it sends reaches
the file system.

Forgery: every POST must come from this server's own origin (Origin, else Referer) and carry a
CSRF token that is an HMAC, under a secret made when the server starts, of the session cookie;
a cookie planted by another page on the same host is useless without the secret. Load: at most
`slots` requests work at once; one that waits longer than a second and a half for a slot gets a
503 with Retry-After instead of a place in an ever longer queue.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from nianbao.review import accounts, decide, queries
from nianbao.review import labels as L
from nianbao.review.pages import PageError, original_bytes, page_image
from nianbao.review.store import Store, StoreError, parse_value
from nianbao.review.view import report_view

SESSION_COOKIE = "nianbao_session"
SEVERITIES = ("error", "warning", "info")
STATUSES = ("open", "confirmed", "dismissed", "corrected")
DOC_ID = re.compile(r"^[1-9][0-9]{0,8}$")
FINDING_ID = re.compile(r"^[0-9a-f]{16}$")
LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")
SLOTS = 4  # CPU-bound page building under one GIL: more threads only wait longer
QUEUE_WAIT = 1.0  # seconds a request may wait for a slot before it gets a 503
MAX_WAITING = 8  # requests that may wait at all; beyond that a 503 at once


class PageProblem(Exception):
    """A request the page answers with a Chinese message and a way back."""

    def __init__(self, status: int, message: str, back: str = "/") -> None:
        super().__init__(message)
        self.status, self.message, self.back = status, message, back


def _env() -> Environment:
    root = resources.files("nianbao.review")
    env = Environment(loader=FileSystemLoader(str(root.joinpath("templates"))),
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


def create_app(store: Store, who: str = "reviewer", login: bool = False, slots: int = SLOTS,
               allowed_hosts: list[str] | None = None) -> FastAPI:
    """The review app over one store.

    Without `login` (the loopback default) every visitor is `who`; with it, a reviewer signs in
    with an account from `nianbao user add` and the audit trail names them.
    """
    app = FastAPI(title="nianbao review", docs_url=None, redoc_url=None, openapi_url=None)
    if not login:
        # only loopback names: a web page elsewhere cannot reach this server through DNS rebinding
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or ["127.0.0.1", "localhost", "[::1]"])
    env = _env()
    secret = secrets.token_bytes(32)
    snap = queries.Snapshot(store)
    busy_page = _busy(env)
    static = resources.files("nianbao.review").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    gate: dict[str, Any] = {"sem": None, "waiting": 0}

    @app.middleware("http")
    async def bounded(request: Request, call_next):
        """At most `slots` requests at work, at most MAX_WAITING waiting (briefly); the rest get 503 at once."""
        if request.url.path.startswith("/static/"):
            return await call_next(request)
        if gate["sem"] is None:
            gate["sem"] = asyncio.Semaphore(slots)
        sem: asyncio.Semaphore = gate["sem"]
        if sem.locked() and gate["waiting"] >= MAX_WAITING:
            return _copy(busy_page)
        gate["waiting"] += 1
        try:
            await asyncio.wait_for(sem.acquire(), timeout=QUEUE_WAIT)
        except TimeoutError:
            return _copy(busy_page)
        finally:
            gate["waiting"] -= 1
        try:
            response = await call_next(request)
        finally:
            sem.release()
        if request.method == "POST":
            snap.clear()  # this server's own write: the counts on the next page include it
        return response

    # ------------------------------------------------------------ sessions and forgery

    def session_of(request: Request) -> str:
        return request.cookies.get(SESSION_COOKIE) or ""

    def user_of(request: Request) -> str | None:
        if not login:
            return who
        return accounts.session_user(store, session_of(request))

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

    def render(request: Request, name: str, http_status: int = 200, **ctx: Any) -> HTMLResponse:
        session = session_of(request)
        new_session = None
        if not session and not login:
            session = new_session = secrets.token_urlsafe(32)
        html = env.get_template(name).render(
            csrf_token=csrf_for(session) if session else "", who=user_of(request),
            login=login, progress=snap.get("progress", queries.progress), **ctx)
        resp = HTMLResponse(html, status_code=http_status)
        _secure(resp)
        if new_session:
            resp.set_cookie(SESSION_COOKIE, new_session, httponly=True, samesite="strict")
        return resp

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
    def index(request: Request, agency: str = "", year: str = "", category: str = "", rule: str = "",
              status: str = "", signed: str = "", sort: str = "open", page: str = "1") -> HTMLResponse:
        need_user(request)
        f = queries.Filters(agency=agency.strip()[:100], year=_year(year), category=category.strip()[:40],
                            rule=rule.strip()[:80], status=status if status in STATUSES else "",
                            signed=signed if signed in ("yes", "no") else "",
                            sort=sort if sort in queries.SORTS else "open", page=_page(page))
        data = queries.report_list(store, f)
        filters = {"agency": f.agency, "year": year if f.year else "", "category": f.category, "rule": f.rule,
                   "status": f.status, "signed": f.signed, "sort": f.sort}
        return render(request, "list.html", **data, filters=filters, categories=snap.get("categories", queries.categories),
                      sorts=queries.SORTS, runs=store.runs()[-10:][::-1])

    @app.get("/report/{doc_id}", response_class=HTMLResponse)
    def report(request: Request, doc_id: str) -> HTMLResponse:
        need_user(request)
        return report_page(request, _doc_id(doc_id))

    def report_page(request: Request, doc_id: int, error: str = "", status: int = 200) -> HTMLResponse:
        try:
            data = report_view(store, doc_id, order=snap.get("order", queries.review_order))
        except StoreError:
            raise PageProblem(404, "没有这份报告。") from None
        if data["paged"]:
            _place_boxes(data)
        return render(request, "report.html", http_status=status, error=error, **data)

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
    def queue(request: Request, category: str = "", rule: str = "", status: str = "open", page: str = "1"
              ) -> HTMLResponse:
        need_user(request)
        status = status if status in STATUSES else ""
        found = (queries.queue_findings(store, category=category[:40], rule=rule[:80], status=status,
                                        page=_page(page)) if category or rule else None)
        return render(request, "queue.html", queues=snap.get("queues", queries.queues), category=category, rule=rule,
                      status=status, found=found)

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


def serve(store: Store, host: str = "127.0.0.1", port: int = 8765, who: str = "reviewer") -> None:
    """Serve the review page: on loopback without login, elsewhere only with login."""
    import uvicorn

    login = host not in LOOPBACK
    app = create_app(store, who, login=login)
    uvicorn.run(app, host=host, port=port, log_level="warning")



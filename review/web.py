"""The review web page: a list of reports, one page per report, confirm / dismiss / correct.

Server-rendered (FastAPI + Jinja2, autoescape on); report text is untrusted and only ever
reaches the page through the template engine's escaping. Every POST carries a CSRF token
(double-submit: a random cookie echoed in a form field). The browser only ever names a report
by its database id and a cell by a template key checked against the spec: no path it sends
reaches the file system.
"""

from __future__ import annotations

import hmac
import secrets
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.middleware.trustedhost import TrustedHostMiddleware

from nianbao.review.store import Store, StoreError, parse_value
from nianbao.review.view import ordered_findings, report_view, reports_list

CSRF_COOKIE = "nianbao_csrf"
SEVERITIES = ("error", "warning", "info")


def _env() -> Environment:
    root = resources.files("nianbao.review")
    env = Environment(loader=FileSystemLoader(str(root.joinpath("templates"))),
                      autoescape=select_autoescape(["html"], default=True))
    env.globals["urlencode"] = urlencode
    return env


def create_app(store: Store, who: str = "reviewer") -> FastAPI:
    """The review app over one store; `who` is the name written into the audit trail."""
    app = FastAPI(title="nianbao review", docs_url=None, redoc_url=None, openapi_url=None)
    # only loopback names: a web page elsewhere cannot reach this server through DNS rebinding
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost", "[::1]"])
    env = _env()
    static = resources.files("nianbao.review").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    def render(request: Request, name: str, **ctx: Any) -> HTMLResponse:
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        html = env.get_template(name).render(csrf_token=token, who=who, **ctx)
        resp = HTMLResponse(html)
        resp.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
        resp.headers["X-Content-Type-Options"] = "nosniff"
        if request.cookies.get(CSRF_COOKIE) != token:
            resp.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict")
        return resp

    def check_csrf(request: Request, token: str) -> None:
        cookie = request.cookies.get(CSRF_COOKIE) or ""
        if not cookie or not token or not hmac.compare_digest(cookie, token):
            raise HTTPException(403, "CSRF token missing or wrong; reload the page and try again")

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, agency: str = "", year: str = "", category: str = "", status: str = "",
              sort: str = "open") -> HTMLResponse:
        year_n = int(year) if year.strip().isdigit() else None
        data = reports_list(store, agency=agency.strip(), year=year_n, category=category.strip(),
                            status=status.strip(), sort=sort)
        return render(request, "list.html", **data,
                      filters={"agency": agency, "year": year, "category": category, "status": status,
                               "sort": sort}, severities=SEVERITIES, runs=store.runs()[-20:][::-1])

    @app.get("/report/{doc_id}", response_class=HTMLResponse)
    def report(request: Request, doc_id: int) -> HTMLResponse:
        try:
            data = report_view(store, doc_id)
        except StoreError as e:
            raise HTTPException(404, str(e)) from None
        return render(request, "report.html", **data)

    @app.get("/diff", response_class=HTMLResponse)
    def diff(request: Request, agency: str = "", changed: int = 1) -> HTMLResponse:
        from nianbao.review.export import diff_rows

        rows = diff_rows(store, agency, changed_only=bool(changed)) if agency else []
        agencies = sorted({d.agency for d in store.documents() if d.agency})
        return render(request, "diff.html", agency=agency, rows=rows, agencies=agencies, changed=changed)

    @app.post("/report/{doc_id}/finding/{fid}")
    def decide(request: Request, doc_id: int, fid: str, action: str = Form(...), comment: str = Form(""),
               csrf_token: str = Form("")) -> Response:
        check_csrf(request, csrf_token)
        if action == "dismiss" and not comment.strip():
            raise HTTPException(400, "a dismissal needs a reason")
        try:
            store.decide(doc_id, fid, action, who, comment.strip()[:2000])
        except StoreError as e:
            raise HTTPException(400, str(e)) from None
        # on to the next finding still open, the way a reviewer works through a report
        nxt = next((f["id"] for f in ordered_findings(store, doc_id) if f["status"] == "open"), fid)
        return RedirectResponse(f"/report/{doc_id}#finding-{nxt}", status_code=303)

    @app.post("/report/{doc_id}/correct")
    def correct(request: Request, doc_id: int, key: str = Form(...), value: str = Form(""),
                comment: str = Form(""), csrf_token: str = Form("")) -> Response:
        check_csrf(request, csrf_token)
        try:
            store.correct(doc_id, key, parse_value(value), who, comment.strip()[:2000])
        except StoreError as e:
            raise HTTPException(400, str(e)) from None
        return RedirectResponse(f"/report/{doc_id}#cell-{key}", status_code=303)

    return app


def serve(store: Store, port: int = 8765, who: str = "reviewer") -> None:
    """Serve the review page on 127.0.0.1 only."""
    import uvicorn

    uvicorn.run(create_app(store, who), host="127.0.0.1", port=port, log_level="warning")

#!/usr/bin/env python3
"""Screenshots of the review page for docs/: the list, a PDF finding beside its page, the issue list.

    python scripts/review_screenshots.py ../shared/reports/pdf examples/reports -o docs/screenshots

Runs the given reports into a scratch store, signs one report off, serves the page on 127.0.0.1
and photographs it in Debian's Chromium; the 问题清单 export is written and its first sheet shown
as a plain table (the workbook's own cells, nothing added).
"""

from __future__ import annotations

import argparse
import html
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from review_server import live_server  # noqa: E402

from nianbao import __version__  # noqa: E402
from nianbao.review.batch import run_batch  # noqa: E402
from nianbao.review.decide import review_findings, sign_off  # noqa: E402
from nianbao.review.export import export_issues  # noqa: E402
from nianbao.review.store import RunSettings, Store  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", type=Path)
    ap.add_argument("-o", "--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "shots.db")
        files = sorted(p for d in args.inputs for p in (d.iterdir() if d.is_dir() else [d])
                       if p.suffix in (".pdf", ".txt", ".html", ".docx"))
        run_batch(store, files, RunSettings(version=__version__), workers=1)
        docs = store.documents()
        pdf = next(d for d in docs if d.kind in ("pdf", "scan") and any(
            f["severity"] == "error" for f in review_findings(store, d.id)))
        quiet = next(d for d in docs if d.id != pdf.id and d.current_extraction_id)
        sign_off(store, quiet.id, "王科长", "已核对原件")
        issues = Path(tmp) / "issues.xlsx"
        export_issues(store, issues)
        with live_server(store, who="王科长") as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"], headless=True)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(base + "/")
            page.screenshot(path=str(args.out / "review_list.png"))
            page.goto(f"{base}/report/{pdf.id}")
            card = page.locator("li.finding[data-page-src]").first
            card.locator(".msg").click()
            page.wait_for_function("document.getElementById('page-img').complete && "
                                   "document.getElementById('page-img').naturalWidth > 0")
            page.locator("#page-box").scroll_into_view_if_needed()
            page.screenshot(path=str(args.out / "review_pdf_finding.png"))
            page.set_content(_sheet_html(issues))
            page.screenshot(path=str(args.out / "issues_export.png"))
            browser.close()
    for name in ("review_list.png", "review_pdf_finding.png", "issues_export.png"):
        print(args.out / name)
    return 0


def _sheet_html(path: Path) -> str:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb.worksheets[0]
    rows = ["<tr>" + "".join(f"<td>{html.escape(str(c.value if c.value is not None else ''))}</td>" for c in r)
            + "</tr>" for r in ws.iter_rows()]
    tabs = " ".join(f"<span class='tab{' on' if i == 0 else ''}'>{html.escape(s)}</span>"
                    for i, s in enumerate(wb.sheetnames))
    return ("<meta charset=utf-8><style>body{font-family:'Noto Sans CJK SC',sans-serif;font-size:13px}"
            "table{border-collapse:collapse}td{border:1px solid #bbb;padding:3px 6px;vertical-align:top;"
            "max-width:420px}tr:nth-child(2) td{font-weight:bold;background:#eee}.tab{padding:2px 8px;"
            "border:1px solid #bbb;margin-right:2px}.on{background:#dfe}</style>"
            f"<p>{html.escape(path.name)} — 每个单位一张工作表：{tabs}</p><table>{''.join(rows)}</table>")


if __name__ == "__main__":
    sys.exit(main())

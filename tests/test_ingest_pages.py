"""Paged files read one page at a time (issue 11 and 12): progress per page, blank pages skipped
without OCR, OCR processes started once with one onnxruntime thread each, reused for every
document, and never outliving the process that started them."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from conftest import FIXTURES
from test_ingest_ocr import _table_image

from nianbao.extract import read_document
from nianbao.extract.ingest import ocr as ingest_ocr

pytestmark = pytest.mark.slow  # OCR worker processes over paged files

DOCS = FIXTURES / "docs"


def _with_blank_pages(src: Path, dst: Path, blanks: int) -> Path:
    """A text PDF with `blanks` empty pages inserted after its first page."""
    pdf = pdfium.PdfDocument(str(src))
    w, h = pdf[0].get_size()
    for k in range(blanks):
        pdf.new_page(w, h, index=1 + k)
    buf = io.BytesIO()
    pdf.save(buf)
    dst.write_bytes(buf.getvalue())
    return dst


def test_progress_is_reported_page_by_page_and_blank_pages_cost_no_ocr(tmp_path, monkeypatch):
    src = DOCS / "004_6f1ea477f42cf686.pdf"
    n_text = len(pdfium.PdfDocument(str(src)))
    path = _with_blank_pages(src, tmp_path / "with-blanks.pdf", 3)
    ocr_calls: list[int] = []
    monkeypatch.setattr(ingest_ocr, "ocr_page", lambda args: ocr_calls.append(args[1]))
    ingest_ocr.shutdown()
    seen: list[tuple[int, int]] = []
    doc = read_document(path, on_page=lambda done, total: seen.append((done, total)))
    total = n_text + 3
    assert seen == [(k, total) for k in range(1, total + 1)]
    assert ocr_calls == [] and ingest_ocr._POOL is None  # the blank pages were seen to be blank, not read
    assert doc.kind == "pdf" and doc.text == read_document(src).text
    assert [len(range(s, e)) > 0 for s, e in doc.pages] == [True] + [False] * 3 + [True] * (n_text - 1)


def test_progress_for_an_image_and_none_for_text(tmp_path):
    image = tmp_path / "table.png"
    _table_image(image)
    seen: list[tuple[int, int]] = []
    read_document(image, on_page=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 1)]
    text = tmp_path / "r.txt"
    text.write_text("一、总体情况\n发布信息12条。\n", "utf-8")
    read_document(text, on_page=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 1)]


def test_ocr_processes_start_once_with_one_thread_each_and_serve_every_document(tmp_path):
    image = tmp_path / "table.png"
    _table_image(image)
    ingest_ocr.configure(workers=2, threads=1)
    try:
        first = read_document(image).text
        pool = ingest_ocr._POOL
        workers = set(pool._processes)
        threads = pool.submit(_session_threads).result()
        second = read_document(image).text
        assert ingest_ocr._POOL is pool and set(pool._processes) == workers and workers
        assert first == second and "行政处罚" in first
        assert threads == [1, 1, 1]  # detection, classification, recognition sessions
    finally:
        ingest_ocr.shutdown()
        ingest_ocr.configure(workers=0)


def _session_threads() -> list[int]:
    engine = ingest_ocr._engine()
    parts = (engine.text_det, engine.text_cls, engine.text_rec)  # rapidocr names the session differently
    sessions = [getattr(part, "infer", None) or getattr(part, "session", None) for part in parts]
    return [s.session.get_session_options().intra_op_num_threads for s in sessions]


CHILD = """
import sys
from nianbao.extract import read_document
from nianbao.extract.ingest import ocr as ingest_ocr
ingest_ocr.configure(workers=2)
read_document(sys.argv[1])
print(" ".join(str(p) for p in ingest_ocr._POOL._processes), flush=True)
import time; time.sleep(600)
"""


def test_ocr_processes_die_with_the_process_that_started_them(tmp_path):
    image = tmp_path / "table.png"
    _table_image(image)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(image)], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in child.stdout.readline().split()]
        assert pids and all(_alive(p) for p in pids)
    finally:
        child.send_signal(signal.SIGKILL)  # as the OOM killer or a batch runner's limit would
        child.wait()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids), "OCR workers outlived their parent"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().split(") ")[-1][:1] != "Z"


def test_a_page_that_cannot_be_read_is_a_note_not_a_refused_report(monkeypatch):
    from nianbao.extract.ingest import pdf as ingest_pdf

    src = DOCS / "004_6f1ea477f42cf686.pdf"
    whole = read_document(src)
    real = ingest_pdf._text_page

    def broken_second_page(page, number, source, offset):
        if number == 2:
            raise OverflowError("int too large to convert to float")  # as pdfminer does on hostile numbers
        return real(page, number, source, offset)

    monkeypatch.setattr(ingest_pdf, "_text_page", broken_second_page)
    doc = read_document(src)
    (note,) = doc.notes
    assert note.kind == "page_not_read" and "第 2 页无法读取（OverflowError）" in note.message
    first_page = whole.text[whole.pages[0][0]:whole.pages[0][1]]
    assert doc.text.startswith(first_page) and len(doc.pages) == len(whole.pages)
    assert doc.pages[1][0] == doc.pages[1][1]  # page 2 is empty, in its place

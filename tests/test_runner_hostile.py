"""Issue 11's batch test: a folder holding hostile files (built here, small on disk) plus 100 good
reports; `nianbao run` stores the 100, names every hostile file it could not read, and the whole
process tree stays under 2.5 GB throughout (summed PSS of parent, workers and their children,
sampled every 0.25 s)."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import psutil
import pytest
from store_helpers import write_reports

pytestmark = pytest.mark.slow  # hostile files plus 100 good reports through a real run

CMD = [sys.executable, "-m", "nianbao.app.cli"]
LIMIT = int(2.5 * 2**30)


def _docx_with_huge_span(path: Path) -> None:
    import docx

    d = docx.Document()
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text = "一、本年新收政府信息公开申请数量"
    t.cell(0, 1).text = "5"
    buf = io.BytesIO()
    d.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item)
            if item.filename == "word/document.xml":
                body = body.replace(b"<w:tcPr>", b'<w:tcPr><w:gridSpan w:val="2000000000"/>', 1)
            dst.writestr(item, body)
    path.write_bytes(out.getvalue())


def _pdf(pages: list[tuple[float, float]]) -> bytes:
    """A PDF of empty pages of the given sizes (in points), written by hand."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    for w, h in pages:
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] >>".encode())
        kids.append(f"{len(objs)} 0 R")
    objs[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def hostile_files(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = {
        "gridspan.docx": None,
        "huge-page.pdf": _pdf([(14400, 14400)]),
        "blank-500.pdf": _pdf([(595, 842)] * 500),
        "spans.html": ("<html><body><table>" + "<tr><td rowspan=100000 colspan=100000>1</td><td>2</td></tr>" * 40
                       + "</table></body></html>").encode(),
        "attributes.html": ("<html><body><p " + " ".join(f"a{i}='x'" for i in range(100_000)) + ">年度报告</p>"
                            "</body></html>").encode(),
        "deep.html": ("<div>" * 5000 + "政府信息公开工作年度报告 本年新收申请 5 件" + "</div>" * 5000).encode(),
        "digits.txt": ("某县2023年政府信息公开工作年度报告\n三、收到和处理政府信息公开申请情况\n"
                       "一、本年新收政府信息公开申请数量" + "7" * 10_000 + "\n").encode(),
        "big.txt": ("某县2023年政府信息公开工作年度报告\n一、总体情况\n" + "全年共发布信息 5 条。" * 700_000).encode(),
        "empty.txt": b"",
        "junk.pdf": b"%PDF-1.7\n" + bytes(range(256)) * 40,
    }
    out = []
    for name, data in made.items():
        p = folder / name
        if data is None:
            _docx_with_huge_span(p)
        else:
            p.write_bytes(data)
        out.append(p)
    return out


def _pss_tree(pid: int) -> int:
    total = 0
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_full_info().pss
        except psutil.Error:
            pass
    return total


def test_run_over_hostile_files_and_100_good_ones(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_reports(folder / "good", 100)
    hostile = hostile_files(folder / "hostile")
    db = tmp_path / "n.db"
    proc = subprocess.Popen([*CMD, "run", str(folder), "--db", str(db), "--workers", "2", "--max-memory", "1G",
                             "--timeout", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _pss_tree(proc.pid))
            time.sleep(0.25)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        _, err = proc.communicate(timeout=900)
    finally:
        stop.set()
        watcher.join()
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in err, err[-3000:]
    assert proc.returncode == 2, err[-3000:]
    import sqlite3

    con = sqlite3.connect(db)
    stored = {n for (n,) in con.execute("SELECT name FROM documents WHERE current_extraction_id IS NOT NULL")}
    failed = dict(con.execute("SELECT name, error FROM documents WHERE error IS NOT NULL"))
    con.close()
    assert {f"r{i:04d}.txt" for i in range(100)} <= stored
    named = {Path(line.split(": ")[0].removeprefix("error ")).name for line in err.splitlines()
             if line.startswith("error")}
    for p in hostile:  # each one either read (bounded readers) or named, once, with its problem stored
        assert (p.name in stored) != (p.name in named), (p.name, err[-2000:])
        if p.name in named:
            assert failed[p.name]
    assert peak < LIMIT, f"peak PSS of the run {peak / 2**30:.2f} GB"
    print(f"\npeak PSS of the run: {peak / 2**20:.0f} MB; hostile files failed: {sorted(named)}")

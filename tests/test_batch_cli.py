"""`nianbao run` as a user runs it: a real subprocess, a bad file, Ctrl-C half way, then resume."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from store_helpers import write_reports

pytestmark = pytest.mark.slow  # real `nianbao run` subprocesses, Ctrl-C half way and resume

CMD = [sys.executable, "-m", "nianbao.app.cli"]


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM extractions").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # tables not made yet
        return 0


def test_bad_file_gets_one_line_and_the_batch_goes_on(tmp_path: Path) -> None:
    write_reports(tmp_path / "in", 3)
    (tmp_path / "in" / "broken.docx").write_bytes(b"PK\x03\x04word/ not really a docx")
    db = tmp_path / "n.db"
    r = subprocess.run([*CMD, "run", str(tmp_path / "in"), "--db", str(db), "--workers", "1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "broken.docx" in errors[0]
    assert "stored 3" in r.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM documents WHERE error IS NOT NULL").fetchone()[0] == 1
    assert con.execute("SELECT COUNT(*) FROM extractions").fetchone()[0] == 3
    con.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "terminate"])
def test_interrupted_batch_resumes_without_redoing(tmp_path: Path, sig: int) -> None:
    """Worker processes (the rules backend's default), stopped half way, then the same command again.

    More reports than one stored group (review/batch.py BATCH_SIZE), so a stop can fall between groups."""
    from nianbao.review.batch import BATCH_SIZE

    n = 3 * BATCH_SIZE
    write_reports(tmp_path / "in", n)
    db = tmp_path / "n.db"
    args = [*CMD, "run", str(tmp_path / "in"), "--db", str(db), "--workers", "2"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while _count(db) < 20 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    first = _count(db)
    assert 0 < first < n, f"the batch was not caught half way ({first} of {n}): {err[-300:]}"
    assert proc.returncode == 130 and "interrupted" in err, err[-2000:]
    con = sqlite3.connect(db)
    before = dict(con.execute("SELECT document_id, id FROM extractions").fetchall())
    con.close()
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-500:]
    assert f"stored {n - first}, skipped {first}" in r.stderr
    con = sqlite3.connect(db)
    after = dict(con.execute("SELECT document_id, id FROM extractions").fetchall())
    con.close()
    assert len(after) == n
    assert all(after[d] == e for d, e in before.items())  # the first half was not redone

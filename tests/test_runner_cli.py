"""The runner as a user meets it: `nianbao run` and `extract` in real subprocesses, with workers that
hang, hoard memory or die, a FIFO, a GBK file name, Ctrl-C, a killed parent, and two runs on one
new store at once."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from runner_support import cli_with_misbehaving_backend, write_misbehaving
from store_helpers import write_reports

pytestmark = pytest.mark.slow  # `nianbao run`/`extract` in real subprocesses with misbehaving workers

CMD = [sys.executable, "-m", "nianbao.app.cli"]
GBK_NAME = "中文报告".encode("gbk")  # not UTF-8: a name unpacked from a zip made on Windows


def _rows(db: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_run_stores_the_good_reports_and_names_each_failure(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_reports(folder, 6)
    write_misbehaving(folder / "bad", "HANG", "HOG", "KILL")
    os.mkfifo(folder / "bad" / "pipe.txt")
    db = tmp_path / "n.db"
    started = time.monotonic()
    r = subprocess.run(cli_with_misbehaving_backend("run", str(folder), "--db", str(db), "--workers", "2",
                                                    "--timeout", "10", "--max-memory", "300M"),
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 2, r.stderr[-2000:]
    assert time.monotonic() - started < 120
    errors = sorted(line for line in r.stderr.splitlines() if line.startswith("error"))
    assert len(errors) == 4, r.stderr
    by_file = {Path(line.split(":")[0].removeprefix("error ")).name: line for line in errors}
    assert "time limit (--timeout)" in by_file["hang.txt"]
    assert "memory limit of 300 MB per file (--max-memory)" in by_file["hog.txt"]
    assert "worker died (killed by SIGKILL)" in by_file["kill.txt"]
    assert "is a FIFO, not a regular file" in by_file["pipe.txt"]
    assert "Traceback" not in r.stderr
    assert "stored 6, skipped 0 already done, 3 failed" in r.stderr
    assert _rows(db, "SELECT COUNT(*) FROM extractions") == [(6,)]
    failed = dict(_rows(db, "SELECT name, error FROM documents WHERE error IS NOT NULL"))
    assert set(failed) == {"hang.txt", "hog.txt", "kill.txt"} and "memory limit" in failed["hog.txt"]
    assert _rows(db, "SELECT status, documents, errors FROM runs") == [("finished", 6, 3)]


def test_extract_fails_only_the_file_past_its_limit(tmp_path: Path) -> None:
    good = write_reports(tmp_path / "in", 2)
    (hang,) = write_misbehaving(tmp_path / "in", "HANG")
    r = subprocess.run(cli_with_misbehaving_backend("extract", str(good[0]), str(hang), str(good[1]),
                                                    "--timeout", "3"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert [line for line in r.stderr.splitlines() if line.startswith("error")] == [
        f"error {hang}: stopped after 3 s: time limit (--timeout)"]
    docs = r.stdout.splitlines()
    assert [d[:40].split('"report":"')[1].split('"')[0] for d in docs] == ["r0000.txt", "r0001.txt"]  # in order


def test_ctrl_c_ends_a_stuck_batch_within_seconds_without_a_traceback(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_misbehaving(folder, "HANG")
    write_misbehaving(folder / "more", "HANG")
    write_reports(folder / "good", 3)
    db = tmp_path / "n.db"
    proc = subprocess.Popen(cli_with_misbehaving_backend("run", str(folder), "--db", str(db), "--workers", "2",
                                                         "--timeout", "0"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers: list[int] = []
    try:
        workers = _wait_for_workers(proc.pid, 2)
        time.sleep(1.0)  # both workers are on a HANG file by now (the good ones are quick)
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        _, err = proc.communicate(timeout=30)
        assert time.monotonic() - started < 10
    finally:
        for pid in [proc.pid, *workers]:  # never leave a hanging worker behind, even when failing
            with contextlib.suppress(ProcessLookupError):
                if pid != proc.pid or proc.poll() is None:
                    os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert _gone(workers)
    # the next run marks nothing twice and finds the interrupted run closed as such
    assert _rows(db, "SELECT status FROM runs") == [("interrupted",)]


def test_workers_die_with_their_parent_and_the_next_run_marks_it_interrupted(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_misbehaving(folder, "HANG")
    write_misbehaving(folder / "b", "HANG")
    db = tmp_path / "n.db"
    proc = subprocess.Popen(cli_with_misbehaving_backend("run", str(folder), "--db", str(db), "--workers", "2",
                                                         "--timeout", "0"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        workers = _wait_for_workers(proc.pid, 2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert _gone(workers)
    finally:
        for pid in [proc.pid, *workers]:  # never leave a hanging worker behind, even when failing
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert _rows(db, "SELECT status FROM runs") == [("running",)]  # nobody could say otherwise yet
    write_reports(tmp_path / "other", 1)
    r = subprocess.run([*CMD, "run", str(tmp_path / "other"), "--db", str(db)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert _rows(db, "SELECT status FROM runs ORDER BY id") == [("interrupted",), ("finished",)]


def test_a_gbk_file_name_is_stored_and_shown_with_its_bytes_escaped(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (path,) = write_reports(folder, 1)
    odd = os.fsdecode(os.fsencode(folder) + b"/" + GBK_NAME + b".txt")
    os.rename(path, odd)
    broken = os.fsdecode(os.fsencode(folder) + b"/" + GBK_NAME + b".docx")
    Path(broken).write_bytes(b"PK\x03\x04word/ not really a docx")
    escaped = GBK_NAME.decode("utf-8", "backslashreplace")  # undecodable bytes as \xNN, the rest as is
    assert escaped.startswith("\\xd6\\xd0")
    db = tmp_path / "n.db"
    r = subprocess.run([*CMD, "run", str(folder), "--db", str(db)], capture_output=True, timeout=120)
    err = r.stderr.decode("utf-8")
    assert r.returncode == 2, err  # the broken docx, named with its bytes escaped
    assert [line for line in err.splitlines() if line.startswith("error")][0].startswith(
        f"error {folder}/{escaped}.docx: ")
    assert "stored 1" in err and "UnicodeEncodeError" not in err
    assert sorted(n for (n,) in _rows(db, "SELECT name FROM documents")) == [f"{escaped}.docx", f"{escaped}.txt"]
    out = tmp_path / "out"
    r = subprocess.run([*CMD, "extract", odd, "-o", str(out)], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    (written,) = list(out.iterdir())
    assert os.fsencode(written.name) == GBK_NAME + b".json" and written.stat().st_size > 1000
    assert f'"report":"{escaped}.txt"'.replace("\\", "\\\\") in written.read_text(encoding="utf-8")


def test_extract_never_overwrites_same_stem_from_other_folders_or_kinds(tmp_path: Path) -> None:
    a, b = write_reports(tmp_path / "a", 1)[0], write_reports(tmp_path / "b", 1, seed=2)[0]
    c = tmp_path / "a" / "r0000.md"
    c.write_text(a.read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "out"
    r = subprocess.run([*CMD, "extract", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 3 and len(set(written)) == 3
    assert "r0000.md.json" in written
    lines = [line for line in r.stderr.splitlines() if " → " in line]
    assert sorted(line.split(" → ")[0] for line in lines) == sorted([str(a), str(b), str(c)])
    assert all((out / Path(line.split(" → ")[1]).name).is_file() for line in lines)


def test_an_empty_folder_is_an_error_with_a_message(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for cmd in ("extract", "run"):
        r = subprocess.run([*CMD, cmd, str(tmp_path / "empty"), *(["--db", str(tmp_path / "n.db")] if cmd == "run"
                                                                  else [])],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and f"no report files in {tmp_path / 'empty'}" in r.stderr, (cmd, r.stderr)


def test_two_runs_on_one_new_store_at_once_both_finish_and_store_each_report_once(tmp_path: Path) -> None:
    write_reports(tmp_path / "in", 40)
    db = tmp_path / "new.db"
    args = [*CMD, "run", str(tmp_path / "in"), "--db", str(db), "--workers", "1"]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for rc, err in results:
        assert rc == 0, err[-2000:]
        assert "Traceback" not in err
    assert _rows(db, "SELECT COUNT(*), COUNT(DISTINCT content_hash) FROM documents") == [(40, 40)]
    assert _rows(db, "SELECT COUNT(*) FROM extractions") == [(40,)]
    assert _rows(db, "SELECT COUNT(*) FROM documents WHERE current_extraction_id IS NULL") == [(0,)]
    (findings, distinct) = _rows(db, "SELECT COUNT(*), COUNT(DISTINCT id) FROM findings")[0]
    assert findings == distinct
    assert _rows(db, "SELECT version FROM schema_version") == [(max(v for (v,) in _rows(db, "SELECT version FROM "
                                                                                      "schema_version")),)]


def _wait_for_workers(pid: int, n: int, timeout: float = 180) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            kids = [c.pid for c in psutil.Process(pid).children() if c.status() != psutil.STATUS_ZOMBIE]
        except psutil.NoSuchProcess:
            break
        if len(kids) >= n:
            return kids
        time.sleep(0.05)
    raise AssertionError(f"no {n} workers under {pid}")


def _gone(pids: list[int], within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return True
        time.sleep(0.05)
    return False

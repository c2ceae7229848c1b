"""The runner: one bad file fails only itself (hang, unbounded memory, a dead worker), inputs expand
alike everywhere (FIFOs and devices refused), page progress reaches the parent."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from nianbao.app import progress
from nianbao.app.runner import Limits, Runner, expand_inputs

SPAWNED = Path("/nonexistent")  # where the "spawn" task writes its child's pid (set by the test)


def _misbehave(path: Path) -> str:
    """A task that does what the file's name says."""
    name = path.name
    if name == "hang":
        time.sleep(3600)
    if name == "hog":
        hoard = []
        while True:
            hoard.append(bytearray(32 << 20))
    if name == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if name == "raise":
        raise ValueError("broken on purpose\nsecond line never shown")
    if name == "spawn":  # a reader that starts its own process, then hangs
        import multiprocessing

        child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(3600,))
        child.start()
        SPAWNED.write_text(str(child.pid))
        time.sleep(3600)
    if name == "pages":
        for i in range(1, 4):
            progress.page(i, 3)
    return name.upper()


def _run(names: list[str], **kw) -> dict[str, object]:
    runner = Runner(_misbehave, **kw)
    return {o.path.name: o for o in runner.run([Path(n) for n in names])}, runner


@pytest.mark.slow
def test_each_misbehaving_file_fails_alone_with_the_limit_named() -> None:
    names = ["a", "hang", "b", "hog", "c", "kill", "d", "raise", "e"]
    started = time.monotonic()
    out, runner = _run(names, workers=2, limits=Limits(timeout=8, max_memory=256 << 20))
    elapsed = time.monotonic() - started
    assert {n: o.value for n, o in out.items() if o.ok} == {n: n.upper() for n in "abcde"}
    assert out["hang"].limit == "timeout" and "time limit (--timeout)" in out["hang"].problem
    assert out["hog"].limit == "memory" and "memory limit of 256 MB" in out["hog"].problem
    assert out["kill"].limit == "crash" and "SIGKILL" in out["kill"].problem
    assert out["raise"].problem == "extraction failed: ValueError: broken on purpose"
    assert all("\n" not in (o.problem or "") for o in out.values())
    assert elapsed < 60, elapsed  # the hang was stopped, not waited for
    assert runner.stats.peak_worker_rss < 1 << 30  # the hog was stopped near its limit


@pytest.mark.slow
def test_a_pool_that_loses_workers_again_and_again_finishes_the_batch() -> None:
    names = [f"ok{i}" for i in range(30)]
    for i in (3, 9, 10, 11, 25):
        names[i] = "kill"
    runner = Runner(_misbehave, workers=2, limits=Limits(timeout=10, max_memory=None))
    outcomes = list(runner.run([Path(n) for n in names]))
    assert len(outcomes) == 30
    assert sorted(o.index for o in outcomes) == list(range(30))
    assert sum(o.ok for o in outcomes) == 25
    assert all(o.limit == "crash" for o in outcomes if not o.ok)


def test_submission_is_bounded() -> None:
    seen = []

    def files():
        for i in range(50):
            seen.append(i)
            yield Path(f"f{i}")

    runner = Runner(_misbehave, workers=2, ahead=4)
    first = next(iter(runner.run(files())))
    assert first.ok and len(seen) <= 5  # nothing read far ahead of the workers


def test_page_progress_reaches_the_parent() -> None:
    pages: list[tuple[int, int, int]] = []
    out, _ = _run(["x", "pages"], workers=1, on_page=lambda i, d, n: pages.append((i, d, n)))
    assert out["pages"].ok
    assert pages == [(1, 1, 3), (1, 2, 3), (1, 3, 3)]


@pytest.mark.slow
def test_threads_for_network_backends_time_out_too() -> None:
    out, _ = _run(["a", "hang", "b"], workers=2, isolate=False, limits=Limits(timeout=1))
    assert out["a"].ok and out["b"].ok
    assert out["hang"].limit == "timeout"


def test_stop_ends_the_run_at_once_and_kills_the_workers() -> None:
    stop = threading.Event()
    runner = Runner(_misbehave, workers=2, stop=stop, limits=Limits(timeout=None))
    gen = runner.run([Path("a"), Path("hang"), Path("hang"), Path("b")])
    got = [next(gen)]
    time.sleep(0.5)
    pids = runner._worker_pids()
    assert pids
    stop.set()
    started = time.monotonic()
    got += list(gen)
    assert time.monotonic() - started < 5
    assert all(o.path.name != "hang" for o in got)
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)


@pytest.mark.slow
def test_what_a_timed_out_worker_started_dies_with_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "SPAWNED", tmp_path / "grandchild.pid")
    out, _ = _run(["a", "spawn"], workers=2, limits=Limits(timeout=3))
    assert out["spawn"].limit == "timeout"
    grandchild = int((tmp_path / "grandchild.pid").read_text())
    deadline = time.monotonic() + 10
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def test_expand_inputs_recurses_and_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / "a" / "r1.txt").write_text("x", encoding="utf-8")
    (tmp_path / "a" / "deep" / "r2.html").write_text("x", encoding="utf-8")
    (tmp_path / "a" / ".hidden.txt").write_text("x", encoding="utf-8")
    (tmp_path / "a" / "r1.gold.json").write_text("{}", encoding="utf-8")
    (tmp_path / "a" / ".git").mkdir()
    (tmp_path / "a" / ".git" / "x.txt").write_text("x", encoding="utf-8")
    os.mkfifo(tmp_path / "a" / "pipe")
    (tmp_path / "a" / "null").symlink_to("/dev/null")
    (tmp_path / "a" / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "a" / "deep" / "loop").symlink_to(tmp_path / "a")  # a folder symlink is not followed
    named_fifo = tmp_path / "named_fifo"
    os.mkfifo(named_fifo)
    got = expand_inputs([tmp_path / "a", tmp_path / "a" / "r1.txt", named_fifo, tmp_path / "missing.txt"])
    assert [p.relative_to(tmp_path).as_posix() for p in got.files] == ["a/r1.txt", "a/deep/r2.html"]
    refused = {p.name: why for p, why in got.refused}
    assert refused == {
        "pipe": "is a FIFO, not a regular file; only report files are read",
        "null": "is a character device, not a regular file; only report files are read",
        "dangling": "broken symlink",
        "named_fifo": "is a FIFO, not a regular file; only report files are read",
        "missing.txt": "no such file or folder",
    }


@pytest.mark.parametrize("keep_txt", [True, False])
def test_expand_inputs_keep_filters_only_inside_folders(tmp_path: Path, keep_txt: bool) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("x", encoding="utf-8")
    (tmp_path / "d" / "b.csv").write_text("x", encoding="utf-8")
    (tmp_path / "c.csv").write_text("x", encoding="utf-8")
    keep = (lambda p: p.suffix == ".txt") if keep_txt else None
    got = [p.name for p in expand_inputs([tmp_path / "d", tmp_path / "c.csv"], keep=keep).files]
    assert got == (["a.txt", "c.csv"] if keep_txt else ["a.txt", "b.csv", "c.csv"])


def test_a_stopping_error_starts_no_file_queued_behind_it() -> None:
    """One thread, several files queued: after the first raises StopRun (key refused, budget spent),
    the queued ones are never started, so no further request leaves, and they come back as not run."""
    from nianbao.errors import StopRun

    started: list[str] = []

    def task(path: Path) -> str:
        started.append(path.name)
        if path.name == "first":
            raise StopRun("key refused")
        return path.name

    runner = Runner(task, workers=1, isolate=False, limits=Limits(timeout=None))
    got = list(runner.run([Path("first"), Path("second"), Path("third")]))
    assert started == ["first"]
    assert [o.path.name for o in got] == ["first"] and got[0].stop
    assert runner.halted


def _slow_read(path: Path) -> str:
    """A reader that takes 1.5 s whatever the file, like OCR of a page on a busy machine."""
    time.sleep(1.5)
    return path.name


def _scan(path: Path, pages: int) -> Path:
    from PIL import Image

    frames = [Image.new("L", (40, 40), 255) for _ in range(pages)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    return path


@pytest.mark.parametrize("isolate", [True, False])
def test_each_page_of_a_pdf_or_image_adds_its_own_time(tmp_path, isolate) -> None:
    """A scanned report needs seconds of OCR a page: 60 s for a ten-page scan stopped real reports
    (d02 printed and scanned, five pages). Each page of a PDF or image adds `page_timeout`."""
    text = tmp_path / "report.txt"
    text.write_text("年度报告", encoding="utf-8")
    pdf = _scan(tmp_path / "scan.pdf", 2)
    limits = Limits(timeout=1, page_timeout=1)
    assert limits.time_for(text) == 1 and limits.time_for(pdf) == 3
    assert Limits(timeout=None).time_for(pdf) is None
    out = {o.path.name: o for o in Runner(_slow_read, limits=limits, isolate=isolate).run([text, pdf])}
    assert out["scan.pdf"].ok and out["scan.pdf"].value == "scan.pdf"
    assert out["report.txt"].limit == "timeout" and "stopped after 1 s" in out["report.txt"].problem

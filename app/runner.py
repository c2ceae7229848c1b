"""The one runner behind `extract`, `run` and `eval`: expand the inputs, run a task per file in
worker processes with a wall-time and a memory limit, and yield each file's outcome as it comes.

Why processes with limits: one hostile file (a span of two billion cells, a page of 14,400 pt, a
hang) must fail only itself. A worker that overruns its time, passes its memory limit or dies
fails its own file with one line naming the limit; the pool replaces the worker and the batch
goes on. Workers die with their parent (PR_SET_PDEATHSIG) and sit in their own process group,
so a stop kills them and whatever they started.

Memory is watched from the parent (RSS of each worker and its children, every 50 ms) rather than
with RLIMIT_AS: onnxruntime and pdfium map 4–5× their resident size in address space, so an
address-space limit fails a 190 MB OCR job at 700 MB and still says nothing useful (measured in
docs/benchmarks.md, "Containment").

Workers are forked (the parent has loaded nianbao already, so a replacement starts in
milliseconds); the task is handed to each worker by the fork rather than pickled, so any
callable works, and two runners in one process (threads of a Dask worker) never mix tasks.
Network backends (LLM, hybrid) run in threads instead (`isolate=False`): they share one token
budget, cache and concurrency limit, and their time goes to waiting, not to parsing.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nianbao.app import progress
from nianbao.errors import InputError, NianbaoError, StopRun, one_line, printable

DEFAULT_TIMEOUT = 60.0  # seconds of wall time per file
DEFAULT_MAX_MEMORY = 2 << 30  # bytes of resident memory per worker (with its children)
WATCH_INTERVAL = 0.05  # how often the memory watchdog looks
RECYCLE_AFTER = 1000  # tasks per worker before it is replaced (memory fragments creep)


@dataclass(frozen=True)
class Limits:
    """Per-file limits; None switches one off."""

    timeout: float | None = DEFAULT_TIMEOUT
    max_memory: int | None = DEFAULT_MAX_MEMORY
    page_timeout: float | None = None  # more seconds for each page of a PDF or image (OCR); None: `timeout`

    def time_for(self, path: Path) -> float | None:
        """This file's time limit: `timeout`, plus `page_timeout` (by default as much again) for each page."""
        if not self.timeout:
            return None
        per_page = self.timeout if self.page_timeout is None else self.page_timeout
        if not per_page:
            return self.timeout
        from nianbao.extract.ingest import page_count

        return self.timeout + per_page * page_count(path)


@dataclass
class Outcome:
    """One file's result (`value`) or failure (`problem`, one line; `limit` when a limit ended it)."""

    index: int
    path: Path
    value: Any = None
    problem: str | None = None
    limit: str | None = None  # "timeout" | "memory" | "crash"
    stop: bool = False  # the task raised StopRun: later files would fail the same way
    exit_code: int = 0
    unexpected: bool = False  # an exception nianbao did not raise on purpose (a bug to fix)

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass
class RunStats:
    """What the watchdog saw: peak RSS of one worker, and of all workers and the parent together."""

    peak_worker_rss: int = 0  # memory one worker added since its fork (what the limit applies to)
    peak_total_rss: int = 0  # the parent's RSS plus what every worker added
    replaced_workers: int = 0


# ---------------------------------------------------------------- inputs


@dataclass
class Inputs:
    files: list[Path]
    refused: list[tuple[Path, str]] = field(default_factory=list)  # (path, one line) per unusable input


def display(path: str | os.PathLike[str]) -> str:
    """A path as text to show or store: undecodable bytes of its name written as \\xNN."""
    return printable(os.fspath(path))


def _kind_of(mode: int) -> str | None:
    """What a non-regular file is, for the one line that refuses it."""
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a regular file"


def check_file(path: Path) -> str | None:
    """None when `path` is a regular file nianbao may open; else why not, in one line."""
    try:
        st = os.stat(path)  # follows symlinks; never opens (a FIFO would block on open)
    except FileNotFoundError:
        return "broken symlink" if os.path.islink(path) else "no such file or folder"
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    kind = _kind_of(st.st_mode)
    return None if kind is None else f"is {kind}, not a regular file; only report files are read"


def expand_inputs(paths: Iterable[str | os.PathLike[str]],
                  keep: Callable[[Path], bool] | None = None) -> Inputs:
    """Files named, and every file under folders named (recursively), in a stable order.

    The same rules for every command: hidden files and folders and gold fixtures (*.gold.json)
    inside folders are left out; symlinked folders are not followed (no loops); FIFOs, devices
    and sockets are refused with one line, never opened; a file named twice is read once.
    `keep` filters files found inside folders (eval keeps report kinds only).
    """
    out = Inputs([])
    seen: set[str] = set()

    def add(p: Path) -> None:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            out.files.append(p)

    for raw in paths:
        p = Path(raw)
        try:
            is_dir = p.is_dir()
        except OSError as e:  # symlink loop, name too long
            out.refused.append((p, f"cannot be read ({e.strerror or e})"))
            continue
        if not is_dir:
            problem = check_file(p)
            if problem:
                out.refused.append((p, problem))
            else:
                add(p)
            continue
        def walk_error(e: OSError, top: Path = p) -> None:
            out.refused.append((Path(e.filename or top), f"cannot be read ({e.strerror or e})"))

        for root, dirs, names in os.walk(p, onerror=walk_error):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                if name.startswith(".") or name.endswith(".gold.json"):
                    continue
                f = Path(root) / name
                if os.path.isdir(f):  # a symlink to a folder: not followed
                    continue
                problem = check_file(f)
                if problem:
                    out.refused.append((f, problem))
                elif keep is None or keep(f):
                    add(f)
    return out


def nothing_matched(paths: Iterable[str | os.PathLike[str]]) -> InputError:
    names = ", ".join(display(p) for p in paths)
    return InputError(f"no report files in {names}" if names else "no input files given")


# ---------------------------------------------------------------- stopping on signals


class StopSignal:
    """Ctrl-C or SIGTERM asks the batch to stop between two results (the event is set);
    a second one raises KeyboardInterrupt at once."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt(f"signal {signum}")
        self.event.set()

    @contextlib.contextmanager
    def installed(self) -> Iterator[threading.Event]:
        if threading.current_thread() is not threading.main_thread():
            yield self.event
            return
        old = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self.event
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)


# ---------------------------------------------------------------- in the worker

_TASK: Callable[[Path], Any] | None = None  # in a worker: the task it was forked with
_CURRENT = -1  # index of the file the worker is on (for page progress)
_PAGES_FD = -1  # write end of the page-progress pipe


def _call(index: int, path: Path, task: Callable[[Path], Any] | None = None) -> tuple[Any, ...]:
    """Run the task on one file and return ("ok", value) or (kind, one line, exit code).

    Nothing raised here crosses the process boundary as an exception: exceptions with custom
    constructors do not always unpickle, and the parent only needs the line and the code.
    """
    global _CURRENT
    _CURRENT = index
    task = task or _TASK
    assert task is not None
    try:
        return ("ok", task(path))
    except StopRun as e:
        return ("stop", one_line(e), e.exit_code)
    except NianbaoError as e:
        if getattr(e, "stops_run", False):  # an LLM error every later report would meet (endpoint, budget)
            return ("stop", one_line(e), e.exit_code)
        return ("error", one_line(getattr(e, "problem", None) or e), e.exit_code)
    except MemoryError:
        return ("memory", "ran out of memory while reading (MemoryError)", 2)
    except RecursionError:
        return ("error", "extraction failed: RecursionError (nesting too deep)", 2)
    except Exception as e:  # one report's crash must not stop the batch
        return ("bug", one_line(f"extraction failed: {type(e).__name__}: {e}"), 2)


def _send_page(done: int, total: int) -> None:
    """Page progress to the parent: one write of a few bytes, atomic on a pipe, never blocking."""
    if _PAGES_FD < 0:
        return
    with contextlib.suppress(OSError):
        os.write(_PAGES_FD, f"{_CURRENT} {done} {total}\n".encode())


def _set_parent_death_signal() -> None:
    """Ask the kernel to SIGKILL this worker when the process (thread) that forked it ends."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the process group is the fallback
        pass


def _init_worker(parent: int, pages_fd: int, task: Callable[[Path], Any]) -> None:
    global _PAGES_FD, _TASK
    _TASK = task  # handed over by the fork itself, never pickled: any callable works
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)  # its own group: a stop kills the worker and what it started
    _set_parent_death_signal()
    # processes the reader forks in turn (e.g. the OCR page pool) die with this worker too
    os.register_at_fork(after_in_child=_set_parent_death_signal)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    _PAGES_FD = pages_fd
    with contextlib.suppress(OSError):
        os.set_blocking(pages_fd, False)
    progress.set_page_hook(_send_page)


# ---------------------------------------------------------------- the parent


class _DaemonThreads:
    """A small thread pool whose threads never hold up the exit (ThreadPoolExecutor's are joined at
    exit, so one abandoned past its time limit would keep the command alive)."""

    def __init__(self, n: int) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future, Callable[..., Any], tuple[Any, ...]] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._loop, name="nianbao-worker", daemon=True) for _ in range(n)]
        for t in self._threads:
            t.start()

    def _loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            fut, fn, args = job
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args))
            except BaseException as e:  # noqa: BLE001 - handed to the future like an executor does
                fut.set_exception(e)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        fut: Future = Future()
        self._jobs.put((fut, fn, args))
        return fut

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        if cancel_futures:
            with contextlib.suppress(queue.Empty):
                while True:
                    job = self._jobs.get_nowait()
                    if job is not None:
                        job[0].cancel()
        for _ in self._threads:
            self._jobs.put(None)
        if wait:
            for t in self._threads:
                t.join()



def _rss(proc: Any) -> int:
    try:
        return proc.memory_info().rss
    except Exception:  # gone in the meantime
        return 0


def _kill_group(pid: int, group_only: bool = False) -> None:
    """SIGKILL a worker's process group (the worker made itself its leader), else the worker."""
    kills = [lambda: os.killpg(pid, signal.SIGKILL)] + ([] if group_only else [lambda: os.kill(pid, signal.SIGKILL)])
    for kill in kills:
        try:
            kill()
            return
        except (ProcessLookupError, PermissionError):
            continue


def _size(n: int) -> str:
    return f"{n / (1 << 30):.1f} GB" if n >= 1 << 30 else f"{n / (1 << 20):.0f} MB"


class Runner:
    """Runs `task(path)` on each file and yields an Outcome per file, in completion order.

    `workers` processes (or threads with isolate=False); at most `ahead` files submitted at
    once, so memory does not grow with the batch; `stop` (an Event) ends the run between two
    results, killing the workers; `on_page(index, done, total)` gets page progress.
    """

    def __init__(self, task: Callable[[Path], Any], *, workers: int = 1, limits: Limits | None = None,
                 isolate: bool = True, stop: threading.Event | None = None,
                 on_page: Callable[[int, int, int], None] | None = None, ahead: int | None = None) -> None:
        self.task = task
        self.workers = max(1, workers)
        self.limits = limits or Limits()
        self.isolate = isolate
        self.stop = stop or threading.Event()
        self.on_page = on_page
        self.ahead = ahead or 2 * self.workers
        self.stats = RunStats()
        self._pending: dict[Future, tuple[int, Path, int]] = {}  # future → (index, path, tries)
        self._pool: Any = None
        self._pages_r = self._pages_w = -1
        self._killed: dict[int, str] = {}  # worker pid → limit that killed it
        self._started: dict[int, float] = {}  # thread mode: file index → when its task began
        self._limit: dict[int, float | None] = {}  # file index → its time limit (pages add time)
        self._running = False
        self.halted = False  # a task raised StopRun: nothing more was started
        self._stopping = threading.Event()  # thread mode: a task stopped the run, queued ones must not start

    # ---- public

    def in_flight(self) -> list[Path]:
        """Files a worker is on right now (oldest first)."""
        return [p for f, (_, p, _) in list(self._pending.items()) if f.running()]

    def run(self, files: Iterable[Path]) -> Iterator[Outcome]:
        if isinstance(files, list | tuple):  # no more workers than files
            self.workers = max(1, min(self.workers, len(files)))
        items = iter(enumerate(files))
        exhausted = False
        self._start()
        self._running = True
        if self.isolate:
            threading.Thread(target=self._watch, name="nianbao-watchdog", daemon=True).start()
        try:
            while True:
                while not exhausted and len(self._pending) < self.ahead and not self.stop.is_set():
                    nxt = next(items, None)
                    if nxt is None:
                        exhausted = True
                    else:
                        self._submit(nxt[0], nxt[1], 0)
                if not self._pending or self.stop.is_set():
                    break
                done, _ = wait(list(self._pending), timeout=0.1, return_when=FIRST_COMPLETED)
                self._drain_pages()
                for fut in done:
                    out = self._settle(fut)
                    if out is not None:
                        yield out
                        if out.stop:  # the rest would fail the same way: start nothing more
                            self.halted = exhausted = True
                if not self.isolate:
                    yield from self._thread_timeouts()
                if self.halted:
                    break
        finally:
            self._running = False
            self._shutdown()
            self._pending.clear()

    # ---- pools

    def _start(self) -> None:
        if not self.isolate:
            self._pool = _DaemonThreads(self.workers)
            return
        import multiprocessing

        from pebble import ProcessPool

        if self._pages_r < 0:
            self._pages_r, self._pages_w = os.pipe()
            os.set_blocking(self._pages_r, False)
        self._pool = ProcessPool(max_workers=self.workers, max_tasks=RECYCLE_AFTER, initializer=_init_worker,
                                 initargs=(os.getpid(), self._pages_w, self.task),
                                 context=multiprocessing.get_context("fork"))

    def _submit(self, index: int, path: Path, tries: int) -> None:
        self._limit[index] = self.limits.time_for(path)
        if self.isolate:
            fut = self._pool.schedule(_call, args=(index, path), timeout=self._limit[index])
        else:
            fut = self._pool.submit(self._timed_call, index, path)
        self._pending[fut] = (index, path, tries)

    def _timed_call(self, index: int, path: Path) -> tuple[Any, ...]:
        if self._stopping.is_set():  # queued behind the task that stopped the run: never sent
            return ("skipped",)
        self._started[index] = time.monotonic()
        result = _call(index, path, self.task)
        if result[0] == "stop":
            self._stopping.set()
        return result

    def _worker_pids(self, pool: Any = None) -> list[int]:
        try:  # pebble keeps its workers by pid; there is no public accessor
            return list((pool or self._pool)._pool_manager.worker_manager.workers)
        except AttributeError:
            return []

    def _shutdown(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if not self.isolate:
            pool.shutdown(wait=not self.stop.is_set(), cancel_futures=True)
            return
        for pid in self._worker_pids(pool):  # at once: a stuck worker ignores SIGTERM
            _kill_group(pid)
        pool.stop()
        with contextlib.suppress(Exception):
            pool.join(timeout=10)

    def _restart(self) -> None:
        """The pool broke (pebble gives up when a worker dies outside a task): a new one."""
        old = list(self._pending.values())
        self._pending.clear()
        self._shutdown()
        self.stats.replaced_workers += self.workers
        self._start()
        for index, path, tries in old:
            self._submit(index, path, tries)

    # ---- results

    def _settle(self, fut: Future) -> Outcome | None:
        index, path, tries = self._pending.pop(fut)
        self._started.pop(index, None)
        limit = self._limit.pop(index, None)
        if fut.cancelled():
            return None
        try:
            kind, *rest = fut.result()
        except BaseException as e:  # noqa: BLE001 - every way a worker can end is sorted below
            return self._failed(e, index, path, tries, limit)
        if kind == "ok":
            return Outcome(index, path, value=rest[0])
        if kind == "skipped":
            return None
        line, code = rest
        return Outcome(index, path, problem=line, exit_code=code, stop=kind == "stop", unexpected=kind == "bug",
                       limit="memory" if kind == "memory" else None)

    def _failed(self, e: BaseException, index: int, path: Path, tries: int,
                limit: float | None = None) -> Outcome | None:
        from concurrent.futures.process import BrokenProcessPool

        from pebble import ProcessExpired

        limits = self.limits
        if isinstance(e, TimeoutError):
            self.stats.replaced_workers += 1
            return Outcome(index, path, problem=self._late(limit), limit="timeout", exit_code=2)
        if isinstance(e, ProcessExpired):
            self.stats.replaced_workers += 1
            why = self._killed.pop(e.pid, None)
            if why is not None:
                return Outcome(index, path, problem=f"stopped at {why}: memory limit of "
                               f"{_size(limits.max_memory or 0)} per file (--max-memory)", limit="memory", exit_code=2)
            code = e.exitcode
            how = (f"killed by {signal.Signals(-code).name}" if code and code < 0 and -code in signal.valid_signals()
                   else f"exit code {code}")
            hint = " (out of memory?)" if code == -signal.SIGKILL else ""
            return Outcome(index, path, problem=f"its worker died ({how}){hint}", limit="crash", exit_code=2)
        if isinstance(e, BrokenProcessPool | RuntimeError | OSError) and tries < 1 and not self.stop.is_set():
            self._restart()
            self._submit(index, path, tries + 1)
            return None
        return Outcome(index, path, problem=one_line(f"worker failed: {type(e).__name__}: {e}"),
                       limit="crash", exit_code=2)

    def _late(self, limit: float | None) -> str:
        """The one line for a file stopped by its time limit."""
        limit = limit or self.limits.timeout or 0.0
        pages = " and its pages" if self.limits.timeout and limit > self.limits.timeout else ""
        return f"stopped after {limit:g} s: time limit (--timeout{pages})"

    def _thread_timeouts(self) -> Iterator[Outcome]:
        """Threads cannot be killed: a file past its time is failed and its thread abandoned."""
        if not self.limits.timeout:
            return
        now = time.monotonic()
        late_idx = {i for i, t in list(self._started.items())
                    if now - t > (self._limit.get(i) or self.limits.timeout)}
        late = [f for f, v in list(self._pending.items()) if v[0] in late_idx]
        if not late:
            return
        for fut in late:
            index, path, _ = self._pending.pop(fut)
            self._started.pop(index, None)
            yield Outcome(index, path, problem=self._late(self._limit.pop(index, None)), limit="timeout", exit_code=2)
        old = self._pool  # its busy thread is abandoned; the rest continue on a fresh pool
        self._pool = _DaemonThreads(self.workers)
        old.shutdown(wait=False, cancel_futures=False)

    def _drain_pages(self) -> None:
        if self._pages_r < 0:
            return
        try:
            data = os.read(self._pages_r, 65536)
        except (BlockingIOError, OSError):
            return
        if self.on_page is None:
            return
        for line in data.decode("ascii", "replace").splitlines():
            parts = line.split()
            if len(parts) == 3 and all(x.lstrip("-").isdigit() for x in parts):
                self.on_page(int(parts[0]), int(parts[1]), int(parts[2]))

    def _watch(self) -> None:
        """Kill (SIGKILL, whole process group) any worker whose memory passes the limit, and the
        process group of any worker that is gone (timed out, crashed, recycled): what it started
        (a reader's own pool, a converter) must not outlive it.

        What counts is the resident memory a worker added since it was forked (its RSS less what
        it inherited from the parent, copy-on-write) plus all of what its children hold: a fork of
        a big parent is not over the limit before it has done anything.
        """
        import psutil

        limit = self.limits.max_memory or 0
        me = psutil.Process()
        base: dict[int, int] = {}
        kids: dict[int, list[Any]] = {}
        tick = 0
        while self._running:
            total = 0
            parent_rss = _rss(me)
            pids = self._worker_pids()
            for pid in pids:
                try:
                    proc = psutil.Process(pid)
                    rss = proc.memory_info().rss
                    if pid not in kids or tick % 10 == 0:
                        kids[pid] = proc.children(recursive=True)
                except psutil.Error:
                    continue
                base.setdefault(pid, min(rss, parent_rss))
                extra = sum(_rss(k) for k in kids[pid])
                used = rss - base[pid] + extra
                total += used
                self.stats.peak_worker_rss = max(self.stats.peak_worker_rss, used)
                if limit and used > limit and pid not in self._killed:
                    self._killed[pid] = _size(used)
                    _kill_group(pid)
            for gone in set(base) - set(pids):
                base.pop(gone, None)
                kids.pop(gone, None)
                _kill_group(gone, group_only=True)  # what it left behind in its group (seen within 50 ms)
            self.stats.peak_total_rss = max(self.stats.peak_total_rss, total + parent_rss)
            tick += 1
            time.sleep(WATCH_INTERVAL)

    def __del__(self) -> None:
        for fd in (self._pages_r, self._pages_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)

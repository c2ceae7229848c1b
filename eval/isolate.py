"""Run one job per forked child: a crash, a hang or a runaway allocation stays in the child.

Each job gets its own process (os.fork), a CPU-time limit the kernel enforces (RLIMIT_CPU, so a busy
machine does not trip it) and optionally an address-space allowance; the parent reads the result
from a pipe and the child's own CPU time and peak memory from os.wait4, which measure that job
alone. Used by `nianbao eval stats` (a folder of unknown reports) and by the pathological-input
benchmarks. POSIX only; elsewhere jobs run in-process without limits.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import resource
import selectors
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

CAN_FORK = hasattr(os, "fork") and hasattr(os, "wait4") and sys.platform != "win32"


@dataclass
class Outcome:
    value: Any = None
    error: str | None = None  # one line: "ValueError: …", or what stopped the job
    cpu_seconds: float = 0.0  # user + system time of the job's process
    peak_mb: float = 0.0  # the job's process's peak resident memory
    over_limit: str | None = None  # "cpu", "memory" or "wall" when a limit stopped it
    wall_seconds: float = 0.0


def _one_line(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _vm_size() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _child(fn: Callable[[Any], Any], arg: Any, write_fd: int, cpu_limit: float | None,
           memory_mb: float | None) -> None:
    status = 0
    faulthandler.disable()  # a crash is reported by the parent, once, not as a C-level dump
    try:
        if cpu_limit:
            soft = max(1, int(cpu_limit + 0.999))
            resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 1))
        if memory_mb:
            allowance = _vm_size() + int(memory_mb * 1024 * 1024)
            resource.setrlimit(resource.RLIMIT_AS, (allowance, allowance))
        try:
            payload = ("ok", fn(arg))
        except MemoryError:
            payload = ("memory", "MemoryError: over the memory allowance")
        except BaseException as e:  # the job's failure is the result, not the child's end
            payload = ("error", _one_line(e))
        data = pickle.dumps(payload)
        with os.fdopen(write_fd, "wb") as out:
            out.write(data)
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _usage(ru: Any) -> tuple[float, float]:
    kb = ru.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else ru.ru_maxrss / 1024
    return ru.ru_utime + ru.ru_stime, kb


def _settle(raw: bytes, status: int, ru: Any, started: float, killed: bool, cpu_limit: float | None) -> Outcome:
    cpu, peak = _usage(ru)
    out = Outcome(cpu_seconds=cpu, peak_mb=peak, wall_seconds=time.perf_counter() - started)
    if killed:
        out.over_limit, out.error = "wall", "over the wall-clock limit"
        return out
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig in (signal.SIGXCPU, signal.SIGKILL) and cpu_limit and cpu >= cpu_limit * 0.9:
            out.over_limit, out.error = "cpu", f"over the CPU limit ({cpu_limit:g} s)"
        else:
            out.error = f"killed by signal {signal.Signals(sig).name}"
        return out
    try:
        kind, value = pickle.loads(raw)
    except Exception:
        out.error = "the job ended without a result"
        return out
    if kind == "ok":
        out.value = value
    else:
        out.error = value
        out.over_limit = "memory" if kind == "memory" else None
    return out


def map_isolated(fn: Callable[[Any], Any], args: Iterable[Any], workers: int = 1, cpu_limit: float | None = None,
                 memory_mb: float | None = None, wall_limit: float | None = None) -> Iterator[tuple[int, Outcome]]:
    """(index, Outcome) for each arg as its job ends, at most `workers` children at a time.

    `fn` must return something picklable (keep it small: a summary, not an Extraction). The wall
    limit (default ten times the CPU limit, at least 60 s) only catches jobs that hang without
    using CPU.
    """
    items = list(args)
    if not CAN_FORK:
        yield from _in_process(fn, items)
        return
    if wall_limit is None and cpu_limit:
        wall_limit = max(60.0, 10 * cpu_limit)
    sel = selectors.DefaultSelector()
    running: dict[int, tuple[int, int, bytearray, float]] = {}  # pid → (index, fd, buffer, started)
    todo = iter(enumerate(items))
    pending = True
    try:
        while pending or running:
            while pending and len(running) < max(1, workers):
                nxt = next(todo, None)
                if nxt is None:
                    pending = False
                    break
                i, arg = nxt
                r, w = os.pipe()
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:  # pragma: no cover - the child
                    os.close(r)
                    _child(fn, arg, w, cpu_limit, memory_mb)
                os.close(w)
                running[pid] = (i, r, bytearray(), time.perf_counter())
                sel.register(r, selectors.EVENT_READ, pid)
            if not running:
                break
            for key, _ in sel.select(timeout=0.5):
                pid = key.data
                chunk = os.read(key.fd, 1 << 16)
                if chunk:
                    running[pid][2].extend(chunk)
                    continue
                sel.unregister(key.fd)
                os.close(key.fd)
                i, _fd, buf, started = running.pop(pid)
                _, status, ru = os.wait4(pid, 0)
                yield i, _settle(bytes(buf), status, ru, started, False, cpu_limit)
            if wall_limit:
                now = time.perf_counter()
                for pid, (i, fd, _buf, started) in list(running.items()):
                    if now - started > wall_limit:
                        os.kill(pid, signal.SIGKILL)
                        sel.unregister(fd)
                        os.close(fd)
                        running.pop(pid)
                        _, status, ru = os.wait4(pid, 0)
                        yield i, _settle(b"", status, ru, started, True, cpu_limit)
    finally:
        for pid, (_i, fd, _buf, _s) in running.items():  # the caller stopped early: leave no child behind
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(fd)
        sel.close()


def _in_process(fn: Callable[[Any], Any], items: list[Any]) -> Iterator[tuple[int, Outcome]]:
    for i, arg in enumerate(items):
        started = time.perf_counter()
        cpu0 = time.process_time()
        try:
            out = Outcome(value=fn(arg))
        except Exception as e:
            out = Outcome(error=_one_line(e))
        out.cpu_seconds = time.process_time() - cpu0
        out.wall_seconds = time.perf_counter() - started
        yield i, out


def run_isolated(fn: Callable[[Any], Any], arg: Any, cpu_limit: float | None = None,
                 memory_mb: float | None = None, wall_limit: float | None = None) -> Outcome:
    """One job in its own process (see map_isolated)."""
    return next(map_isolated(fn, [arg], 1, cpu_limit, memory_mb, wall_limit))[1]

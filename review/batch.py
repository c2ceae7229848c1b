"""`nianbao run`: a folder of reports into the store, resumable and safe to interrupt.

Files are hashed first; a file whose content was already extracted with the same settings is
skipped. The rest go to worker processes (the rules backend uses every core) or to a small
thread pool (LLM backends, bounded so an endpoint is not flooded). Each result is committed
as it arrives, so Ctrl-C or a killed process loses only the reports still in flight.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from nianbao.review.store import RunSettings, Store, content_hash

LOCAL_BACKENDS = {"rules"}  # CPU-bound backends that get one process per core


@dataclass
class BatchResult:
    run_id: int
    done: int = 0
    skipped: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False
    rechecked: int = 0


@cache
def _backend(name: str, options: tuple[tuple[str, Any], ...]) -> Any:
    from nianbao.extract import get_backend

    return get_backend(name, **dict(options))


def work(path: str, backend: str, options: tuple[tuple[str, Any], ...] = ()) -> dict[str, Any]:
    """Read and extract one file (in a worker); never raises, an error comes back as one line."""
    from nianbao.extract import IngestError, read_document
    from nianbao.pipeline import process_document

    try:
        doc = read_document(path)
        ex = process_document(doc, _backend(backend, options))
    except IngestError as e:
        return {"ok": False, "error": e.problem}
    except Exception as e:  # one report's crash must not stop the batch
        return {"ok": False, "error": f"extraction failed: {type(e).__name__}: {e}".splitlines()[0]}
    return {"ok": True, "kind": doc.kind, "text": doc.text, "data": ex.model_dump_json()}


def describe_backend(backend: Any) -> tuple[tuple[str, Any], ...]:
    """What a backend reads with (model, prompt version, endpoint), for the run's settings.

    A backend may say so itself with `settings() -> dict`; otherwise the usual attributes are read
    from it, its `reader` or its `cfg`, whichever exist. Secrets are never looked at.
    """
    if callable(getattr(backend, "settings", None)):
        found = dict(backend.settings())
    else:
        found = {}
        holders = [backend, getattr(backend, "reader", None), getattr(backend, "cfg", None),
                   getattr(getattr(backend, "reader", None), "cfg", None)]
        for name in ("model", "prompt_version", "base_url", "mode"):
            for h in holders:
                v = getattr(h, name, None) if h is not None else None
                if isinstance(v, str | int | float) and v != "":
                    found[name] = v
                    break
    return tuple(sorted((k, v) for k, v in found.items() if "key" not in k.lower() and "token" not in k.lower()))


def _quiet_worker() -> None:
    """Workers leave Ctrl-C to the parent, which stops cleanly and keeps what is stored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class _Stop:
    """Ctrl-C or SIGTERM asks the batch to stop between two results, never inside a database write.

    A second Ctrl-C while stopping raises KeyboardInterrupt at once.
    """

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, _frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt(f"signal {signum}")
        self.requested = True

    @contextlib.contextmanager
    def installed(self) -> Iterator[_Stop]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        old = {sig: signal.signal(sig, self) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files named, and the files inside folders named (gold fixtures and dotfiles left out)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.is_file() and not q.name.startswith(".")
                              and not q.name.endswith(".gold.json")))
        else:
            out.append(p)
    return out


def _hash(path: Path) -> tuple[str, str | None]:
    try:
        return content_hash(path.read_bytes()), None
    except OSError as e:
        return content_hash(f"unreadable:{path}".encode()), f"cannot be read: {e.strerror or e}"


def run_batch(store: Store, files: list[Path], settings: RunSettings, workers: int | None = None,
              force: bool = False, on_error: Callable[[str, str], None] | None = None,
              progress: Callable[[int, str], None] | None = None) -> BatchResult:
    """Extract every file not yet done with these settings, storing each result as it arrives.

    `progress(n, label)` is told of every file settled (skipped, stored or failed). Ctrl-C or
    SIGTERM stops the batch after the result being stored; the run is closed as interrupted.
    """
    with _Stop().installed() as stop:
        res = BatchResult(store.start_run(settings))
        try:
            todo = _plan(store, files, settings, force, res, stop, on_error, progress)
            if not stop.requested:
                _extract(store, todo, settings, res, workers, stop, on_error, progress)
        finally:
            res.interrupted = res.interrupted or stop.requested
            store.finish_run(res.run_id, res.done, len(res.errors), res.skipped)
        if not res.interrupted and store_has_many(store):
            store.cross_check()
    return res


def _failed(store: Store, res: BatchResult, path: Path, doc_hash: str, problem: str,
            on_error: Callable[[str, str], None] | None) -> None:
    store.save_error(res.run_id, str(path), doc_hash, problem)
    res.errors.append((str(path), problem))
    if on_error:
        on_error(str(path), problem)


def _plan(store: Store, files: list[Path], settings: RunSettings, force: bool, res: BatchResult, stop: _Stop,
          on_error: Callable[[str, str], None] | None,
          progress: Callable[[int, str], None] | None) -> list[tuple[Path, str]]:
    """Hash every file; skip what is done (re-checking it if the rules changed); return the rest."""
    done = set() if force else store.done_hashes(settings.key)
    todo: list[tuple[Path, str]] = []
    skipped: list[str] = []
    for p in files:
        if stop.requested:
            break
        h, problem = _hash(p)
        if problem:
            _failed(store, res, p, h, problem, on_error)
        elif h in done:
            res.skipped += 1
            skipped.append(h)
        else:
            done.add(h)  # the same content twice in one batch is extracted once
            todo.append((p, h))
            continue
        if progress:
            progress(1, p.name)
    for doc_id in store.stale_rules(skipped):  # done before, but the rules have changed since
        if stop.requested:
            break
        store.recheck(doc_id)
        res.rechecked += 1
    return todo


def _extract(store: Store, todo: list[tuple[Path, str]], settings: RunSettings, res: BatchResult,
             workers: int | None, stop: _Stop, on_error: Callable[[str, str], None] | None,
             progress: Callable[[int, str], None] | None) -> None:
    from nianbao.extract import IngestError
    from nianbao.models import Extraction

    local = settings.backend in LOCAL_BACKENDS
    n = workers or ((os.cpu_count() or 1) if local else 4)
    pool: Executor = (ProcessPoolExecutor(max_workers=n, initializer=_quiet_worker) if local and n > 1
                      else ThreadPoolExecutor(max_workers=n))
    try:
        futures: dict[Future, tuple[Path, str]] = {
            pool.submit(work, str(p), settings.backend, settings.options): (p, h) for p, h in todo}
        pending = set(futures)
        while pending and not stop.requested:
            finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for fut in finished:  # results already made are stored even when a stop was asked
                p, h = futures[fut]
                try:
                    out = fut.result()
                except Exception as e:  # a worker that died (e.g. out of memory)
                    out = {"ok": False, "error": f"worker failed: {type(e).__name__}: {e}".splitlines()[0]}
                if out["ok"]:
                    try:
                        store.save_result(res.run_id, str(p), h, out["kind"], out["text"],
                                          Extraction.model_validate_json(out["data"]), settings.key)
                        res.done += 1
                    except (IngestError, ValueError) as e:
                        out = {"ok": False, "error": f"could not be stored: {e}".splitlines()[0]}
                if not out["ok"]:
                    _failed(store, res, p, h, out["error"], on_error)
                if progress:
                    progress(1, p.name)
    finally:
        stopping = stop.requested
        pool.shutdown(wait=not stopping, cancel_futures=stopping)


def store_has_many(store: Store) -> bool:
    return sum(1 for d in store.documents() if d.current_extraction_id is not None) > 1

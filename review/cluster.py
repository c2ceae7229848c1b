"""`nianbao run DIR --db postgresql://… --cluster tcp://scheduler:8786`: reports over a Dask cluster.

The machine that runs the command plans (hashes files, skips what the store has), sends each
chunk of files (their bytes: workers need no shared disk) to the cluster, and writes the results
with the same `Store.write_batch` as a local run. A report is done when its group is committed;
Dask reruns the chunks of a worker that dies, and the store's upserts (ON CONFLICT on the content
hash and on document+settings) make a chunk that ran twice land once. At most `2 × workers`
chunks are in flight, so memory stays flat.

On a worker, each chunk goes through the local runner (app/runner.py) with the same time and
memory limits as on one machine, when the worker may start processes (start workers with
DASK_DISTRIBUTED__WORKER__DAEMON=False); otherwise in the worker itself, contained only by
Dask's own per-worker memory limit (the nanny restarts a worker past it, and a chunk that kills
three workers is failed, its files named).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from functools import cache, partial
from pathlib import Path
from typing import Any

from nianbao.app.runner import Limits, Runner, display
from nianbao.review.batch import BatchResult, _failed, _plan, _write
from nianbao.review.store import RunSettings, Store, prepared

CHUNK = 16  # files per Dask task: enough to amortise a task, few enough to redo cheaply


@cache
def _worker_backend(name: str, options: tuple[tuple[str, Any], ...]) -> Any:
    from nianbao.extract import get_backend

    return get_backend(name, **dict(options))


def _extract_one(path: Path, backend: Any, meta: dict[str, tuple[str, str]]) -> dict[str, Any]:
    from nianbao.app.pipeline import process_document
    from nianbao.extract import read_document

    shown, doc_hash = meta[str(path)]
    doc = read_document(path)
    return prepared(shown, doc_hash, doc.kind, doc.text, process_document(doc, backend))


def extract_chunk(items: list[tuple[str, str, str, bytes]], backend: str, options: tuple[tuple[str, Any], ...],
                  timeout: float | None, max_memory: int | None) -> list[tuple[str, str, Any, str | None]]:
    """On a Dask worker: (shown path, hash, name, bytes) per file → (shown, hash, prepared | None, problem)."""
    be = _worker_backend(backend, options)
    out: list[tuple[str, str, Any, str | None]] = []
    with tempfile.TemporaryDirectory(prefix="nianbao-") as tmp:
        paths, meta = [], {}
        for i, (shown, doc_hash, name, data) in enumerate(items):
            p = Path(tmp) / str(i) / name
            p.parent.mkdir()
            p.write_bytes(data)
            paths.append(p)
            meta[str(p)] = (shown, doc_hash)
        task = partial(_extract_one, backend=be, meta=meta)
        can_fork = not multiprocessing.current_process().daemon
        runner = Runner(task, workers=1, limits=Limits(timeout, max_memory), isolate=can_fork)
        for res in runner.run(paths):
            shown, doc_hash = meta[str(res.path)]
            out.append((shown, doc_hash, res.value if res.ok else None, res.problem))
    return out


def run_on_cluster(store: Store, files: list[Path], settings: RunSettings, address: Any, force: bool = False,
                   on_error: Callable[[str, str], None] | None = None,
                   progress: Callable[[int, str], None] | None = None, stop: Any = None,
                   limits: Limits | None = None, chunk: int = CHUNK) -> BatchResult:
    """Like run_batch, with the extraction on a Dask cluster (`address`: scheduler URL or a Client)."""
    import threading

    from distributed import Client, as_completed

    stop = stop or threading.Event()
    limits = limits or Limits()
    client = address if isinstance(address, Client) else Client(address, timeout="30s")
    res = BatchResult(store.start_run(settings))
    try:
        todo = _plan(store, files, settings, force, res, stop, on_error, progress)
        width = max(1, 2 * sum(client.nthreads().values()))
        chunks = iter([todo[i:i + chunk] for i in range(0, len(todo), chunk)])
        pending = as_completed()
        files_of: dict[str, list[tuple[Path, str]]] = {}  # task key → its files
        inflight = 0

        def submit_next() -> bool:
            nxt = next(chunks, None)
            if nxt is None:
                return False
            items = [(display(p), h, p.name, p.read_bytes()) for p, h in nxt]
            fut = client.submit(extract_chunk, items, settings.backend, settings.options, limits.timeout,
                                limits.max_memory, pure=False, retries=0)
            files_of[fut.key] = nxt
            pending.add(fut)
            return True

        while inflight < width and submit_next():
            inflight += 1
        for fut in pending:
            inflight -= 1
            stored, failed = [], []
            mine = files_of.pop(fut.key, [])
            try:
                results = fut.result()
            except Exception as e:  # noqa: BLE001 - e.g. KilledWorker: this chunk killed its workers
                results = [(display(p), h, None, f"its worker died on the cluster ({type(e).__name__})")
                           for p, h in mine]
            for shown, doc_hash, value, problem in results:
                if value is not None:
                    stored.append(value)
                else:
                    failed.append((shown, doc_hash, problem or "failed"))
                    _failed(res, Path(shown), problem or "failed", on_error)
                if progress:
                    progress(1, Path(shown).name)
            _write(store, res, settings, stored, failed, on_error)
            store.heartbeat(res.run_id, res.done, len(res.errors), res.skipped)
            fut.release()
            if stop.is_set():
                break
            while inflight < width and submit_next():
                inflight += 1
    finally:
        res.interrupted = stop.is_set()
        store.finish_run(res.run_id, res.done, len(res.errors), res.skipped, interrupted=res.interrupted)
        if client is not address:
            with contextlib.suppress(Exception):
                client.close()
    if not res.interrupted and store.done_count() > 1:
        store.cross_check()
    return res


def wait_for_workers(client: Any, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(client.scheduler_info()["workers"]) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {n} Dask workers after {timeout:g} s")
        time.sleep(0.1)

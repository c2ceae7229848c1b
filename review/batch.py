"""`nianbao run`: a folder of reports into the store, resumable and safe to interrupt.

Files are hashed first; a file whose content was already extracted with the same settings is
skipped. The rest go through the runner (app/runner.py): worker processes with a time and
memory limit for the rules backend, threads for LLM backends (bounded, so an endpoint is not
flooded). Workers read, extract and serialise (`prepared()`); the parent only writes, in groups
of `batch_size` reports per transaction (or every `flush_seconds`), and lets each group go once
stored, so memory stays flat however many reports there are. Ctrl-C or a killed process loses
only the reports not yet in a committed group.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

from nianbao.app.runner import Limits, Runner, StopSignal, check_file, display, expand_inputs
from nianbao.review.store import RunSettings, Store, content_hash, prepared

DEFAULT_LIMITS = Limits()
BATCH_SIZE = 200  # reports per transaction
FLUSH_SECONDS = 2.0  # …or this often, so a slow batch still shows up in the store


@dataclass
class BatchResult:
    run_id: int
    done: int = 0
    skipped: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False
    stopped: str | None = None  # why the batch stopped early (StopRun), when it did
    rechecked: int = 0
    peak_rss: int = 0  # of workers and parent together, as the runner's watchdog saw it


@cache
def _backend(name: str, options: tuple[tuple[str, Any], ...]) -> Any:
    from nianbao.extract import get_backend

    return get_backend(name, **dict(options))


def work(path: Path, backend: Any, hashes: dict[str, str]) -> dict[str, Any]:
    """Read, extract and serialise one file (in a worker): a `prepared()` dict for write_batch."""
    from nianbao.app.pipeline import process_document
    from nianbao.extract import read_document

    doc = read_document(path)
    ex = process_document(doc, backend)
    return prepared(str(path), hashes[str(path)], doc.kind, doc.text, ex)


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


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files named, and the files inside folders named (the runner's rules; refused ones left out)."""
    return expand_inputs(paths).files


def _hash(path: Path) -> tuple[str, str | None]:
    problem = check_file(path)
    if problem is None:
        try:
            return content_hash(path.read_bytes()), None
        except OSError as e:
            problem = f"cannot be read ({e.strerror or e})"
    return content_hash(f"unreadable:{display(path)}".encode()), problem


def run_batch(store: Store, files: list[Path], settings: RunSettings, workers: int | None = None,
              force: bool = False, on_error: Callable[[str, str], None] | None = None,
              progress: Callable[[int, str], None] | None = None, limits: Limits = DEFAULT_LIMITS,
              on_page: Callable[[str, int, int], None] | None = None, batch_size: int = BATCH_SIZE,
              stop: Any = None) -> BatchResult:
    """Extract every file not yet done with these settings, storing results in groups as they come.

    `progress(n, label)` is told of every file settled (skipped, stored or failed), with the file
    being worked on now. Ctrl-C or SIGTERM (or `stop`, an Event) stops the batch after storing
    what is finished; the run is closed as interrupted.
    """
    signals = StopSignal()
    with (contextlib.nullcontext(stop) if stop is not None else signals.installed()) as stop_event:
        res = BatchResult(store.start_run(settings))
        try:
            todo = _plan(store, files, settings, force, res, stop_event, on_error, progress)
            if not stop_event.is_set():
                _extract(store, todo, settings, res, workers, stop_event, on_error, progress, limits, on_page,
                         batch_size)
        finally:
            res.interrupted = res.interrupted or stop_event.is_set()
            store.finish_run(res.run_id, res.done, len(res.errors), res.skipped, interrupted=res.interrupted)
        if not res.interrupted and store.done_count() > 1:
            store.cross_check()
    return res


def _failed(res: BatchResult, path: Path, problem: str, on_error: Callable[[str, str], None] | None) -> None:
    res.errors.append((display(path), problem))
    if on_error:
        on_error(display(path), problem)


def _plan(store: Store, files: list[Path], settings: RunSettings, force: bool, res: BatchResult, stop: Any,
          on_error: Callable[[str, str], None] | None,
          progress: Callable[[int, str], None] | None) -> list[tuple[Path, str]]:
    """Hash every file; skip what is done (re-checking it if the rules changed); return the rest."""
    done = set() if force else store.done_hashes(settings.key)
    todo: list[tuple[Path, str]] = []
    skipped: list[str] = []
    unreadable: list[tuple[str, str, str]] = []
    for p in files:
        if stop.is_set():
            break
        h, problem = _hash(p)
        if problem:
            unreadable.append((display(p), h, problem))
            _failed(res, p, problem, on_error)
        elif h in done:
            res.skipped += 1
            skipped.append(h)
        else:
            done.add(h)  # the same content twice in one batch is extracted once
            todo.append((p, h))
            continue
        if progress:
            progress(1, display(p.name))
    if unreadable:
        store.write_batch(res.run_id, settings.key, [], unreadable)
    for doc_id in store.stale_rules(skipped):  # done before, but the rules have changed since
        if stop.is_set():
            break
        store.recheck(doc_id)
        res.rechecked += 1
    return todo


def _extract(store: Store, todo: list[tuple[Path, str]], settings: RunSettings, res: BatchResult,
             workers: int | None, stop: Any, on_error: Callable[[str, str], None] | None,
             progress: Callable[[int, str], None] | None, limits: Limits,
             on_page: Callable[[str, int, int], None] | None, batch_size: int) -> None:
    from nianbao.app.pipeline import default_workers, isolates

    if not todo:
        return
    isolated = isolates(settings.backend)
    backend = _backend(settings.backend, settings.options)
    n = workers or default_workers(backend)
    hashes = {str(p): h for p, h in todo}
    task = partial(work, backend=backend, hashes=hashes)
    paths = [p for p, _ in todo]
    runner = Runner(task, workers=n, limits=limits, isolate=isolated, stop=stop,
                    on_page=(lambda i, d, t: on_page(display(paths[i].name), d, t)) if on_page else None)
    stored: list[dict[str, Any]] = []
    failed: list[tuple[str, str, str]] = []
    last = time.monotonic()

    def flush() -> None:
        nonlocal last
        if stored or failed:
            _write(store, res, settings, stored, failed, on_error)
            store.heartbeat(res.run_id, res.done, len(res.errors), res.skipped)
        stored.clear()
        failed.clear()
        last = time.monotonic()

    try:
        for out in runner.run(paths):
            if out.ok:
                stored.append(out.value)
            else:
                failed.append((display(out.path), hashes[str(out.path)], out.problem or "failed"))
                _failed(res, out.path, out.problem or "failed", on_error)
                if out.stop:
                    res.stopped = out.problem
            if progress:
                flight = runner.in_flight()
                progress(1, display(flight[0].name) if flight else "")
            if len(stored) + len(failed) >= batch_size or time.monotonic() - last > FLUSH_SECONDS:
                flush()
    finally:
        flush()  # what is finished is kept, even on Ctrl-C
        res.peak_rss = runner.stats.peak_total_rss


def _write(store: Store, res: BatchResult, settings: RunSettings, stored: list[dict[str, Any]],
           failed: list[tuple[str, str, str]], on_error: Callable[[str, str], None] | None) -> None:
    """One group in one transaction; if the group is refused, each report alone (naming the bad one)."""
    try:
        store.write_batch(res.run_id, settings.key, stored, failed)
        res.done += len(stored)
        return
    except Exception:  # noqa: BLE001 - find which report the database refused
        pass
    for item in stored:
        try:
            store.write_batch(res.run_id, settings.key, [item], [])
            res.done += 1
        except Exception as e:  # noqa: BLE001
            problem = f"could not be stored: {type(e).__name__}: {e}".splitlines()[0]
            res.errors.append((item["path"], problem))
            if on_error:
                on_error(item["path"], problem)
    with contextlib.suppress(Exception):
        store.write_batch(res.run_id, settings.key, [], failed)


def store_has_many(store: Store) -> bool:
    return store.done_count() > 1

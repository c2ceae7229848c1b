"""The review server's memory of what it has built: whole-store figures and rendered pages, each
kept for one revision of the store.

A revision is a value that changes whenever anything is written to the store. On SQLite it is
`PRAGMA data_version` read on a connection of the server's own that never writes: the value
changes after every commit made through any other connection, this server's pool and other
processes alike (`nianbao run` into a store being reviewed, a second review server, a correction
from the command line). Other databases have no such counter, so there the revision is this
server's own write counter plus a clock that ticks every `ttl` seconds: another process's writes
show within `ttl`. Either way the server also counts its own writes (`bump`), so a reviewer always
sees their own decision on the next page.

Everything is read after the revision, so whatever is kept under a revision is at least as new
as it: a write that lands while a page is being built makes a new revision, and the page built
from older rows is never served under it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from nianbao.review.store import Store

Rev = tuple[int, int]


class Revision:
    """The store's current revision, cheap enough to read on every request (a few microseconds)."""

    def __init__(self, store: Store, ttl: float = 2.0) -> None:
        self.ttl = ttl
        self._own = 0
        self._lock = threading.Lock()
        self._watch: sqlite3.Connection | None = None
        url = store.engine.url
        if store.dialect == "sqlite" and url.database and url.database != ":memory:":
            try:
                self._watch = sqlite3.connect(url.database, check_same_thread=False, isolation_level=None,
                                              timeout=10)
                self._watch.execute("PRAGMA query_only = 1")
                self._data_version()
            except sqlite3.Error:
                self._watch = None

    @property
    def exact(self) -> bool:
        """True when every write, by any process, changes the revision at once (SQLite)."""
        return self._watch is not None

    def _data_version(self) -> int:
        assert self._watch is not None
        return self._watch.execute("PRAGMA data_version").fetchone()[0]

    def current(self) -> Rev:
        with self._lock:
            if self._watch is not None:
                try:
                    return self._own, self._data_version()
                except sqlite3.Error:
                    pass  # a locked or vanished file: fall back to the clock rather than fail a page
            return self._own, -int(time.monotonic() // self.ttl) - 1

    def bump(self) -> None:
        """This server wrote (or is about to answer a write): nothing kept so far is current."""
        with self._lock:
            self._own += 1

    def close(self) -> None:
        with self._lock:
            if self._watch is not None:
                self._watch.close()
                self._watch = None


class Snapshot:
    """Whole-store figures (progress, queues, the review order): computed once per revision.

    Every page shows some of them and each is an aggregate over all findings.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._values: dict[str, tuple[Rev, Any]] = {}

    def get(self, name: str, compute: Callable[[Store], Any], rev: Rev) -> Any:
        """The figure for revision `rev` (read before the caller reads anything else)."""
        with self._lock:
            hit = self._values.get(name)
        if hit and hit[0] == rev:
            return hit[1]
        value = compute(self.store)
        with self._lock:
            self._values[name] = (rev, value)
        return value


class PageCache:
    """Rendered pages by key, each for the revision it was built at; least recently used dropped
    first once the pages held pass `max_bytes`. A page is kept as the bytes around its CSRF
    token, so each visitor gets the page with their own token without rendering it again."""

    def __init__(self, max_bytes: int = 128 << 20) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.rev: Rev | None = None
        self._pages: OrderedDict[Hashable, tuple[bytes, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def _turn(self, rev: Rev) -> None:
        """A new revision: every page kept is out of date."""
        if rev != self.rev:
            self._pages.clear()
            self.bytes = 0
            self.rev = rev

    def get(self, key: Hashable, rev: Rev) -> tuple[bytes, ...] | None:
        with self._lock:
            self._turn(rev)
            parts = self._pages.get(key)
            if parts is None:
                self.misses += 1
                return None
            self._pages.move_to_end(key)
            self.hits += 1
            return parts

    def put(self, key: Hashable, rev: Rev, parts: tuple[bytes, ...]) -> None:
        size = sum(map(len, parts))
        with self._lock:
            if self.rev is None:
                self.rev = rev
            if rev != self.rev or size > self.max_bytes:
                return  # built at a revision another request has already seen pass, or too big to keep
            old = self._pages.pop(key, None)
            if old is not None:
                self.bytes -= sum(map(len, old))
            self._pages[key] = parts
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, dropped = self._pages.popitem(last=False)
                self.bytes -= sum(map(len, dropped))

    def __len__(self) -> int:
        return len(self._pages)

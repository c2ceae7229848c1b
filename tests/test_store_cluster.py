"""The cluster path: 200 reports through a multi-process Dask LocalCluster into a real PostgreSQL,
one worker SIGKILLed mid-run; every report is stored exactly once, and a second run redoes nothing."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import dask
import pytest
from pg_server import pg_url, postgres  # noqa: F401 - fixtures
from sqlalchemy import text
from store_helpers import write_reports

from nianbao.review.cluster import run_on_cluster, wait_for_workers
from nianbao.review.store import RunSettings, Store

pytestmark = pytest.mark.slow  # a Dask LocalCluster and a real PostgreSQL

N = 200


@pytest.fixture
def cluster():
    from distributed import Client, LocalCluster

    # workers that may start processes, so each chunk runs under the runner's limits there too
    with dask.config.set({"distributed.worker.daemon": False}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                          memory_limit="2GiB") as lc, Client(lc) as client:
            wait_for_workers(client, 2)
            yield client


def test_a_killed_worker_redoes_its_reports_and_none_is_stored_twice(tmp_path: Path, pg_url: str,  # noqa: F811
                                                                     cluster) -> None:
    files = write_reports(tmp_path / "in", N, seed=3)
    (tmp_path / "in" / "broken.docx").write_bytes(b"PK\x03\x04word/ not really a docx")
    files.append(tmp_path / "in" / "broken.docx")
    store = Store(pg_url)
    settings = RunSettings("rules", version="t")
    killed: list[int] = []
    seen = 0

    def kill_one_worker_mid_run(n: int, _name: str) -> None:
        nonlocal seen
        seen += n
        if seen >= 40 and not killed:
            pids = cluster.run(os.getpid)  # worker address → pid
            busy = [a for a, keys in cluster.processing().items() if keys] or list(pids)
            killed.append(pids[busy[0]])
            os.kill(pids[busy[0]], signal.SIGKILL)

    errors: list[tuple[str, str]] = []
    res = run_on_cluster(store, files, settings, cluster, progress=kill_one_worker_mid_run, chunk=8,
                         on_error=lambda p, e: errors.append((p, e)))
    assert killed, "no worker was killed: the test did not test anything"
    assert (res.done, len(res.errors), res.interrupted) == (N, 1, False)
    assert errors and errors[0][0].endswith("broken.docx") and "Word" in errors[0][1]
    with store.engine.connect() as c:
        assert c.execute(text("SELECT COUNT(*), COUNT(DISTINCT content_hash) FROM documents")).one() == (N + 1, N + 1)
        assert c.execute(text("SELECT COUNT(*) FROM extractions")).scalar() == N
        assert c.execute(text("SELECT COUNT(*) FROM documents WHERE current_extraction_id IS NULL "
                              "AND error IS NULL")).scalar() == 0
        assert c.execute(text("SELECT COUNT(*) = COUNT(DISTINCT id) FROM findings")).scalar()
        assert c.execute(text("SELECT status, documents, errors FROM runs")).one() == ("finished", N, 1)
    cells = {c["key"]: c["value"] for c in store.cells(1)}
    assert cells  # what review reads comes back from the stored JSON
    again = run_on_cluster(store, files, settings, cluster)
    assert (again.done, again.skipped) == (0, N)  # resumable: nothing redone


def test_the_command_line_sends_a_run_to_a_scheduler(tmp_path: Path, pg_url: str, cluster) -> None:  # noqa: F811
    import subprocess
    import sys

    write_reports(tmp_path / "in", 5, seed=4)
    args = [sys.executable, "-m", "nianbao.app.cli", "run", str(tmp_path / "in"), "--db", pg_url,
            "--cluster", cluster.scheduler.address]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "stored 5, skipped 0 already done, 0 failed" in r.stderr
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "stored 0, skipped 5 already done" in r.stderr, r.stderr[-2000:]

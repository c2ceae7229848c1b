#!/usr/bin/env python3
"""Many concurrent GETs against a real review server on loopback: status codes and latency.

    python scripts/bench_review_load.py --db out/synth.db --n 1000

Starts `nianbao review` on a free 127.0.0.1 port in its own process, opens N connections at
once, each asking for one page (60% report pages, 30% list pages, 10% the queue), and reports the
status codes (also per kind of page), latency percentiles and the load average around the run.
The first burst meets a server that has just started (nothing built yet): that is the figure.
`--rounds 2` sends the same burst again to the same server, to show what is kept. Bounded: every
request has a timeout and the server is stopped at the end. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def fire(host: str, port: int, urls: list[str], timeout: float) -> list[tuple[str, int, float]]:
    """Every URL on its own connection, all opened at once; plain HTTP/1.1 over asyncio streams so
    the client's own overhead stays small next to the server's."""
    gate = asyncio.Event()

    async def one(url: str) -> tuple[str, int, float]:
        await gate.wait()
        t = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(f"GET {url} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
                await writer.drain()
                data = await reader.read()
                writer.close()
            code = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else -1
        except TimeoutError:
            code = 0  # client gave up
        except OSError:
            code = -1
        return url, code, time.perf_counter() - t

    tasks = [asyncio.create_task(one(u)) for u in urls]
    await asyncio.sleep(0.2)
    gate.set()
    return await asyncio.gather(*tasks)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=1, help="bursts against the same server (the first decides)")
    args = ap.parse_args(argv)
    if not Path(args.db).is_file():
        print(f"error {args.db}: no such store", file=sys.stderr)
        return 2
    import sqlite3

    with sqlite3.connect(args.db) as c:
        ids = [r[0] for r in c.execute("SELECT id FROM documents")]
    rng = random.Random(args.seed)
    pages = max(1, len(ids) // 50)
    urls = []
    for i in range(args.n):
        kind = i % 10
        if kind < 6:
            urls.append(f"/report/{rng.choice(ids)}")
        elif kind < 9:
            urls.append(f"/?page={rng.randint(1, pages)}")
        else:
            urls.append("/queue")
    rng.shuffle(urls)
    port = free_port()
    exe = Path(sys.executable).with_name("nianbao")
    server = subprocess.Popen([str(exe), "review", "--db", args.db, "--port", str(port), "--user", "bench"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/static/review.css", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                print("error: the review server did not start", file=sys.stderr)
                return 1
            time.sleep(0.2)
        rounds = []
        for _ in range(max(1, args.rounds)):
            load0 = os.getloadavg()[0]
            cpu0 = _cpu(server.pid)
            t0 = time.perf_counter()
            results = asyncio.run(fire("127.0.0.1", port, urls, args.timeout))
            rounds.append((results, time.perf_counter() - t0, _cpu(server.pid) - cpu0, load0, os.getloadavg()[0]))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)

    def pct(xs: list[float], p: float) -> float:
        return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")

    print(f"{args.n} concurrent GETs on {len(ids)} reports ({os.cpu_count()} cores, machine shared)")
    for i, (results, wall, cpu, load0, load1) in enumerate(rounds, 1):
        codes = Counter(code for _, code, _ in results)
        lat = sorted(t for _, _, t in results)
        ok = sorted(t for _, code, t in results if code == 200)
        if len(rounds) > 1:
            print(f"round {i}{' (the same burst again, same server)' if i > 1 else ''}:")
        print("status: " + ", ".join(f"{c}×{n}" for c, n in sorted(codes.items()))
              + "  (0 = client timeout, -1 = refused)")
        by_kind = Counter((_kind(url), code) for url, code, _ in results)
        print("by page: " + "; ".join(f"{k} " + ", ".join(f"{c}×{n}" for (kk, c), n in sorted(by_kind.items()) if kk == k)
                                      for k in ("report", "list", "queue")))
        print(f"latency all: p50 {pct(lat, .5):.2f}s  p95 {pct(lat, .95):.2f}s  max {lat[-1]:.2f}s")
        if ok:
            print(f"latency 200: p50 {pct(ok, .5):.2f}s  p95 {pct(ok, .95):.2f}s  mean {statistics.mean(ok):.2f}s")
        print(f"wall {wall:.1f}s, server CPU {cpu:.1f}s (build processes included), "
              f"load average {load0:.2f} → {load1:.2f}")
    results = rounds[0][0]
    codes = Counter(code for _, code, _ in results)
    lat = sorted(t for _, _, t in results)
    return 0 if codes.get(500, 0) == 0 and pct(lat, .95) < 2.0 else 1


def _kind(url: str) -> str:
    return "report" if url.startswith("/report/") else "queue" if url.startswith("/queue") else "list"


def _cpu(pid: int) -> float:
    """CPU seconds of the server and the processes it builds pages in."""
    import psutil

    try:
        procs = [psutil.Process(pid)]
        procs += procs[0].children(recursive=True)
    except psutil.Error:
        return float("nan")
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


if __name__ == "__main__":
    sys.exit(main())

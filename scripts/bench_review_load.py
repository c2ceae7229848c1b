#!/usr/bin/env python3
"""Many concurrent GETs against a real review server on loopback: status codes and latency.

    python scripts/bench_review_load.py --db out/synth.db --n 1000

Starts `nianbao review` on a free 127.0.0.1 port in its own process, opens N connections at
once, each asking for one page (report list pages, report pages, the queue), and reports the
status codes and latency percentiles. Bounded: every request has a timeout and the server is
stopped at the end. Traffic goes to 127.0.0.1 only.
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
        cpu0 = _cpu(server.pid)
        t0 = time.perf_counter()
        results = asyncio.run(fire("127.0.0.1", port, urls, args.timeout))
        wall = time.perf_counter() - t0
        cpu = _cpu(server.pid) - cpu0
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    codes = Counter(code for _, code, _ in results)
    lat = sorted(t for _, _, t in results)
    ok = sorted(t for _, code, t in results if code == 200)

    def pct(xs: list[float], p: float) -> float:
        return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")

    print(f"{args.n} concurrent GETs on {len(ids)} reports ({os.cpu_count()} cores, machine shared)")
    print("status: " + ", ".join(f"{c}×{n}" for c, n in sorted(codes.items())) + "  (0 = client timeout, -1 = refused)")
    print(f"latency all: p50 {pct(lat, .5):.2f}s  p95 {pct(lat, .95):.2f}s  max {lat[-1]:.2f}s")
    if ok:
        print(f"latency 200: p50 {pct(ok, .5):.2f}s  p95 {pct(ok, .95):.2f}s  mean {statistics.mean(ok):.2f}s")
    print(f"wall {wall:.1f}s, server CPU {cpu:.1f}s")
    return 0 if codes.get(500, 0) == 0 and pct(lat, .95) < 2.0 else 1


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


if __name__ == "__main__":
    sys.exit(main())

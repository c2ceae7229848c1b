"""Jobs in their own process: results, errors, crashes, CPU, memory and wall limits (eval/isolate.py)."""

from __future__ import annotations

import os
import time

import pytest

from nianbao.eval.isolate import map_isolated, run_isolated


def _double(n):
    return n * 2


def _raise(_):
    raise ValueError("bad file\nsecond line")


def _spin(_):
    while True:
        pass


def _sleep(_):
    time.sleep(30)


def _hog(_):
    keep = []
    while True:
        keep.append(bytearray(10 ** 7))


def _abort(_):
    os.abort()


def test_result_and_cost():
    out = run_isolated(_double, 21)
    assert out.value == 42 and out.error is None and out.over_limit is None
    assert out.cpu_seconds >= 0 and out.peak_mb > 0


def test_errors_are_one_line():
    out = run_isolated(_raise, None)
    assert out.error == "ValueError: bad file" and out.value is None


def test_crash_is_contained():
    out = run_isolated(_abort, None)
    assert out.error and "SIGABRT" in out.error


@pytest.mark.slow
def test_cpu_limit():
    out = run_isolated(_spin, None, cpu_limit=1)
    assert out.over_limit == "cpu" and 0.8 <= out.cpu_seconds < 3


@pytest.mark.slow
def test_wall_limit_catches_a_hang():
    out = run_isolated(_sleep, None, wall_limit=1)
    assert out.over_limit == "wall" and out.wall_seconds < 10


def test_memory_allowance():
    out = run_isolated(_hog, None, memory_mb=150)
    assert out.over_limit == "memory" and out.peak_mb < 600


def test_many_jobs_all_come_back():
    got = dict((i, o.value) for i, o in map_isolated(_double, range(7), workers=3))
    assert got == {i: 2 * i for i in range(7)}

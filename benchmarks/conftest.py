"""Shared settings of the pytest-benchmark suites (``pytest benchmarks/``).

Every library gets the same thread count (all cores, or PYFASTDL_BENCH_THREADS), each benchmark is
followed by a short sleep (OpenMP and OpenBLAS worker threads spin after their work and would
steal the cores from the next benchmark), and the saved machine info names pyfastdl's CPU path.
For paired, interleaved comparisons against NumPy and PyTorch use ``python -m pyfastdl bench``.
"""

from __future__ import annotations

import os
import time

import pytest

from pyfastdl.bench import limits
from pyfastdl.bench.threads import cpu_count, set_all_threads

PAUSE_S = 0.2


def bench_threads() -> int:
    value = os.environ.get("PYFASTDL_BENCH_THREADS")
    return int(value) if value else cpu_count()


@pytest.fixture(scope="session", autouse=True)
def same_threads_for_all() -> dict:
    """One thread count for pyfastdl, NumPy's BLAS and PyTorch, for the whole session."""
    return set_all_threads(bench_threads())


@pytest.fixture(autouse=True)
def pause_after_benchmark():
    yield
    time.sleep(PAUSE_S)


def pytest_benchmark_update_machine_info(config, machine_info: dict) -> None:
    info = limits.machine_info()
    machine_info["pyfastdl"] = {
        "cpu": info["cpu"],
        "cpu_capability": info["cpu_capability"],
        "versions": info["versions"],
        "threads": bench_threads(),
    }

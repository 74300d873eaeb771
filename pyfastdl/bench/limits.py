"""The machine: its measured physical limits and a description for the report header.

Limits are measured, not looked up: the fp32 FMA peak with a register-only loop of independent
fused multiply-adds (no memory traffic), and memory bandwidth with a STREAM-style triad
``a = b + s * c`` over arrays far larger than the caches (bytes read plus written).

Example:
    >>> from pyfastdl.bench.limits import measure_limits
    >>> limits = measure_limits(threads=1, seconds=0.01, elements=1 << 16)
    >>> limits["fma_gflops_1"] > 0
    True
"""

from __future__ import annotations

import datetime
import platform
from collections.abc import Callable
from typing import Any

import numpy as np

import pyfastdl

from .._native import _C
from .threads import cpu_count, torch_module


def measure_limits(
    threads: int, seconds: float, elements: int, on_step: Callable[[], None] | None = None
) -> dict[str, Any]:
    """FMA peak (GFLOP/s) and triad bandwidth (GB/s) on one thread and on `threads` threads."""
    out: dict[str, Any] = {"threads": threads, "triad_elements": elements}
    for key, t in (("1", 1), ("n", threads)):
        out[f"fma_gflops_{key}"] = _C.measure_fma_peak_gflops(t, seconds)
        if on_step is not None:
            on_step()
    for key, t in (("1", 1), ("n", threads)):
        out[f"triad_gbs_{key}"] = _C.measure_triad_bandwidth_gbs(t, elements, seconds)
        if on_step is not None:
            on_step()
    # n threads cannot have less FMA throughput than one: a lower figure caught a busy core.
    out["fma_gflops_n_raw"] = out["fma_gflops_n"]
    out["fma_gflops_n"] = max(out["fma_gflops_n"], out["fma_gflops_1"])
    return out


def remeasure_peak(limits: dict[str, Any], seconds: float) -> None:
    """Measures the all-thread FMA peak again (at the end of a run) and keeps the higher figure.

    On a shared machine one measurement may catch another process on a core; a peak that low
    would show kernels above 100% of it.
    """
    start = limits.get("fma_gflops_n_start", limits["fma_gflops_n"])
    end = _C.measure_fma_peak_gflops(limits["threads"], seconds)
    limits.update(fma_gflops_n_start=start, fma_gflops_n_end=end, fma_gflops_n=max(start, end))


def cpu_model() -> str:
    """The processor's name from /proc/cpuinfo (or what the platform module knows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _version(module_name: str) -> str | None:
    try:
        module = __import__(module_name)
    except ImportError:
        return None
    return getattr(module, "__version__", "unknown")


def machine_info() -> dict[str, Any]:
    """Date, CPU, core count, pyfastdl's CPU path and the versions of the libraries compared."""
    torch = torch_module()
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": cpu_count(),
        "cpu_capability": _C.cpu_capability(),
        "python": platform.python_version(),
        "versions": {
            "pyfastdl": pyfastdl.__version__,
            "numpy": np.__version__,
            "torch": None if torch is None else torch.__version__,
        },
    }

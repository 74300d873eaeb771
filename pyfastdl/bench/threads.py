"""One thread count for every library in the comparison: pyfastdl, NumPy's BLAS, PyTorch and,
when the compiled peers run, JAX.

NumPy has no API for its BLAS thread count, and its environment variables are read when NumPy is
imported (already done by ``import pyfastdl``), so the count is set through the BLAS library's own
C function, found among the shared libraries loaded in this process (``/proc/self/maps``).

``torch.compile``'s generated CPU code runs on PyTorch's OpenMP threads (``torch.set_num_threads``).
JAX is imported lazily (:func:`jax_module`, only when its peer runs) and its thread count can be
chosen only once, when its CPU client starts: see there.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from typing import Any

from .._native import _C

# (setter, getter) symbol pairs of the OpenBLAS builds NumPy ships or links against.
_OPENBLAS_SYMBOLS = (
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
)


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _loaded_blas_libraries() -> list[str]:
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "/" in line}
    except OSError:
        return []
    return sorted(p for p in paths if "blas" in os.path.basename(p).lower())


def _openblas_functions() -> list[tuple[Any, Any]]:
    found = []
    for path in _loaded_blas_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for setter, getter in _OPENBLAS_SYMBOLS:
            if hasattr(lib, setter) and hasattr(lib, getter):
                set_fn, get_fn = getattr(lib, setter), getattr(lib, getter)
                set_fn.argtypes, set_fn.restype = [ctypes.c_int], None
                get_fn.argtypes, get_fn.restype = [], ctypes.c_int
                found.append((set_fn, get_fn))
                break
    return found


def numpy_threads() -> int | None:
    """NumPy's BLAS thread count, or None where it cannot be read."""
    fns = _openblas_functions()
    return fns[0][1]() if fns else None


def set_numpy_threads(n: int) -> bool:
    """Sets NumPy's BLAS thread count; False where the BLAS offers no way to."""
    fns = _openblas_functions()
    for set_fn, _ in fns:
        set_fn(n)
    return bool(fns)


def torch_module() -> Any:
    """PyTorch, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch


# The count set_all_threads last gave every library (None: not called; JAX then takes all cores),
# and the size of XLA's CPU thread pool once JAX's client has started in this process.
_requested_threads: int | None = None
_jax_started: dict[str, Any] = {}


def _jax_flag_threads(flags: str) -> str:
    """XLA_FLAGS with --xla_cpu_multi_thread_eigen=false added (one thread for Eigen's kernels)."""
    if "xla_cpu_multi_thread_eigen" in flags:
        return flags
    return f"{flags} --xla_cpu_multi_thread_eigen=false".strip()


def jax_module() -> Any:
    """JAX with its CPU client started, or None when JAX is not installed or does not start.

    XLA sizes its CPU thread pool by the cores this process may run on when the client starts,
    and nothing changes it later: jaxlib 0.10 has no thread-count flag, and
    ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`` (set here anyway when one thread is asked
    for) no longer keeps its dot and convolution runtime on one thread (checked: 2 cores busy
    with it). So the first call starts the client while the calling thread is confined to N of
    its cores (N: the count :func:`set_all_threads` last set; all cores before any call), then
    lets the threads the start created run on every core again: a pool of N threads, scheduled
    like the other libraries' worker threads. JAX runs on the CPU here (``jax_platforms``), as
    the other contenders do. A JAX that something else imported first keeps its own pool;
    :func:`jax_threads` says what is in effect (None where it is unknown).
    """
    if "module" in _jax_started:
        return _jax_started["module"]
    if "jax" in sys.modules:  # started elsewhere: its pool size is not ours to choose
        _jax_started.update(module=sys.modules["jax"], threads=None)
        return sys.modules["jax"]
    try:
        if importlib.util.find_spec("jax") is None:
            _jax_started.update(module=None, threads=None)
            return None
    except (ImportError, ValueError):
        _jax_started.update(module=None, threads=None)
        return None
    if _requested_threads == 1:
        os.environ["XLA_FLAGS"] = _jax_flag_threads(os.environ.get("XLA_FLAGS", ""))
    n = min(_requested_threads or cpu_count(), cpu_count())  # XLA's pool: a thread per core
    confine = (
        hasattr(os, "sched_setaffinity") and os.path.isdir("/proc/self/task") and n < cpu_count()
    )
    if confine:
        full = os.sched_getaffinity(0)
        before = set(os.listdir("/proc/self/task"))
        os.sched_setaffinity(0, sorted(full)[:n])
    try:
        import jax

        jax.config.update("jax_platforms", "cpu")
        jax.devices()  # starts the CPU client and its thread pool
    except Exception:  # noqa: BLE001 - a JAX that fails to start is an absent peer
        jax = None
    finally:
        if confine:
            os.sched_setaffinity(0, full)
            for tid in set(os.listdir("/proc/self/task")) - before:
                try:
                    os.sched_setaffinity(int(tid), full)
                except OSError:  # a thread that already ended
                    pass
    # without sched_setaffinity (not Linux) the pool has a thread per core, whatever was asked
    sized = jax is not None and (confine or n == cpu_count())
    _jax_started.update(module=jax, threads=n if sized else None)
    return jax


def jax_threads() -> int | None:
    """The size of JAX's CPU thread pool where :func:`jax_module` started it, else None."""
    return _jax_started.get("threads")


def set_all_threads(n: int) -> dict[str, int | None]:
    """Gives pyfastdl, NumPy and PyTorch `n` threads each; returns the counts now in effect (and
    JAX's, once :func:`jax_module` has started it: it cannot change afterwards)."""
    global _requested_threads
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"[bench] threads must be a positive int, got {n!r}")
    _requested_threads = n
    _C.set_num_threads(n)
    set_numpy_threads(n)
    torch = torch_module()
    if torch is not None:
        torch.set_num_threads(n)
    counts = {
        "pyfastdl": _C.get_num_threads(),
        "numpy": numpy_threads(),
        "torch": None if torch is None else torch.get_num_threads(),
    }
    if _jax_started.get("module") is not None:
        counts["jax"] = jax_threads()
    return counts

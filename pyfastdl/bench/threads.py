"""One thread count for every library in the comparison: pyfastdl, NumPy's BLAS and PyTorch.

NumPy has no API for its BLAS thread count, and its environment variables are read when NumPy is
imported (already done by ``import pyfastdl``), so the count is set through the BLAS library's own
C function, found among the shared libraries loaded in this process (``/proc/self/maps``).
"""

from __future__ import annotations

import ctypes
import os
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


def set_all_threads(n: int) -> dict[str, int | None]:
    """Gives pyfastdl, NumPy and PyTorch `n` threads each; returns the counts now in effect."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"[bench] threads must be a positive int, got {n!r}")
    _C.set_num_threads(n)
    set_numpy_threads(n)
    torch = torch_module()
    if torch is not None:
        torch.set_num_threads(n)
    return {
        "pyfastdl": _C.get_num_threads(),
        "numpy": numpy_threads(),
        "torch": None if torch is None else torch.get_num_threads(),
    }

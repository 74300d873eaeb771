"""The array backends under every layer: NumPy arrays on the CPU, CuPy arrays on a GPU.

Kernels, autograd Functions and ops all receive raw arrays and ask here which module computes on
them (``xp``), which device they live on (``device_of``, the registry's device name) and how to
allocate an output beside them (``empty``). CuPy is imported only when a GPU array reaches one of
these functions, so a CPU-only install never needs it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["device_of", "empty", "xp"]


def xp(a: Any) -> Any:
    """The array module (numpy, or cupy for GPU arrays) of array `a`."""
    if type(a) is np.ndarray or isinstance(a, (np.ndarray, np.generic)):
        return np
    import cupy  # lazy: an optional dependency, only reachable with GPU arrays

    return cupy


def device_of(a: Any) -> str:
    """'cpu' for NumPy arrays, 'cuda' for GPU arrays (the registry's device names)."""
    return "cpu" if type(a) is np.ndarray or isinstance(a, (np.ndarray, np.generic)) else "cuda"


def empty(shape: tuple, dtype: Any, like: Any) -> Any:
    """An uninitialised array of `shape` and `dtype` on the device of `like`."""
    if type(like) is np.ndarray:
        return np.empty(shape, dtype)
    return xp(like).empty(shape, dtype)

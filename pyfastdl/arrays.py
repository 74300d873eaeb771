"""The array backends under every layer: NumPy arrays on the CPU, CuPy arrays on a GPU.

Kernels, autograd Functions and ops all receive raw arrays and ask here which module computes on
them (``xp``), which device they live on (``device_of``, the registry's device name) and how to
allocate an output beside them (``empty``). CuPy is imported only when a GPU array reaches one of
these functions, or when data is moved to the GPU (``to_gpu``, the one way there: it turns a
missing CuPy or a machine without a GPU into ``RuntimeError("[op] CUDA is not available: ...")``),
so a CPU-only install never needs it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "add_at",
    "cupy_module",
    "device_error",
    "device_of",
    "empty",
    "is_gpu",
    "to_gpu",
    "to_host",
    "xp",
]


_ndarray = np.ndarray


def is_gpu(a: Any) -> bool:
    """True for a CuPy array (any type from a ``cupy`` module)."""
    return type(a) is not _ndarray and type(a).__module__.startswith("cupy")


def xp(a: Any) -> Any:
    """The array module of `a`: cupy for GPU arrays, numpy for anything else (NumPy arrays and
    scalars, Python numbers)."""
    if type(a) is _ndarray or not type(a).__module__.startswith("cupy"):
        return np
    import cupy  # lazy: an optional dependency, only reachable with GPU arrays

    return cupy


def device_of(a: Any) -> str:
    """'cpu' for NumPy arrays (and host values), 'cuda' for GPU arrays (the registry's names)."""
    if type(a) is np.ndarray or not type(a).__module__.startswith("cupy"):
        return "cpu"
    return "cuda"


def empty(shape: tuple, dtype: Any, like: Any) -> Any:
    """An uninitialised array of `shape` and `dtype` on the device of `like`."""
    if type(like) is np.ndarray:
        return np.empty(shape, dtype)
    return xp(like).empty(shape, dtype)


def device_error(op: str, *devices: str) -> RuntimeError:
    """The error of an op given tensors on different devices (PyTorch raises too)."""
    names = " and ".join(sorted(set(devices)))
    return RuntimeError(f"[{op}] expected all tensors on the same device, got {names}")


# (the cupy module, its device count) once a move to the GPU has succeeded with it
_checked: list = [None, 0]


def cupy_module(op: str) -> Any:
    """The cupy module, or RuntimeError ``[op] CUDA is not available: ...`` saying why not."""
    try:
        import cupy  # the optional GPU dependency
    except ImportError as e:
        raise RuntimeError(
            f"[{op}] CUDA is not available: CuPy is not installed ({e}); install it with "
            'pip install "pyfastdl[cuda]"'
        ) from None
    if _checked[0] is not cupy:
        try:
            count = int(cupy.cuda.runtime.getDeviceCount())
        except Exception as e:  # CUDARuntimeError: no device, no driver, driver too old
            raise RuntimeError(
                f"[{op}] CUDA is not available: {type(e).__name__}: {e}".rstrip()
            ) from None
        if count < 1:
            raise RuntimeError(f"[{op}] CUDA is not available: CuPy found no CUDA device")
        _checked[0], _checked[1] = cupy, count
    return cupy


def to_gpu(a: Any, op: str = "to", index: int | None = None) -> Any:
    """Host data `a` (a NumPy array or anything ``cupy.asarray`` takes) as a GPU array, on
    device `index` when given; a GPU array stays as it is. Every move to the GPU goes through
    here, so that a missing CuPy or GPU gives one clear error."""
    if is_gpu(a) and index is None:
        return a
    cupy = cupy_module(op)
    if index is None:
        return cupy.asarray(a)
    if not 0 <= index < _checked[1]:
        raise RuntimeError(
            f"[{op}] CUDA device cuda:{index} is not available: this machine has "
            f"{_checked[1]} CUDA device(s) (cuda:0..cuda:{_checked[1] - 1})"
        )
    with cupy.cuda.Device(index):
        return cupy.asarray(a)


def to_host(a: Any) -> np.ndarray:
    """`a` as a NumPy array: itself on the CPU, a copy in host memory from the GPU."""
    return a if type(a) is np.ndarray or not is_gpu(a) else a.get()


def add_at(out: Any, index: Any, values: Any) -> None:
    """``out[index] += values`` where repeated indices each add (NumPy's ``add.at``), on the
    device of `out` (``cupyx.scatter_add`` on the GPU)."""
    if type(out) is np.ndarray or not is_gpu(out):
        np.add.at(out, index, values)
        return
    import cupyx  # GPU arrays only

    cupyx.scatter_add(out, index, values)

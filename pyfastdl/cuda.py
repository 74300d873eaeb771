"""GPU support, with ``torch.cuda``'s names: ``is_available()``, ``device_count()``,
``synchronize()``, ``manual_seed()``, memory queries.

The CUDA module (pyfastdl._cuda) is built when a CUDA compiler is found at install time; GPU
arrays are CuPy arrays (``pip install "pyfastdl[cuda]"``). Without either, every query answers
"no GPU" instead of raising, and the calls that need a device raise RuntimeError naming
themselves.

``pyfastdl.cuda.amp`` (``autocast``, ``GradScaler``, as ``torch.cuda.amp``) is registered by
``pyfastdl.amp``, which sits above this module.

Example:
    >>> import pyfastdl as fd
    >>> device = "cuda" if fd.cuda.is_available() else "cpu"
    >>> fd.zeros(2, device=device).device.type == device
    True
"""

from __future__ import annotations

from typing import Any

from . import random as _random
from ._native import cuda_module

__all__ = [
    "current_device",
    "device_count",
    "empty_cache",
    "get_device_capability",
    "get_device_name",
    "get_device_properties",
    "is_available",
    "manual_seed",
    "manual_seed_all",
    "max_memory_allocated",
    "memory_allocated",
    "reset_peak_memory_stats",
    "set_device",
    "synchronize",
]


def device_count() -> int:
    """Number of usable CUDA devices (0 without the CUDA module, a driver or a device)."""
    mod = cuda_module()
    return 0 if mod is None else mod.device_count()


def is_available() -> bool:
    """True when the CUDA module is built, a device is present and CuPy can be imported."""
    if device_count() == 0:
        return False
    try:
        import cupy  # noqa: F401
    except ImportError:
        return False
    return True


def _cupy(op: str) -> Any:
    if not is_available():
        raise RuntimeError(
            f"[cuda.{op}] no CUDA device is available (pyfastdl.cuda.is_available() is False: "
            "it needs a GPU, the CUDA module built with nvcc and CuPy)"
        )
    import cupy

    return cupy


def _index(device: Any) -> int:
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    index = getattr(device, "index", None)
    if index is None and isinstance(device, str) and ":" in device:
        index = int(device.split(":", 1)[1])
    return 0 if index is None else int(index)


def get_device_properties(device: Any = None) -> dict:
    """Name, compute capability (major, minor), total memory and SM count of a device."""
    mod = cuda_module()
    if mod is None or mod.device_count() == 0:
        raise RuntimeError("[cuda.get_device_properties] no CUDA device is available")
    return mod.device_properties(_index(device) if device is not None else 0)


def get_device_name(device: Any = None) -> str:
    """The device's marketing name ("NVIDIA H100 80GB HBM3")."""
    mod = cuda_module()
    if mod is None or mod.device_count() == 0:
        raise RuntimeError("[cuda.get_device_name] no CUDA device is available")
    return get_device_properties(device)["name"]


def get_device_capability(device: Any = None) -> tuple[int, int]:
    """(major, minor) compute capability: (9, 0) on H100/H200."""
    p = get_device_properties(device)
    return p["major"], p["minor"]


def current_device() -> int:
    """The index of the current device (CuPy's)."""
    return int(_cupy("current_device").cuda.Device().id)


def set_device(device: Any) -> None:
    """Makes `device` (an index, 'cuda:N' or a device) the current one."""
    _cupy("set_device").cuda.Device(_index(device)).use()


def synchronize(device: Any = None) -> None:
    """Waits for every kernel queued on the device to finish (kernels never wait themselves)."""
    _cupy("synchronize").cuda.Device(_index(device)).synchronize()


def manual_seed(seed: int) -> None:
    """Seeds the generator GPU tensors draw from: pyfastdl draws random numbers with its own
    generator (``pyfastdl.manual_seed``), whatever the device, so results agree across devices."""
    _random.manual_seed(seed)


manual_seed_all = manual_seed


def memory_allocated(device: Any = None) -> int:
    """Bytes held by GPU arrays now (CuPy's memory pool); 0 without a GPU."""
    return (
        int(_cupy("memory_allocated").get_default_memory_pool().used_bytes())
        if (is_available())
        else 0
    )


def max_memory_allocated(device: Any = None) -> int:
    """Bytes the memory pool holds from the device (an upper bound of the peak); 0 without one."""
    return (
        int(_cupy("max_memory_allocated").get_default_memory_pool().total_bytes())
        if (is_available())
        else 0
    )


def reset_peak_memory_stats(device: Any = None) -> None:
    """Accepted for PyTorch programs (the pool keeps no separate peak)."""


def empty_cache() -> None:
    """Returns the memory pool's free blocks to the device (no-op without a GPU)."""
    if is_available():
        import cupy

        cupy.get_default_memory_pool().free_all_blocks()

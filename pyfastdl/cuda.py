"""GPU support: ``pyfastdl.cuda.is_available()``, ``device_count()``.

The CUDA module (pyfastdl._cuda) is built when a CUDA compiler is found at install time; GPU
arrays are CuPy arrays. Without either, every query answers "no GPU" instead of raising.

``pyfastdl.cuda.amp`` (``autocast``, ``GradScaler``, as ``torch.cuda.amp``) is registered by
``pyfastdl.amp``, which sits above this module.
"""

from __future__ import annotations

from ._native import cuda_module

__all__ = ["is_available", "device_count", "get_device_name"]


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


def get_device_name(index: int = 0) -> str:
    mod = cuda_module()
    if mod is None or mod.device_count() == 0:
        raise RuntimeError("[cuda.get_device_name] no CUDA device is available")
    return mod.device_properties(index)["name"]

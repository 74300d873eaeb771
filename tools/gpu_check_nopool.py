"""A pytest plugin for the sanitizer stages of tools/gpu_check.sh (``-p gpu_check_nopool``, with
tools/ on PYTHONPATH): CuPy allocates every array with its own cudaMalloc instead of carving it
out of its memory pool, so that compute-sanitizer's memcheck knows each array's own bounds. In a
pool, an access past an array's end lands in the pool's next block and goes unnoticed.
(PyTorch's caching allocator is switched off by the script: PYTORCH_NO_CUDA_MEMORY_CACHING=1.)
Without CuPy it does nothing."""

from __future__ import annotations

from typing import Any


def pytest_configure(config: Any) -> None:
    try:
        import cupy
    except ImportError:
        return
    cupy.cuda.set_allocator(None)
    cupy.cuda.set_pinned_memory_allocator(None)

"""The array buffer cache: large NumPy buffers freed by one training step are reused by the next.

A training step allocates the same temporaries every step: activations, gradients, the
optimizer's scratch, many of them megabytes. The C library returns blocks that large to the
operating system on free and maps fresh ones on the next request, so each step pays a page fault
and a page of zeroes for every 4 KiB it touches (measured on the suite's transformer encoder
step: about a fifth of its time). ``import pyfastdl`` makes a cache of such blocks NumPy's data
allocator (NumPy's allocator API, ``PyDataMem_SetHandler``; C++ in ``cpp/src/array_cache.cpp``):
freed buffers of 256 KiB or more are kept, up to a limit, and handed to the next request of the
same size (rounded up to 4 KiB). Smaller requests, and the cache's misses, go to NumPy's own
allocator as before. Arrays allocated before the import keep theirs.

The allocator is installed for the context that imports pyfastdl (NumPy keeps it in a
contextvar: the importing thread, or asyncio task); other threads allocate as NumPy does by
default. Freed memory stays in the process up to the limit: ``empty_cache()`` releases it,
``set_limit`` changes it.

Environment: ``PYFASTDL_ARRAY_CACHE_MB`` -- the limit in MiB (default: a sixteenth of the
physical memory, at most 1024); 0 leaves NumPy's allocator alone.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import memory
    >>> memory.empty_cache()
    >>> memory.stats()["cached_bytes"]
    0
"""

from __future__ import annotations

import os

from ._native import _C

__all__ = ["empty_cache", "install", "set_limit", "stats"]

_MIB = 1 << 20


def default_limit() -> int:
    """The default limit in bytes: a sixteenth of the physical memory, at most 1 GiB."""
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        physical = 8 << 30
    return min(1024 * _MIB, physical // 16)


def install(limit_bytes: int | None = None) -> bool:
    """Makes the cache NumPy's data allocator in the calling context, keeping at most
    `limit_bytes` of freed blocks (default: ``default_limit()``); False (nothing changed) when
    this NumPy has no allocator API."""
    set_limit(default_limit() if limit_bytes is None else limit_bytes)
    return bool(_C.array_cache_install())


def set_limit(limit_bytes: int) -> None:
    """Keeps at most `limit_bytes` of freed blocks (0: none); releases what is past it now."""
    if isinstance(limit_bytes, bool) or not isinstance(limit_bytes, int) or limit_bytes < 0:
        raise ValueError(f"[memory.set_limit] expected an int >= 0, got {limit_bytes!r}")
    _C.array_cache_set_limit(limit_bytes)


def empty_cache() -> None:
    """Releases every cached block to the system (``torch.cuda.empty_cache``'s CPU twin)."""
    _C.array_cache_clear()


def stats() -> dict:
    """``hits`` and ``misses`` (cacheable requests served from the cache / by NumPy's
    allocator), ``cached_bytes``, ``cached_blocks`` and ``limit_bytes``."""
    return dict(_C.array_cache_stats())


def install_from_environment() -> bool:
    """``install`` with the limit of ``PYFASTDL_ARRAY_CACHE_MB`` (0: not installed); run once by
    ``import pyfastdl``."""
    value = os.environ.get("PYFASTDL_ARRAY_CACHE_MB", "").strip()
    if not value:
        return install()
    try:
        mib = float(value)
    except ValueError:
        raise ValueError(
            f"[memory] PYFASTDL_ARRAY_CACHE_MB must be a number of MiB, got {value!r}"
        ) from None
    if mib <= 0:
        return False
    return install(int(mib * _MIB))

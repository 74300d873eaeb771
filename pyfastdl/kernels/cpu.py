"""Native CPU kernels (pyfastdl._C), registered by name with their versions side by side.

Every reference kernel that ``_C`` also implements is registered as ``<op>/native``, the CPU
default (float32 only: other dtypes go to the reference). A binding that takes ``impl=`` has
instruction-set variants, each registered as its own version (``gemm/avx512``, ``gemm/avx2``,
``gemm/generic``, for the paths this processor supports); ``native`` follows
``pyfastdl.cpu_capability()``.
"""

from __future__ import annotations

import functools

from .. import _C
from . import reference

_PATHS = ("generic", "avx2", "avx512")


def _has_isa_versions(fn) -> bool:
    return "impl:" in (fn.__doc__ or "").split("\n", 1)[0]


def register_all() -> None:
    from . import register

    supported = _PATHS[: _PATHS.index(_C.cpu_capability_supported()) + 1]
    for op in reference.KERNELS:
        fn = getattr(_C, op, None)
        if fn is None:
            continue
        register(f"{op}/native", fn, device="cpu", default=True, dtypes=("float32",))
        if _has_isa_versions(fn):
            for path in supported:
                version = functools.partial(fn, impl=path)
                version.__name__ = f"{op}_{path}"  # type: ignore[attr-defined]
                register(f"{op}/{path}", version, device="cpu", dtypes=("float32",))

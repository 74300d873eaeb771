"""Native CPU kernels (pyfastdl._C), registered by name with their versions side by side.

Every reference kernel that ``_C`` also implements is registered as ``<op>/native``, the CPU
default (float32 only: other dtypes go to the reference). A binding with variants says so with a
module attribute ``<op>_versions = (keyword, (value, ...))``: each value is registered as its own
version, the binding called with ``keyword=value``: the instruction-set paths this processor
supports (``impl=``: ``gemm/avx512``, ``gemm/avx2``, ``gemm/generic``, and the same for attention,
layer norm, GELU and the optimizer steps; ``native`` follows
``pyfastdl.cpu_capability()``), and conv2d's algorithms (``algo=``: ``conv2d_forward/im2col``,
``/winograd``, ``/direct``, ``/batched``, ``/depthwise``; ``native`` picks one per shape).
"""

from __future__ import annotations

import functools

from .._native import _C
from . import reference
from .registry import register


def register_all() -> None:
    for op in reference.KERNELS:
        fn = getattr(_C, op, None)
        if fn is None:
            continue
        register(f"{op}/native", fn, device="cpu", default=True, dtypes=("float32",))
        keyword, values = getattr(_C, f"{op}_versions", (None, ()))
        for value in values:
            version = functools.partial(fn, **{keyword: value})
            version.__name__ = f"{op}_{value}"  # type: ignore[attr-defined]
            register(f"{op}/{value}", version, device="cpu", dtypes=("float32",))

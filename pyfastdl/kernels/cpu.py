"""Native CPU kernels (pyfastdl._C), registered by name with their versions side by side.

For ops with instruction-set variants each path the processor supports is its own version
(``gemm/avx512``, ``gemm/avx2``, ``gemm/generic``); the default (``gemm/native``) follows
``pyfastdl.cpu_capability()``.
"""

from __future__ import annotations

import functools

from .. import _C

# op -> whether it has per-instruction-set versions selectable with impl=...
NATIVE_OPS = {
    "gemm": True,
    "softmax_forward": False,
    "softmax_backward": False,
    "log_softmax_forward": False,
    "log_softmax_backward": False,
    "cross_entropy_forward": False,
    "cross_entropy_backward": False,
}

_PATHS = ("generic", "avx2", "avx512")


def register_all() -> None:
    from . import register

    supported = _PATHS[: _PATHS.index(_C.cpu_capability_supported()) + 1]
    for op, has_paths in NATIVE_OPS.items():
        fn = getattr(_C, op, None)
        if fn is None:
            continue
        register(f"{op}/native", fn, device="cpu", default=True, dtypes=("float32",))
        if has_paths:
            for path in supported:
                version = functools.partial(fn, impl=path)
                version.__name__ = f"{op}_{path}"  # type: ignore[attr-defined]
                register(f"{op}/{path}", version, device="cpu", dtypes=("float32",))

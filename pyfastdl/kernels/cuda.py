"""Native CUDA kernels (pyfastdl._cuda), registered by name for the ``cuda`` device.

Every reference kernel that ``_cuda`` implements is registered as ``<op>/native``, the default on
the GPU, under the same name and signature as its CPU and NumPy versions: the bindings take GPU
arrays (anything with ``__cuda_array_interface__``: CuPy, PyTorch, JAX), and the function
registered here adds the keyword the bindings also need, ``stream``: CuPy's current stream, so a
kernel runs in order with the CuPy work around it and never synchronises.

A binding declares what it computes in with ``<op>_dtypes`` (float32 when absent: other dtypes go
to the reference, which runs on CuPy unchanged), its variants with ``<op>_versions = (keyword,
(value, ...))`` as on the CPU (``gemm/simt``, ``gemm/tf32``), and with ``<op>_contiguous = True``
that it indexes its arrays flat: then non-contiguous inputs are packed first and a non-contiguous
output is computed into a packed buffer and copied back (a kernel that takes strides needs none of
this).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from .._native import cuda_module
from ..arrays import xp as xp_of
from . import cases, reference
from .reference.softmax import _check_targets as check_targets
from .registry import register

__all__ = ["register_all", "current_stream"]


def current_stream() -> int:
    """CuPy's current stream as the integer the bindings take (0: the legacy default stream)."""
    import cupy  # lazy: only GPU arrays reach a CUDA kernel

    return int(cupy.cuda.get_current_stream().ptr)


def _on_current_stream(fn: Callable, op: str) -> Callable:
    @functools.wraps(fn)
    def launch(*args: Any, **kwargs: Any) -> None:
        fn(*args, stream=current_stream(), **kwargs)

    launch.__name__ = f"{op}_cuda"
    return launch


def _packed(fn: Callable, op: str, outputs: frozenset) -> Callable:
    """`fn` for kernels that index flat: packs strided inputs, stages strided outputs (the
    argument positions in `outputs`, as the op's test cases name them)."""

    @functools.wraps(fn)
    def launch(*args: Any, **kwargs: Any) -> None:
        staged = []  # (packed buffer, the caller's strided output)
        packed_args = []
        for i, a in enumerate(args):
            if hasattr(a, "__cuda_array_interface__") and not a.flags.c_contiguous:
                p = xp_of(a).ascontiguousarray(a)
                if i in outputs:
                    staged.append((p, a))
                a = p
            packed_args.append(a)
        fn(*packed_args, **kwargs)
        for p, a in staged:
            a[...] = p

    launch.__name__ = f"{op}_cuda"
    return launch


def _checking_targets(fn: Callable, op: str) -> Callable:
    """`fn` after the reference's check of cross_entropy's targets: a GPU kernel cannot raise, and
    an out-of-range class index would silently give NaN; the check reads the targets back, one
    synchronisation per loss (the loss is read back anyway, for logging or .item())."""
    signature = inspect.signature(reference.KERNELS[op])

    @functools.wraps(fn)
    def launch(*args: Any, **kwargs: Any) -> None:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        check_targets(
            a["logits"], a["target"], a["weight"], a["ignore_index"], a["label_smoothing"]
        )
        fn(*args, **kwargs)

    return launch


# Ops whose arguments hold values the kernel must not trust (read on the host first).
_HOST_CHECKED = {"cross_entropy_forward": _checking_targets}


def register_all() -> None:
    mod = cuda_module()
    if mod is None:
        return
    for op in reference.KERNELS:
        fn = getattr(mod, op, None)
        if fn is None:
            continue
        dtypes = tuple(getattr(mod, f"{op}_dtypes", ("float32",)))
        kernel = _on_current_stream(fn, op)
        if op in _HOST_CHECKED:
            kernel = _HOST_CHECKED[op](kernel, op)
        if getattr(mod, f"{op}_contiguous", False):
            op_cases = cases.cases(op)
            outputs = frozenset(op_cases[0].outputs) if op_cases else frozenset()
            kernel = _packed(kernel, op, outputs)
        register(f"{op}/native", kernel, device="cuda", default=True, dtypes=dtypes)
        keyword, values = getattr(mod, f"{op}_versions", (None, ()))
        for value in values:
            version = functools.partial(kernel, **{keyword: value})
            version.__name__ = f"{op}_cuda_{value}"  # type: ignore[attr-defined]
            register(f"{op}/{value}", version, device="cuda", dtypes=dtypes)

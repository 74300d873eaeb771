"""Testing helpers: finite-difference gradient checks and tolerant comparisons.

``assert_kernel_close(got, want, reduction)`` holds a kernel's output to the tolerance that
``kernels.check`` applies (:func:`pyfastdl.kernels.check.tolerance`): the one bound of every kernel
test.

``gradcheck(fn, *inputs)`` compares the analytic gradient of ``fn`` (through autograd) with central
finite differences in float64, for every input that requires grad, along a random projection of
the output (so one backward checks the whole Jacobian against ``2 * numel`` evaluations).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.testing import gradcheck
    >>> x = fd.randn(3, 4, dtype=fd.float64, requires_grad=True)
    >>> gradcheck(lambda t: (t * t).sum(dim=1), x)
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._native import _C
from .autograd import grad as autograd_grad
from .kernels.check import tolerance
from .tensor import Tensor

__all__ = [
    "gradcheck",
    "assert_close",
    "assert_kernel_close",
    "tolerance",
    "numerical_grad",
    "supported_cpu_paths",
    "CPU_PATHS",
]

# Every CPU instruction-set path, lowest first: a processor runs a prefix of these.
CPU_PATHS = ("generic", "avx2", "avx512")


def supported_cpu_paths() -> tuple[str, ...]:
    """The CPU instruction-set paths this processor can run, lowest first: what kernel tests
    parametrize over with :func:`pyfastdl.set_cpu_capability`.

    Example:
        >>> from pyfastdl.testing import supported_cpu_paths
        >>> supported_cpu_paths()[0]
        'generic'
    """
    return CPU_PATHS[: CPU_PATHS.index(_C.cpu_capability_supported()) + 1]


def _as_output(out: Any) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    return [o for o in out if isinstance(o, Tensor)]


def numerical_grad(
    fn: Callable, inputs: tuple, projections: list, index: int, eps: float
) -> np.ndarray:
    """d/d inputs[index] of sum_k <fn(inputs)_k, projections[k]>, by central differences."""
    x = inputs[index].array
    grad = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)  # a view: perturbs the input in place
    gflat = grad.reshape(-1)
    for i in range(flat.size):
        orig = flat[i]
        values = []
        for sign in (1.0, -1.0):
            flat[i] = orig + sign * eps
            outs = _as_output(fn(*inputs))
            values.append(sum(float(np.sum(o.array * p)) for o, p in zip(outs, projections)))
        flat[i] = orig
        gflat[i] = (values[0] - values[1]) / (2 * eps)
    return grad


def gradcheck(
    fn: Callable,
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    seed: int = 0,
) -> bool:
    """Checks autograd's gradient of `fn` against finite differences; raises AssertionError if off.

    `inputs` are Tensors (those with requires_grad=True are checked; they must be float64 and
    contiguous) or other arguments passed through unchanged. `fn` returns a Tensor or a tuple.
    """
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("[gradcheck] no input requires grad")
    for i in checked:
        if inputs[i].array.dtype != np.float64:
            raise TypeError(f"[gradcheck] input {i} must be float64, got {inputs[i].array.dtype}")
        if not inputs[i].array.flags.c_contiguous:
            raise ValueError(f"[gradcheck] input {i} must be contiguous")
    rng = np.random.default_rng(seed)
    outs = _as_output(fn(*inputs))
    projections = [rng.standard_normal(o.shape) for o in outs]
    diff_outs = [(o, p) for o, p in zip(outs, projections) if o.requires_grad]
    if not diff_outs:
        raise AssertionError("[gradcheck] no output requires grad")
    analytic = autograd_grad(
        [o for o, _ in diff_outs],
        [inputs[i] for i in checked],
        [Tensor(p.astype(o.array.dtype)) for o, p in diff_outs],
        allow_unused=True,
    )
    for i, a in zip(checked, analytic):
        a = np.zeros(inputs[i].shape) if a is None else a.array
        n = numerical_grad(fn, inputs, projections, i, eps)
        if not np.allclose(a, n, atol=atol, rtol=rtol):
            worst = np.unravel_index(np.argmax(np.abs(a - n)), a.shape) if a.size else ()
            raise AssertionError(
                f"[gradcheck] gradient of input {i} differs from finite differences: max abs error "
                f"{np.max(np.abs(a - n)):.3g} at {worst} (analytic {a[worst]:.6g}, numeric {n[worst]:.6g})"
            )
    return True


def assert_close(
    actual: Any, expected: Any, rtol: float | None = None, atol: float | None = None, msg: str = ""
) -> None:
    """Asserts two arrays/tensors are close; default tolerances depend on the dtype (float32 vs 64)."""
    a = actual.array if isinstance(actual, Tensor) else np.asarray(actual)
    e = expected.array if isinstance(expected, Tensor) else np.asarray(expected)
    if hasattr(a, "get"):
        a = a.get()
    if hasattr(e, "get"):
        e = e.get()
    if a.shape != e.shape:
        raise AssertionError(f"{msg} shape {a.shape} != expected {e.shape}")
    low = np.float32 if np.float32 in (a.dtype, e.dtype) else np.float64
    rtol = rtol if rtol is not None else (1e-4 if low == np.float32 else 1e-7)
    atol = atol if atol is not None else (1e-5 if low == np.float32 else 1e-9)
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=msg)


def assert_kernel_close(
    actual: Any, expected: Any, reduction: int = 1, scale: float = 1.0, err_msg: str = ""
) -> None:
    """Asserts a kernel's output is within the tolerance ``kernels.check`` holds kernels to.

    With ``(rtol, atol) = tolerance(dtype, reduction)`` (:func:`pyfastdl.kernels.check.tolerance`,
    `dtype` the lower floating-point precision of the two arrays, `reduction` the number of terms
    summed into each value), every element must satisfy
    ``|actual - expected| <= scale * (atol + rtol * |expected|)``; NaNs and infinities must match.

    `scale` widens (or narrows) the bound for an algorithm whose rounding error is known to differ
    from a plain sum's (Winograd's transforms, a gradient whose terms cancel): pass it as a named,
    commented constant at the call site, never a bare number.

    Example:
        >>> import numpy as np
        >>> from pyfastdl.testing import assert_kernel_close
        >>> want = np.linspace(-1, 1, 64)
        >>> assert_kernel_close((want + 1e-6).astype(np.float32), want, reduction=64)
    """
    if not scale > 0:
        raise ValueError(f"[assert_kernel_close] scale must be positive, got {scale}")
    a = actual.array if isinstance(actual, Tensor) else np.asarray(actual)
    e = expected.array if isinstance(expected, Tensor) else np.asarray(expected)
    if a.shape != e.shape:
        raise AssertionError(f"{err_msg} shape {a.shape} != expected {e.shape}")
    floats = [d for d in (a.dtype, e.dtype) if d.kind == "f"]
    dtype = min(floats, key=lambda d: d.itemsize) if floats else a.dtype  # integers: exact
    rtol, atol = tolerance(dtype, reduction)
    np.testing.assert_allclose(
        a,
        e,
        rtol=scale * rtol,
        atol=scale * atol,
        err_msg=f"{err_msg} ({dtype} tolerance, reduction {reduction}, scale {scale})".strip(),
    )

"""The one place where autograd code calls the gemm kernel: output allocation and dispatch.

``gemm(a, b)`` returns act(alpha * a @ b + bias) for 2-d or 3-d arrays (transposed or sliced views
are passed as they are: the kernel reads any strides). The kernel is looked up per call in the
registry, so overrides (``kernels.use``) and float64 (the reference) apply.
"""

from __future__ import annotations

from typing import Any

from .. import kernels
from ..arrays import device_of, empty


def gemm(
    a: Any,
    b: Any,
    bias: Any = None,
    *,
    activation: str = "none",
    activation_param: float = 0.0,
    alpha: float = 1.0,
    out: Any = None,
    beta: float = 0.0,
) -> Any:
    """act(alpha * a @ b + beta * out + bias) for (M, K) / (batch, M, K) operands; returns out."""
    if a.dtype != b.dtype or (bias is not None and bias.dtype != a.dtype):
        raise TypeError(
            f"[gemm] operands must have one dtype, got {a.dtype} and {b.dtype}"
            + ("" if bias is None else f" (bias {bias.dtype})")
        )
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(
            f"[matmul] shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied "
            f"({a.shape[-1]} != {b.shape[-2]})"
        )
    if out is None:
        if a.ndim == 3 or b.ndim == 3:
            batch = a.shape[0] if a.ndim == 3 else b.shape[0]
            shape = (batch, a.shape[-2], b.shape[-1])
        else:
            shape = (a.shape[0], b.shape[1])
        out = empty(shape, a.dtype, a)
    kernels.get("gemm", device_of(a), a.dtype)(
        a,
        b,
        bias,
        out,
        alpha=alpha,
        beta=beta,
        activation=activation,
        activation_param=activation_param,
    )
    return out

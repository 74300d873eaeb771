"""Reference GEMM and the epilogue activations it shares with Linear layers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...arrays import xp as xp_of

__all__ = ["ACTIVATIONS", "apply_activation", "gemm"]


def _erf(xp: Any, x: Any) -> Any:
    if xp is np:
        return np.vectorize(math.erf, otypes=[x.dtype])(x) if x.size else x.copy()
    import cupyx.scipy.special

    return cupyx.scipy.special.erf(x)


def apply_activation(x: Any, activation: str, param: float = 0.0) -> Any:
    """The epilogue activations of gemm (and of Linear layers), elementwise."""
    xp = xp_of(x)
    if activation in ("none", "identity", "linear"):
        return x
    if activation == "relu":
        return xp.maximum(x, 0)
    if activation == "leaky_relu":
        return xp.where(x > 0, x, param * x)
    if activation == "elu":
        return xp.where(x > 0, x, param * xp.expm1(xp.minimum(x, 0)))
    if activation == "gelu":
        return 0.5 * x * (1 + _erf(xp, x / math.sqrt(2.0)))
    if activation == "gelu_tanh":
        return 0.5 * x * (1 + xp.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    if activation == "sigmoid":
        return 1 / (1 + xp.exp(-x))
    if activation == "tanh":
        return xp.tanh(x)
    if activation == "silu":
        return x / (1 + xp.exp(-x))
    raise ValueError(
        f"[gemm] activation must be one of {', '.join(ACTIVATIONS)}; got '{activation}'"
    )


ACTIVATIONS = ("none", "relu", "leaky_relu", "elu", "gelu", "gelu_tanh", "sigmoid", "tanh", "silu")


def gemm(
    a: Any,
    b: Any,
    bias: Any,
    out: Any,
    *,
    alpha: float = 1.0,
    beta: float = 0.0,
    activation: str = "none",
    activation_param: float = 0.0,
    impl: str = "auto",
) -> None:
    """out = act(alpha * a @ b + beta * out + bias).

    a: (M, K) or (batch, M, K); b: (K, N) or (batch, K, N); out: (M, N) or (batch, M, N);
    bias: None or broadcastable to out. beta == 0 means out is not read (as in BLAS).
    `impl` is accepted for signature compatibility with the native kernel and ignored.
    """
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(
            f"[gemm] a and b do not multiply: a has shape {tuple(a.shape)}, "
            f"b has shape {tuple(b.shape)} (a's last dim must equal b's second-to-last)"
        )
    acc = a @ b
    if tuple(acc.shape) != tuple(out.shape):
        raise ValueError(f"[gemm] out must have shape {tuple(acc.shape)}, got {tuple(out.shape)}")
    if alpha != 1.0:
        acc = alpha * acc
    if beta != 0.0:
        acc = acc + beta * out
    if bias is not None:
        acc = acc + bias
    out[...] = apply_activation(acc, activation, activation_param)


KERNELS = {"gemm": gemm}

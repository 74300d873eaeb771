"""Reference kernels: plain NumPy (or CuPy, for GPU arrays), the readable specification of every op.

Each function has exactly the signature of the native kernels of the same name (inputs, then
outputs the caller allocated, then parameters) and writes its result into the outputs. They are
the test oracle of the native kernels and run float64 for gradient checks. They are written for
clarity, not speed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "apply_activation",
    "cross_entropy_backward",
    "cross_entropy_forward",
    "gemm",
    "log_softmax_backward",
    "log_softmax_forward",
    "register_all",
    "softmax_backward",
    "softmax_forward",
]


def _xp(a: Any):
    if isinstance(a, np.ndarray):
        return np
    import cupy

    return cupy


def _erf(xp: Any, x: Any) -> Any:
    if xp is np:
        return np.vectorize(math.erf, otypes=[x.dtype])(x) if x.size else x.copy()
    import cupyx.scipy.special

    return cupyx.scipy.special.erf(x)


def apply_activation(x: Any, activation: str, param: float = 0.0) -> Any:
    """The epilogue activations of gemm (and of Linear layers), elementwise."""
    xp = _xp(x)
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


# ---------------------------------------------------------------------------- softmax family
# Rows are the last dim of (rows, C) arrays; see cpp/include/pyfastdl/softmax.h for the math.


def softmax_forward(x: Any, out: Any) -> None:
    """out = exp(x - max) / sum(exp(x - max)) over each row of (rows, C) x."""
    xp = _xp(x)
    e = xp.exp(x - x.max(axis=1, keepdims=True)) if x.size else x
    out[...] = e / e.sum(axis=1, keepdims=True) if x.size else e


def softmax_backward(y: Any, grad_y: Any, grad_x: Any) -> None:
    """grad_x = y * (grad_y - sum(grad_y * y)) per row, y = softmax(x)."""
    grad_x[...] = y * (grad_y - (grad_y * y).sum(axis=1, keepdims=True))


def log_softmax_forward(x: Any, out: Any) -> None:
    """out = x - max - log(sum(exp(x - max))) over each row of (rows, C) x."""
    xp = _xp(x)
    if x.size == 0:
        return
    shifted = x - x.max(axis=1, keepdims=True)
    out[...] = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


def log_softmax_backward(y: Any, grad_y: Any, grad_x: Any) -> None:
    """grad_x = grad_y - exp(y) * sum(grad_y) per row, y = log_softmax(x)."""
    xp = _xp(y)
    grad_x[...] = grad_y - xp.exp(y) * grad_y.sum(axis=1, keepdims=True)


def _check_targets(
    logits: Any, target: Any, weight: Any, ignore_index: int, label_smoothing: float
) -> Any:
    """The rows whose target is not ignore_index (a bool mask); raises like the native binding."""
    n, c = logits.shape
    if tuple(target.shape) != (n,):
        raise ValueError(
            f"[cross_entropy] expected target of shape ({n},), got {tuple(target.shape)}"
        )
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"[cross_entropy] label_smoothing must be between 0.0 and 1.0, got {label_smoothing}"
        )
    if weight is not None and tuple(weight.shape) != (c,):
        raise ValueError(
            f"[cross_entropy] weight must have one value per class: expected shape "
            f"({c},), got {tuple(weight.shape)}"
        )
    valid = target != ignore_index
    bad = valid & ((target < 0) | (target >= c))
    if bool(bad.any()):
        k = int(target[bad][0])
        raise IndexError(f"[cross_entropy] target {k} is out of range for {c} classes")
    return valid


def cross_entropy_forward(
    logits: Any,
    target: Any,
    weight: Any,
    losses: Any,
    lse: Any,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
) -> None:
    """Per-row cross-entropy of (N, C) logits against (N,) class indices, and the log-sum-exp.

    losses[i] = (1 - e) * w[t] * (lse[i] - x[i, t]) + e / C * sum_c w[c] * (lse[i] - x[i, c]),
    0 where t == ignore_index (t = target[i], w = weight or ones, e = label_smoothing).
    """
    xp = _xp(logits)
    valid = _check_targets(logits, target, weight, ignore_index, label_smoothing)
    n, c = logits.shape
    m = logits.max(axis=1) if c else xp.full(n, -xp.inf, logits.dtype)
    log_sum = xp.log(xp.exp(logits - m[:, None]).sum(axis=1))
    lse[...] = m + log_sum
    w = xp.ones(c, logits.dtype) if weight is None else weight
    t = xp.where(valid, target, 0)
    rows = xp.arange(n)
    nll = (m - logits[rows, t]) + log_sum if c else xp.zeros(n, logits.dtype)
    loss = (1.0 - label_smoothing) * w[t] * nll if c else nll
    if label_smoothing:
        gaps = (m[:, None] - logits) + log_sum[:, None]  # lse - x, per class
        loss = loss + label_smoothing / c * (gaps * w).sum(axis=1)
    losses[...] = xp.where(valid, loss, 0)


def cross_entropy_backward(
    logits: Any,
    target: Any,
    weight: Any,
    grad_losses: Any,
    grad_logits: Any,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
) -> None:
    """grad_logits of cross_entropy_forward's losses, given their gradients (N,)."""
    xp = _xp(logits)
    valid = _check_targets(logits, target, weight, ignore_index, label_smoothing)
    n, c = logits.shape
    if logits.size == 0:
        return
    e = label_smoothing
    w = xp.ones(c, logits.dtype) if weight is None else weight
    p = xp.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    t = xp.where(valid, target, 0)
    g = xp.where(valid, grad_losses, 0)
    onehot = xp.zeros_like(logits)
    onehot[xp.arange(n), t] = 1
    wt = w[t][:, None]
    grad = (1 - e) * wt * (p - onehot) + e / c * (p * w.sum() - w)
    grad_logits[...] = g[:, None] * grad


# Every kernel of this module, registered as "<name>/reference" on both devices.
KERNELS = {
    "gemm": gemm,
    "softmax_forward": softmax_forward,
    "softmax_backward": softmax_backward,
    "log_softmax_forward": log_softmax_forward,
    "log_softmax_backward": log_softmax_backward,
    "cross_entropy_forward": cross_entropy_forward,
    "cross_entropy_backward": cross_entropy_backward,
}


def register_all() -> None:
    from . import register

    for name, fn in KERNELS.items():
        register(f"{name}/reference", fn, device="cpu")
        register(f"{name}/reference", fn, device="cuda")

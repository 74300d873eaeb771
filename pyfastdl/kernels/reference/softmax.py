"""Reference softmax, log_softmax and cross-entropy (rows are the last dim of (rows, C) arrays)."""

from __future__ import annotations

from typing import Any

from ...arrays import xp as xp_of

__all__ = [
    "cross_entropy_backward",
    "cross_entropy_forward",
    "log_softmax_backward",
    "log_softmax_forward",
    "softmax_backward",
    "softmax_forward",
]


def softmax_forward(x: Any, out: Any) -> None:
    """out = exp(x - max) / sum(exp(x - max)) over each row of (rows, C) x."""
    xp = xp_of(x)
    e = xp.exp(x - x.max(axis=1, keepdims=True)) if x.size else x
    out[...] = e / e.sum(axis=1, keepdims=True) if x.size else e


def softmax_backward(y: Any, grad_y: Any, grad_x: Any) -> None:
    """grad_x = y * (grad_y - sum(grad_y * y)) per row, y = softmax(x)."""
    grad_x[...] = y * (grad_y - (grad_y * y).sum(axis=1, keepdims=True))


def log_softmax_forward(x: Any, out: Any) -> None:
    """out = x - max - log(sum(exp(x - max))) over each row of (rows, C) x."""
    xp = xp_of(x)
    if x.size == 0:
        return
    shifted = x - x.max(axis=1, keepdims=True)
    out[...] = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


def log_softmax_backward(y: Any, grad_y: Any, grad_x: Any) -> None:
    """grad_x = grad_y - exp(y) * sum(grad_y) per row, y = log_softmax(x)."""
    xp = xp_of(y)
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
    xp = xp_of(logits)
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
    xp = xp_of(logits)
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
    grad = (1 - e) * wt * (p - onehot)
    if e:  # the smoothing term only when there is smoothing: 0 * (an infinite weight) is NaN
        grad = grad + e / c * (p * w.sum() - w)
    # ignored rows get 0 whatever their logits (a mask, not a product with 0: 0 * NaN is NaN)
    grad_logits[...] = xp.where(valid[:, None], g[:, None] * grad, 0)


KERNELS = {
    "softmax_forward": softmax_forward,
    "softmax_backward": softmax_backward,
    "log_softmax_forward": log_softmax_forward,
    "log_softmax_backward": log_softmax_backward,
    "cross_entropy_forward": cross_entropy_forward,
    "cross_entropy_backward": cross_entropy_backward,
}

"""Pointwise losses (mse, l1, smooth_l1, huber, binary cross-entropy, kl_div) as one Function.

Each loss is a small spec: its value l(x, t) elementwise and the partial derivatives dl/dx and
dl/dt. :class:`PointwiseLoss` broadcasts input and target (as PyTorch does, with its warning
when their sizes differ), applies an optional elementwise weight, reduces, and in backward
sums the gradients back to each operand's shape.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..autograd import Function
from ..ops._util import unbroadcast, xp


def _sigmoid(m: Any, x: Any) -> Any:
    # exp of a non-positive number only: no overflow for large |x|.
    e = m.exp(-m.abs(x))
    return m.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softplus_neg(m: Any, x: Any) -> Any:
    """log(1 + exp(-x)), stable for large |x|."""
    return m.log1p(m.exp(-m.abs(x))) + m.maximum(-x, 0)


class Spec:
    """One pointwise loss: ``value(m, x, t)`` and ``grads(m, x, t, need_x, need_t)``."""

    name = ""

    def value(self, m: Any, x: Any, t: Any) -> Any:
        raise NotImplementedError

    def grads(self, m: Any, x: Any, t: Any, need_x: bool, need_t: bool) -> tuple:
        raise NotImplementedError


class Mse(Spec):
    name = "mse_loss"

    def value(self, m, x, t):
        d = x - t
        return d * d

    def grads(self, m, x, t, need_x, need_t):
        d = 2 * (x - t)
        return d, -d


class L1(Spec):
    name = "l1_loss"

    def value(self, m, x, t):
        return m.abs(x - t)

    def grads(self, m, x, t, need_x, need_t):
        s = m.sign(x - t)
        return s, -s


class SmoothL1(Spec):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta; huber: beta times that, delta = beta."""

    def __init__(self, beta: float, huber: bool) -> None:
        self.beta = float(beta)
        self.huber = huber
        self.name = "huber_loss" if huber else "smooth_l1_loss"

    def value(self, m, x, t):
        d = m.abs(x - t)
        b = self.beta
        if b == 0:
            return d
        quad = d < b
        if self.huber:
            return m.where(quad, 0.5 * d * d, b * (d - 0.5 * b))
        return m.where(quad, 0.5 * d * d / b, d - 0.5 * b)

    def grads(self, m, x, t, need_x, need_t):
        d = x - t
        b = self.beta
        if b == 0:
            g = m.sign(d)
        elif self.huber:
            g = m.clip(d, -b, b)
        else:
            g = m.where(m.abs(d) < b, d / b, m.sign(d))
        return g, -g


class BinaryCrossEntropy(Spec):
    """-(t log x + (1 - t) log(1 - x)), each log clamped at -100 like PyTorch."""

    name = "binary_cross_entropy"

    @staticmethod
    def _logs(m, x):
        with np.errstate(divide="ignore"):
            return m.maximum(m.log(x), -100), m.maximum(m.log1p(-x), -100)

    def value(self, m, x, t):
        log_x, log_1mx = self._logs(m, x)
        return -(t * log_x + (1 - t) * log_1mx)

    def grads(self, m, x, t, need_x, need_t):
        gx = gt = None
        if need_x:  # PyTorch's: (x - t) / max(x (1 - x), 1e-12)
            gx = (x - t) / m.maximum(x * (1 - x), 1e-12)
        if need_t:
            log_x, log_1mx = self._logs(m, x)
            gt = log_1mx - log_x
        return gx, gt


class BinaryCrossEntropyWithLogits(Spec):
    """(1 - t) x + (1 + (p - 1) t) log(1 + exp(-x)), p = pos_weight (stable form)."""

    name = "binary_cross_entropy_with_logits"

    def __init__(self, pos_weight: Any) -> None:
        self.pos_weight = pos_weight

    def value(self, m, x, t):
        sp = _softplus_neg(m, x)
        if self.pos_weight is None:
            return (1 - t) * x + sp
        return (1 - t) * x + (1 + (self.pos_weight - 1) * t) * sp

    def grads(self, m, x, t, need_x, need_t):
        gx = gt = None
        p = self.pos_weight
        if need_x:
            s = _sigmoid(m, x)
            gx = s - t if p is None else (1 - t) - (1 + (p - 1) * t) * (1 - s)
        if need_t:
            gt = -x if p is None else -x + (p - 1) * _softplus_neg(m, x)
        return gx, gt


class KlDiv(Spec):
    """t (log t - x) (0 where t = 0), or exp(t) (t - x) with log_target."""

    name = "kl_div"

    def __init__(self, log_target: bool) -> None:
        self.log_target = bool(log_target)

    def value(self, m, x, t):
        if self.log_target:
            return m.exp(t) * (t - x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return m.where(t > 0, t * m.log(m.where(t > 0, t, 1)), 0) - t * x

    def grads(self, m, x, t, need_x, need_t):
        if self.log_target:
            e = m.exp(t)
            return -e, (e * (t - x + 1) if need_t else None)
        gt = None
        if need_t:
            with np.errstate(divide="ignore"):
                gt = m.log(t) + 1 - x
        return -t, gt


def broadcast_operands(x: Any, t: Any, op: str) -> tuple:
    """input and target broadcast together, as PyTorch does (warning when the sizes differ)."""
    if x.dtype.kind != "f":
        raise TypeError(f"[{op}] input must be a floating-point tensor, got {x.dtype}")
    if t.dtype != x.dtype:
        t = t.astype(x.dtype)
    if x.shape == t.shape:
        return x, t
    try:
        np.broadcast_shapes(x.shape, t.shape)
    except ValueError:
        raise ValueError(
            f"[{op}] input {tuple(x.shape)} and target {tuple(t.shape)} do not match "
            "(nor broadcast together)"
        ) from None
    warnings.warn(
        f"[{op}] using a target size {tuple(t.shape)} that is different to the input size "
        f"{tuple(x.shape)}; they are broadcast together, which is likely not intended. "
        "Make sure they have the same size.",
        UserWarning,
        stacklevel=4,
    )
    return x, t


def reduce(loss: Any, reduction: str, batch: int = 1) -> Any:
    """'none', 'sum', 'mean' (over all elements) or 'batchmean' (sum / batch) of `loss`."""
    m = xp(loss)
    if reduction == "none":
        return loss
    total = loss.sum(dtype=loss.dtype)
    if reduction == "mean":
        total = total / loss.dtype.type(loss.size) if loss.size else loss.dtype.type(math.nan)
    elif reduction == "batchmean":
        total = total / loss.dtype.type(batch)
    return m.asarray(total, dtype=loss.dtype)


def reduce_grad(g: Any, reduction: str, shape: tuple, batch: int, dtype: Any) -> Any:
    """The gradient of each element of the unreduced loss."""
    m = xp(g)
    if reduction == "none":
        return g
    scale = g.reshape(()).item()
    size = math.prod(shape)
    if reduction == "mean":
        scale = scale / size if size else math.nan
    elif reduction == "batchmean":
        scale = scale / batch
    return m.full(shape, scale, dtype=dtype)


class PointwiseLoss(Function):
    """reduce(weight * spec(input, target)); weight (optional) broadcasts to the loss."""

    @staticmethod
    def forward(ctx, x, t, weight, spec: Spec = None, reduction: str = "mean"):
        x, t = broadcast_operands(x, t, spec.name)
        m = xp(x)
        with np.errstate(over="ignore"):
            loss = spec.value(m, x, t)
        if weight is not None:
            loss = loss * weight.astype(x.dtype, copy=False)
        batch = x.shape[0] if x.ndim else 1
        ctx.save_for_backward(x, t, weight)
        ctx.args = (spec, reduction, loss.shape, batch)
        return reduce(loss, reduction, batch)

    @staticmethod
    def backward(ctx, g):
        x, t, weight = ctx.saved_tensors
        spec, reduction, shape, batch = ctx.args
        m = xp(x)
        need_x, need_t = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        gl = reduce_grad(g, reduction, shape, batch, x.dtype)
        if weight is not None:
            gl = gl * weight.astype(x.dtype, copy=False)
        with np.errstate(over="ignore"):
            dx, dt = spec.grads(m, x, t, need_x, need_t)
        gx = unbroadcast(gl * dx, x.shape) if need_x else None
        gt = unbroadcast(gl * dt, t.shape) if need_t and dt is not None else None
        return gx, gt, None

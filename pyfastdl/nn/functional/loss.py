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

from ...arrays import xp
from ...autograd import Function
from ...ops._util import unbroadcast
from ...tensor import Tensor
from ._args import REDUCTIONS, check_reduction, legacy_reduction, optional_tensor_arg, tensor_arg

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "mse_loss",
    "smooth_l1_loss",
]


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


class PointwiseLossFn(Function):
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


def _pointwise(
    spec: Spec, input: Any, target: Any, weight: Any, reduction: str, allowed: tuple = REDUCTIONS
) -> Tensor:
    input = tensor_arg(input, spec.name)
    target = tensor_arg(target, spec.name, "target")
    check_reduction(reduction, spec.name, allowed)
    return PointwiseLossFn.apply(
        input,
        target,
        optional_tensor_arg(weight, spec.name, "weight"),
        spec=spec,
        reduction=reduction,
    )


def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Mean squared error: reduce((input - target)^2).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.mse_loss(fd.tensor([1.0, 2.0]), fd.tensor([1.0, 4.0])).item()
        2.0
    """
    return _pointwise(Mse(), input, target, None, legacy_reduction(size_average, reduce, reduction))


def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Mean absolute error: reduce(|input - target|)."""
    return _pointwise(L1(), input, target, None, legacy_reduction(size_average, reduce, reduction))


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target)."""
    if beta < 0:
        raise ValueError(f"[smooth_l1_loss] beta must be non-negative, got {beta}")
    return _pointwise(
        SmoothL1(beta, huber=False),
        input,
        target,
        None,
        legacy_reduction(size_average, reduce, reduction),
    )


def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (d = input - target)."""
    if delta <= 0:
        raise ValueError(f"[huber_loss] delta must be positive, got {delta}")
    return _pointwise(SmoothL1(delta, huber=True), input, target, weight, reduction)


def _check_same_shape(op: str, input: Tensor, target: Tensor) -> None:
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"[{op}] target size {tuple(target.shape)} must be the same as input size "
            f"{tuple(input.shape)}"
        )


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """-w (t log(x) + (1 - t) log(1 - x)) for probabilities x, logs clamped at -100 as in PyTorch.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> round(F.binary_cross_entropy(fd.tensor([0.5]), fd.tensor([1.0])).item(), 4)
        0.6931
    """
    op = "binary_cross_entropy"
    input, target = tensor_arg(input, op), tensor_arg(target, op, "target")
    _check_same_shape(op, input, target)
    x = input.array
    if x.size and not bool(((x >= 0) & (x <= 1)).all()):
        raise ValueError(f"[{op}] all elements of input should be between 0 and 1")
    return _pointwise(
        BinaryCrossEntropy(),
        input,
        target,
        weight,
        legacy_reduction(size_average, reduce, reduction),
    )


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """binary_cross_entropy(sigmoid(input), target), computed stably from the logits.

    `pos_weight` multiplies the positive term (broadcast along the last dim, one per class).
    """
    op = "binary_cross_entropy_with_logits"
    input, target = tensor_arg(input, op), tensor_arg(target, op, "target")
    _check_same_shape(op, input, target)
    pw = None
    if pos_weight is not None:
        pw = tensor_arg(pos_weight, op, "pos_weight").array.astype(input.dtype, copy=False)
        try:
            np.broadcast_shapes(pw.shape, tuple(input.shape))
        except ValueError:
            raise ValueError(
                f"[{op}] pos_weight of shape {tuple(pw.shape)} does not broadcast to "
                f"the input's shape {tuple(input.shape)}"
            ) from None
    return _pointwise(
        BinaryCrossEntropyWithLogits(pw),
        input,
        target,
        weight,
        legacy_reduction(size_average, reduce, reduction),
    )


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """KL(target || exp(input)) pointwise: target (log(target) - input), input being log-probs.

    reduction 'batchmean' (sum / batch size) is the mathematical KL divergence; 'mean' divides by
    the number of elements, as in PyTorch (with its warning).
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if reduction == "mean":
        warnings.warn(
            "[kl_div] reduction: 'mean' divides the total loss by both the batch size "
            "and the support size. 'batchmean' divides only by the batch size, and "
            "aligns with the KL div math definition.",
            UserWarning,
            stacklevel=2,
        )
    return _pointwise(
        KlDiv(log_target), input, target, None, reduction, REDUCTIONS + ("batchmean",)
    )


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    """'none', 'mean' or 'sum' of a loss Tensor (differentiable; the composed losses' reduce)."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss

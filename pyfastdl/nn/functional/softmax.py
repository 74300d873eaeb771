"""softmax, log_softmax, softmin, cross_entropy and nll_loss over the fused row kernels.

The kernels work on the rows of a (rows, C) matrix; these Functions move the reduced dim last
and flatten the others (a view when the dim is already last and the array contiguous), and
undo it on the way out. Every kernel is looked up per call (``kernels.get``), so overrides and
float64 (the NumPy reference) apply.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ... import kernels
from ... import ops as _ops
from ...arrays import empty, xp
from ...autograd import Function
from ...ops import fast
from ...ops._util import norm_dim
from ...tensor import Tensor
from ._args import (
    check_float,
    check_reduction,
    legacy_reduction,
    optional_tensor_arg,
    tensor_arg,
)

__all__ = ["cross_entropy", "log_softmax", "nll_loss", "softmax", "softmin"]


def to_rows(a: Any, dim: int) -> tuple[Any, tuple]:
    """`a` with `dim` moved last, as a (rows, C) array; and the moved shape, to undo it."""
    if a.ndim == 0:
        return a.reshape(1, 1), ()
    moved = xp(a).moveaxis(a, dim, -1) if dim != a.ndim - 1 else a
    c = moved.shape[-1]
    rows = math.prod(moved.shape[:-1])
    return moved.reshape(rows, c), moved.shape


def from_rows(a2: Any, moved_shape: tuple, dim: int, ndim: int) -> Any:
    """Inverse of :func:`to_rows` (a view of `a2`)."""
    out = a2.reshape(moved_shape)
    if ndim and dim != ndim - 1:
        out = xp(a2).moveaxis(out, -1, dim)
    return out


class _RowOpFn(Function):
    """softmax / log_softmax over one dim: a forward and a backward kernel on rows."""

    FORWARD = ""
    BACKWARD = ""

    @classmethod
    def forward(cls, ctx, x, dim):
        x2, moved = to_rows(x, dim)
        y2 = empty(x2.shape, x2.dtype, x2)
        kernels.for_array(cls.FORWARD, x2)(x2, y2)
        ctx.save_for_backward(y2)
        ctx.layout = (moved, dim, x.ndim)
        return from_rows(y2, *ctx.layout)

    @classmethod
    def backward(cls, ctx, g):
        (y2,) = ctx.saved_tensors
        moved, dim, ndim = ctx.layout
        g2, _ = to_rows(g, dim)
        if g2.dtype != y2.dtype:
            g2 = g2.astype(y2.dtype)
        gx2 = empty(y2.shape, y2.dtype, y2)
        kernels.for_array(cls.BACKWARD, y2)(y2, g2, gx2)
        return from_rows(gx2, moved, dim, ndim), None


class SoftmaxFn(_RowOpFn):
    FORWARD = "softmax_forward"
    BACKWARD = "softmax_backward"


class LogSoftmaxFn(_RowOpFn):
    FORWARD = "log_softmax_forward"
    BACKWARD = "log_softmax_backward"


def class_layout(x: Any, target: Any, op: str) -> tuple[Any, Any, tuple]:
    """(N, C) logits, (N,) targets, and the target's shape, for class-index losses.

    input (C,) with target (); (N, C) with (N,); (N, C, d1, ...) with (N, d1, ...).
    """
    if x.ndim == 0:
        raise ValueError(
            f"[{op}] input must have at least 1 dim (C,) or (N, C, ...), got a 0-d tensor"
        )
    if x.ndim == 1:
        want = ()
    else:
        want = (x.shape[0],) + tuple(x.shape[2:])
    if tuple(target.shape) != want:
        raise ValueError(
            f"[{op}] expected target of shape {want}, got {tuple(target.shape)} "
            f"(input shape {tuple(x.shape)})"
        )
    if x.ndim == 1:
        x2 = x.reshape(1, -1)
    elif x.ndim == 2:
        x2 = x
    else:
        x2, _ = to_rows(x, 1)
    t = target.reshape(-1)
    if t.dtype != np.int64:
        t = t.astype(np.int64)
    return x2, t, want


def restore_class_grad(gx2: Any, x_shape: tuple) -> Any:
    """The (N, C) gradient back in the input's layout (C at dim 1)."""
    if len(x_shape) <= 2:
        return gx2.reshape(x_shape)
    moved = (x_shape[0],) + tuple(x_shape[2:]) + (x_shape[1],)
    return from_rows(gx2, moved, 1, len(x_shape))


def reduce_rows(losses: Any, reduction: str, divisor: float, shape: tuple) -> Any:
    """Per-row losses reduced ('mean' divides the sum by `divisor`), as an array."""
    m = xp(losses)
    if reduction == "none":
        return losses.reshape(shape)
    total = losses.sum(dtype=losses.dtype)
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            total = (
                total / losses.dtype.type(divisor)
                if divisor
                else total * losses.dtype.type(math.nan)
            )
    return m.asarray(total, dtype=losses.dtype)


def row_grads(g: Any, reduction: str, divisor: float, n: int, dtype: Any) -> Any:
    """The gradient of each row's loss from the gradient of the reduced loss."""
    m = xp(g)
    if reduction == "none":
        return m.ascontiguousarray(g.reshape(n), dtype=dtype)
    scale = g.reshape(()).item()
    if reduction == "mean":
        scale = scale / divisor if divisor else math.nan
    return m.full(n, scale, dtype=dtype)


class CrossEntropyFn(Function):
    """Cross-entropy of logits against class indices (fused log-softmax + NLL)."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, label_smoothing, reduction):
        x2, t, shape = class_layout(x, target, "cross_entropy")
        n = x2.shape[0]
        if weight is not None and weight.dtype != x2.dtype:
            weight = weight.astype(x2.dtype)
        losses = empty((n,), x2.dtype, x2)
        lse = empty((n,), x2.dtype, x2)
        kernels.for_array("cross_entropy_forward", x2)(
            x2, t, weight, losses, lse, int(ignore_index), float(label_smoothing)
        )
        divisor = 0.0
        if reduction == "mean":
            valid = t != ignore_index
            divisor = float(weight[t[valid]].sum()) if weight is not None else float(valid.sum())
        ctx.save_for_backward(x2, t, weight)
        ctx.args = (ignore_index, label_smoothing, reduction, divisor, x.shape)
        return reduce_rows(losses, reduction, divisor, shape)

    @staticmethod
    def backward(ctx, g):
        x2, t, weight = ctx.saved_tensors
        ignore_index, label_smoothing, reduction, divisor, x_shape = ctx.args
        gl = row_grads(g, reduction, divisor, x2.shape[0], x2.dtype)
        gx2 = empty(x2.shape, x2.dtype, x2)
        kernels.for_array("cross_entropy_backward", x2)(
            x2, t, weight, gl, gx2, int(ignore_index), float(label_smoothing)
        )
        return restore_class_grad(gx2, x_shape), None, None, None, None, None


class SoftCrossEntropyFn(Function):
    """Cross-entropy of logits against class probabilities of the same shape."""

    @staticmethod
    def forward(ctx, x, target, weight, label_smoothing, reduction):
        dim = 0 if x.ndim == 1 else 1
        x2, moved = to_rows(x, dim)
        t2, _ = to_rows(target.astype(x.dtype, copy=False), dim)
        c = x2.shape[1]
        logp = empty(x2.shape, x2.dtype, x2)
        kernels.for_array("log_softmax_forward", x2)(x2, logp)
        ts = t2 * (1 - label_smoothing) + label_smoothing / c if label_smoothing else t2
        wts = ts if weight is None else ts * weight.astype(x2.dtype, copy=False)
        losses = -(wts * logp).sum(axis=1)
        n = x2.shape[0]
        ctx.save_for_backward(logp, wts, weight)
        ctx.args = (dim, moved, x.ndim, reduction, n, label_smoothing)
        shape = tuple(moved[:-1])
        return reduce_rows(losses, reduction, float(n), shape)

    @staticmethod
    def backward(ctx, g):
        logp, wts, weight = ctx.saved_tensors
        dim, moved, ndim, reduction, n, label_smoothing = ctx.args
        gl = row_grads(g, reduction, float(n), n, logp.dtype)[:, None]
        gx = gt = None
        if ctx.needs_input_grad[0]:
            glogp = -gl * wts
            gx2 = empty(logp.shape, logp.dtype, logp)
            kernels.for_array("log_softmax_backward", logp)(logp, glogp, gx2)
            gx = from_rows(gx2, moved, dim, ndim)
        if ctx.needs_input_grad[1]:
            w = 1.0 if weight is None else weight
            gt2 = -gl * w * logp * (1 - label_smoothing)
            gt = from_rows(gt2, moved, dim, ndim)
        return gx, gt, None, None, None


class NllLossFn(Function):
    """Negative log-likelihood of log-probabilities against class indices."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        x2, t, shape = class_layout(x, target, "nll_loss")
        m = xp(x2)
        n, c = x2.shape
        valid = t != ignore_index
        bad = valid & ((t < 0) | (t >= c))
        if bool(bad.any()):
            raise IndexError(f"[nll_loss] target {int(t[bad][0])} is out of range for {c} classes")
        if weight is not None and tuple(weight.shape) != (c,):
            raise ValueError(
                f"[nll_loss] weight must have one value per class: expected shape "
                f"({c},), got {tuple(weight.shape)}"
            )
        safe_t = m.where(valid, t, 0)
        w = m.where(valid, 1.0 if weight is None else weight[safe_t], 0).astype(x2.dtype)
        losses = m.where(valid, -w * x2[m.arange(n), safe_t], 0).astype(x2.dtype, copy=False)
        divisor = float(w.sum()) if reduction == "mean" else 0.0
        ctx.save_for_backward(safe_t, w)
        ctx.args = (reduction, divisor, x.shape, x2.shape, x2.dtype)
        return reduce_rows(losses, reduction, divisor, shape)

    @staticmethod
    def backward(ctx, g):
        safe_t, w = ctx.saved_tensors
        reduction, divisor, x_shape, shape2, dtype = ctx.args
        m = xp(w)
        gl = row_grads(g, reduction, divisor, shape2[0], dtype)
        gx2 = m.zeros(shape2, dtype)
        gx2[m.arange(shape2[0]), safe_t] = -w * gl
        return restore_class_grad(gx2, x_shape), None, None, None, None


def _softmax_dim(op: str, ndim: int, dim: Any, stacklevel: int) -> int:
    if dim is None:
        # PyTorch's legacy choice, with its warning.
        warnings.warn(
            f"[{op}] implicit dimension choice for {op} has been deprecated. Change the "
            "call to include dim=X as an argument.",
            UserWarning,
            stacklevel=stacklevel,
        )
        dim = 0 if ndim in (0, 1, 3) else 1
    return norm_dim(dim, ndim, op)


def _row_op(fn: type, op: str, input: Tensor, dim: Any, dtype: Any) -> Tensor:
    if dtype is None and type(dim) is int:
        x = fast.plain(input)
        # outside any graph, over the last dim of a contiguous float32 tensor: the kernel on
        # its rows directly (what fn.forward does, without the Function around it)
        if (
            x is not None
            and x.ndim
            and (dim == -1 or dim == x.ndim - 1)
            and x.dtype == np.float32
            and x.flags.c_contiguous
            and x.size
        ):
            y = np.empty_like(x)
            rows = x.shape[-1]
            kernel = kernels.get(fn.FORWARD, "cpu", x.dtype)
            kernel(x.reshape(-1, rows), y.reshape(-1, rows))
            return fast.result(y)
    input = tensor_arg(input, op)
    if dtype is not None:
        input = input.to(dtype)
    check_float(input.array, op)
    d = _softmax_dim(op, input.ndim, dim, 4)
    return fn.apply(input, d)


def softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    """exp(input) / sum(exp(input)) along `dim` (fused, stable kernel).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.softmax(fd.tensor([[0.0, 0.0]]), dim=1).tolist()
        [[0.5, 0.5]]
    """
    return _row_op(SoftmaxFn, "softmax", input, dim, dtype)


def log_softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    """input - logsumexp(input) along `dim` (fused, stable kernel)."""
    return _row_op(LogSoftmaxFn, "log_softmax", input, dim, dtype)


def softmin(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    """softmax(-input) along `dim`."""
    input = tensor_arg(input, "softmin")
    if dtype is not None:
        input = input.to(dtype)
    return _row_op(SoftmaxFn, "softmin", _ops.neg(input), dim, None)


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy of logits `input` against class indices or class probabilities.

    input (C,), (N, C) or (N, C, d1, ...); target: class indices of shape (), (N,) or
    (N, d1, ...), or probabilities with the input's shape. 'mean' divides by the summed weight
    of the non-ignored targets (by N for probabilities), as in PyTorch; `label_smoothing` mixes
    the target with the uniform distribution. Runs the fused log-softmax + NLL kernel.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> round(F.cross_entropy(fd.zeros(2, 4), fd.tensor([1, 3])).item(), 4)
        1.3863
    """
    op = "cross_entropy"
    input, target = tensor_arg(input, op), tensor_arg(target, op, "target")
    weight = optional_tensor_arg(weight, op, "weight")
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction), op)
    check_float(input.array, op)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"[{op}] label_smoothing must be between 0.0 and 1.0, got {label_smoothing}"
        )
    c = input.shape[1] if input.ndim > 1 else (input.shape[0] if input.ndim else 0)
    if weight is not None and tuple(weight.shape) != (c,):
        raise ValueError(
            f"[{op}] weight must have one value per class: expected shape ({c},), "
            f"got {tuple(weight.shape)}"
        )
    w = None if weight is None else weight.array
    if target.dtype.kind == "f":
        if tuple(target.shape) != tuple(input.shape):
            raise ValueError(
                f"[{op}] class-probability target must have the input's shape "
                f"{tuple(input.shape)}, got {tuple(target.shape)}"
            )
        return SoftCrossEntropyFn.apply(input, target, w, float(label_smoothing), reduction)
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"[{op}] target must hold class indices (int64) or class probabilities "
            f"(float), got {target.dtype}"
        )
    return CrossEntropyFn.apply(
        input, target, w, int(ignore_index), float(label_smoothing), reduction
    )


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood: -weight[t] * input[i, t] for log-probabilities `input`.

    Shapes and the 'mean' reduction are those of :func:`cross_entropy` with class indices.
    """
    op = "nll_loss"
    input, target = tensor_arg(input, op), tensor_arg(target, op, "target")
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction), op)
    check_float(input.array, op)
    if target.dtype.kind not in "iu":
        raise TypeError(f"[{op}] target must hold class indices (int64), got {target.dtype}")
    w = None if weight is None else tensor_arg(weight, op, "weight").array
    return NllLossFn.apply(input, target, w, int(ignore_index), reduction)


def _softmax_method(self: Tensor, dim: int, dtype: Any = None) -> Tensor:
    return softmax(self, dim, dtype=dtype) if dtype is not None else softmax(self, dim)


def _log_softmax_method(self: Tensor, dim: int, dtype: Any = None) -> Tensor:
    return log_softmax(self, dim, dtype=dtype) if dtype is not None else log_softmax(self, dim)


# Tensor.softmax / Tensor.log_softmax: this family's methods, attached by the family itself
# (Tensor sits two layers below and cannot import it).
Tensor.softmax = _softmax_method
Tensor.log_softmax = _log_softmax_method

"""Reductions with autograd: sum, mean, prod, max/min (with indices), amax/amin, var/std,
argmax/argmin, logsumexp, all/any, cumsum/cumprod (norms: ``norms.py``).

``dim`` is None (every dim), an int or a tuple of ints; ``keepdim`` keeps reduced dims as size 1.
Each backward re-inserts the reduced dims into the gradient and broadcasts it to the input shape.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from ..arrays import xp
from ..autograd import Function
from ..dtypes import int64
from ..tensor import Tensor
from . import fast
from ._util import grid, norm_dim, norm_dims, wrap
from .convert import cast
from .elementwise import maximum, minimum
from .indexing import masked_fill

__all__ = [
    "all",
    "aminmax",
    "amax",
    "amin",
    "any",
    "argmax",
    "argmin",
    "count_nonzero",
    "cumprod",
    "cumsum",
    "logsumexp",
    "max",
    "mean",
    "min",
    "nanmean",
    "nansum",
    "prod",
    "std",
    "std_mean",
    "sum",
    "var",
    "var_mean",
]

# PyTorch's torch.return_types.max / min: a (values, indices) tuple with names.
MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])
AminmaxResult = namedtuple("aminmax", ["min", "max"])


def _array(r: Any, like: Any) -> Any:
    """numpy reductions over every axis give a scalar: make it a 0-d array again."""
    return r if type(r) is type(like) else xp(like).asarray(r)


def _expand(g: Any, axes: tuple | None, keepdim: bool, shape: tuple) -> Any:
    """Gradient of a reduction, broadcast back to the input's shape (a read-only view)."""
    if not keepdim and axes:
        g = xp(g).expand_dims(g, axes)
    return xp(g).broadcast_to(g, shape)


class SumFn(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdim, dtype):
        ctx.axes, ctx.keepdim, ctx.shape, ctx.dtype = axes, keepdim, a.shape, a.dtype
        return _array(a.sum(axis=axes, keepdims=keepdim, dtype=dtype), a)

    @staticmethod
    def backward(ctx, g):
        if g.dtype != ctx.dtype:
            g = g.astype(ctx.dtype)
        return _expand(g, ctx.axes, ctx.keepdim, ctx.shape), None, None, None


class MeanFn(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdim):
        ctx.axes, ctx.keepdim, ctx.shape = axes, keepdim, a.shape
        n = a.size if axes is None else int(np.prod([a.shape[i] for i in axes]))
        ctx.scale = 1.0 / n if n else float("nan")
        with np.errstate(invalid="ignore", divide="ignore"):
            return _array(a.mean(axis=axes, keepdims=keepdim), a)

    @staticmethod
    def backward(ctx, g):
        return _expand(g * ctx.scale, ctx.axes, ctx.keepdim, ctx.shape), None, None


class ProdFn(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdim):
        ctx.save_for_backward(a)
        ctx.axis, ctx.keepdim = axis, keepdim
        return _array(a.prod(axis=axis, keepdims=keepdim), a)

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved_tensors[0]
        x = a.reshape(-1) if ctx.axis is None else a
        axis = 0 if ctx.axis is None else ctx.axis
        m = xp(a)
        # d prod / d x_i = product of the others = (exclusive prefix product) * (exclusive suffix
        # product): exact with zeros in the input, unlike prod / x_i.
        lead = (slice(None),) * axis
        first, but_last = lead + (slice(0, 1),), lead + (slice(0, x.shape[axis] - 1),)
        ones = m.ones_like(x[first])
        left = m.cumprod(m.concatenate([ones, x[but_last]], axis=axis), axis=axis)
        flipped = m.flip(x, axis=axis)
        right = m.flip(
            m.cumprod(m.concatenate([ones, flipped[but_last]], axis=axis), axis=axis), axis=axis
        )
        others = (left * right).reshape(a.shape)
        axes = None if ctx.axis is None else (ctx.axis,)
        return _expand(g, axes, ctx.keepdim, a.shape) * others, None, None


class ExtremumAllFn(Function):
    """max()/min()/amax/amin: ties share the gradient equally (PyTorch's rule for these)."""

    @staticmethod
    def forward(ctx, a, axes, keepdim, is_max):
        if a.size == 0:
            raise ValueError(
                f"[{'max' if is_max else 'min'}] the reduction over a tensor with no "
                "elements is not defined; pass a dim of nonzero size"
            )
        out = _array(
            a.max(axis=axes, keepdims=True) if is_max else a.min(axis=axes, keepdims=True), a
        )
        ctx.save_for_backward(a, out)
        ctx.axes, ctx.keepdim = axes, keepdim
        if not keepdim:
            out = out.reshape(()) if axes is None else out.squeeze(axis=axes)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        hit = a == out
        count = hit.sum(axis=ctx.axes, keepdims=True)
        if not ctx.keepdim:
            g = g.reshape(out.shape)
        return hit * (g / count), None, None, None


class ExtremumDimFn(Function):
    """max(dim)/min(dim): values and int64 indices; the gradient goes to the returned index."""

    @staticmethod
    def forward(ctx, a, dim, keepdim, is_max):
        if a.shape[dim] == 0 if a.ndim else False:
            raise IndexError(f"[{'max' if is_max else 'min'}] dim {dim} has size 0")
        m = xp(a)
        idx = (
            m.expand_dims(a.argmax(axis=dim) if is_max else a.argmin(axis=dim), dim)
            if a.ndim
            else m.zeros((), dtype=int64)
        )
        values = m.take_along_axis(a, idx, axis=dim) if a.ndim else a.copy()
        ctx.save_for_backward(idx)
        ctx.shape, ctx.dim, ctx.keepdim = a.shape, dim, keepdim
        if not keepdim and a.ndim:
            values, idx = values.squeeze(dim), idx.squeeze(dim)
        return values, idx.astype(int64, copy=False)

    @staticmethod
    def backward(ctx, g, g_idx):
        idx = ctx.saved_tensors[0]
        m = xp(idx)
        out = m.zeros(ctx.shape, dtype=g.dtype)
        if not ctx.shape:
            return g.copy(), None, None, None
        if not ctx.keepdim:
            g = m.expand_dims(g, ctx.dim)
        out[grid(m, idx.shape, ctx.dim, idx)] = g  # put_along_axis
        return out, None, None, None


def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Sum over `dim` (None: every element). Integer and bool tensors sum to int64.

    Example:
        >>> import pyfastdl as fd
        >>> fd.tensor([[1.0, 2.0], [3.0, 4.0]]).sum(dim=1).tolist()
        [3.0, 7.0]
    """
    if dim is None and dtype is None:
        x = fast.plain(input)
        if x is not None and x.dtype.kind == "f" and x.dtype.itemsize >= 4:
            return fast.result(x.sum(keepdims=bool(keepdim)))  # SumFn.forward, outside the graph
    a = input.array
    if dtype is None and a.dtype.kind in "biu":
        dtype = int64
    return SumFn.apply(input, norm_dims(dim, a.ndim, "sum"), keepdim, dtype)


def mean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Mean over `dim` (None: every element); defined for floating-point tensors only."""
    if dtype is not None:
        input = cast(input, dtype)
    if input.array.dtype.kind != "f":
        raise TypeError(
            f"[mean] expected a floating-point tensor, got {input.array.dtype}; "
            "pass dtype= or convert with .float()"
        )
    return MeanFn.apply(input, norm_dims(dim, input.array.ndim, "mean"), keepdim)


def prod(
    input: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None
) -> Tensor:
    """Product over one dim (None: every element)."""
    if dtype is not None:
        input = cast(input, dtype)
    axis = None if dim is None else norm_dim(dim, input.array.ndim, "prod")
    if input.array.ndim == 0:
        axis = None
    return ProdFn.apply(input, axis, keepdim)


def _extremum(input: Tensor, dim: Any, keepdim: bool, is_max: bool, op: str) -> Any:
    if isinstance(dim, Tensor):  # max(input, other): elementwise
        return maximum(input, dim) if is_max else minimum(input, dim)
    if dim is None:
        return ExtremumAllFn.apply(input, None, False, is_max)
    d = norm_dim(dim, input.array.ndim, op)
    values, indices = ExtremumDimFn.apply(input, d, keepdim, is_max)
    return (MaxResult if is_max else MinResult)(values, indices)


def max(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """max(input) -> the largest element; max(input, dim) -> (values, indices);
    max(input, other) -> elementwise maximum.

    Example:
        >>> import pyfastdl as fd
        >>> fd.tensor([[1.0, 5.0], [7.0, 2.0]]).max(dim=1).indices.tolist()
        [1, 0]
    """
    return _extremum(input, dim, keepdim, True, "max")


def min(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """min(input) -> the smallest element; min(input, dim) -> (values, indices);
    min(input, other) -> elementwise minimum."""
    return _extremum(input, dim, keepdim, False, "min")


def amax(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Largest values over `dim` (() : every dim); ties share the gradient."""
    return ExtremumAllFn.apply(input, norm_dims(dim, input.array.ndim, "amax"), keepdim, True)


def amin(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Smallest values over `dim` (() : every dim); ties share the gradient."""
    return ExtremumAllFn.apply(input, norm_dims(dim, input.array.ndim, "amin"), keepdim, False)


def _arg(input: Tensor, dim: Any, keepdim: bool, is_max: bool, op: str) -> Tensor:
    a = input.array
    if a.size == 0:
        raise ValueError(f"[{op}] expected a non-empty tensor, got shape {tuple(a.shape)}")
    if dim is None:
        r = a.argmax() if is_max else a.argmin()
        r = xp(a).asarray(r, dtype=int64)
        return wrap(r.reshape((1,) * a.ndim) if keepdim else r)
    d = norm_dim(dim, a.ndim, op)
    if a.ndim == 0:
        return wrap(xp(a).zeros((), dtype=int64))
    r = a.argmax(axis=d, keepdims=keepdim) if is_max else a.argmin(axis=d, keepdims=keepdim)
    return wrap(r.astype(int64, copy=False))


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the largest element (flattened when dim is None), as int64."""
    return _arg(input, dim, keepdim, True, "argmax")


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the smallest element (flattened when dim is None), as int64."""
    return _arg(input, dim, keepdim, False, "argmin")


class VarFn(Function):
    @staticmethod
    def forward(ctx, a, axes, correction, keepdim, take_sqrt):
        n = a.size if axes is None else int(np.prod([a.shape[i] for i in axes]))
        mu = a.mean(axis=axes, keepdims=True)
        diff = a - mu
        with np.errstate(invalid="ignore", divide="ignore"):
            # N - correction <= 0 gives inf/nan, as in PyTorch
            denom = n - correction
            out = _array(
                (diff * diff).sum(axis=axes, keepdims=keepdim)
                / (denom if denom > 0 else 0.0 * denom),
                a,
            )
            if take_sqrt:
                out = xp(out).sqrt(out)
        ctx.save_for_backward(diff, out if take_sqrt else None)
        ctx.axes, ctx.keepdim, ctx.denom = axes, keepdim, denom
        return out.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        diff, std = ctx.saved_tensors
        if std is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                g = g / (2 * std)  # d sqrt(v) = dv / (2 sqrt(v))
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = 2.0 / ctx.denom if ctx.denom > 0 else float("nan")
        return _expand(g * scale, ctx.axes, ctx.keepdim, diff.shape) * diff, None, None, None, None


def _correction(unbiased: Any, correction: Any, op: str) -> float:
    if unbiased is not None and correction is not None:
        raise ValueError(f"[{op}] pass either unbiased or correction, not both")
    if correction is not None:
        return float(correction)
    return 1.0 if unbiased is None or unbiased else 0.0


def _var(
    input: Tensor, dim: Any, unbiased: Any, keepdim: bool, correction: Any, op: str, take_sqrt: bool
) -> Tensor:
    if isinstance(dim, bool):  # var(x, False): the old (input, unbiased) form
        dim, unbiased = None, dim
    if input.array.dtype.kind != "f":
        raise TypeError(f"[{op}] expected a floating-point tensor, got {input.array.dtype}")
    axes = norm_dims(dim, input.array.ndim, op)
    return VarFn.apply(input, axes, _correction(unbiased, correction, op), keepdim, take_sqrt)


def var(
    input: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    """Variance over `dim` with Bessel's correction by default (correction=1, like PyTorch).

    Example:
        >>> import pyfastdl as fd
        >>> fd.tensor([1.0, 2.0, 3.0, 4.0]).var().item()
        1.6666666269302368
    """
    return _var(input, dim, unbiased, keepdim, correction, "var", False)


def std(
    input: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    """Standard deviation over `dim` (correction=1 by default, like PyTorch)."""
    return _var(input, dim, unbiased, keepdim, correction, "std", True)


def var_mean(
    input: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> tuple:
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(
    input: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> tuple:
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


class LogSumExpFn(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdim):
        m = (
            a.max(axis=axes, keepdims=True)
            if a.size
            else xp(a).zeros(
                [1 if axes is None or i in axes else n for i, n in enumerate(a.shape)], a.dtype
            )
        )
        # shift by the max so exp never overflows; rows of -inf shift by 0 instead
        xm = xp(a)
        m = xm.where(xm.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):
            out = xm.log(xm.exp(a - m).sum(axis=axes, keepdims=True)) + m
        ctx.save_for_backward(a, out)
        ctx.axes, ctx.keepdim = axes, keepdim
        if not keepdim:
            out = out.reshape(()) if axes is None else out.squeeze(axis=axes)
        return _array(out, a)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        if not ctx.keepdim:
            g = g.reshape(out.shape)
        with np.errstate(invalid="ignore"):
            return g * xp(a).exp(a - out), None, None


def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """log(sum(exp(input), dim)), computed without overflow."""
    if input.array.dtype.kind != "f":
        raise TypeError(f"[logsumexp] expected a floating-point tensor, got {input.array.dtype}")
    return LogSumExpFn.apply(input, norm_dims(dim, input.array.ndim, "logsumexp"), keepdim)


def all(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """True where every element (over `dim`) is nonzero."""
    axes = norm_dims(dim, input.array.ndim, "all")
    return wrap(_array(input.array.all(axis=axes, keepdims=keepdim), input.array))


def any(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """True where some element (over `dim`) is nonzero."""
    axes = norm_dims(dim, input.array.ndim, "any")
    return wrap(_array(input.array.any(axis=axes, keepdims=keepdim), input.array))


class CumsumFn(Function):
    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        return xp(a).cumsum(a, axis=dim)

    @staticmethod
    def backward(ctx, g):
        # each input contributes to every later output: reversed cumulative sum
        m = xp(g)
        return m.flip(m.cumsum(m.flip(g, ctx.dim), axis=ctx.dim), ctx.dim), None


def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Cumulative sum along `dim`."""
    if dtype is not None:
        input = cast(input, dtype)
    a = input.array
    if a.ndim == 0:
        norm_dim(dim, 0, "cumsum")
        return CumsumFn.apply(input.reshape(1), 0).reshape(())
    return CumsumFn.apply(input, norm_dim(dim, a.ndim, "cumsum"))


def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False) -> AminmaxResult:
    """The minimum and maximum (over `dim`; None: every element) as ``(min, max)``."""
    if input.array.size == 0:
        raise RuntimeError("[aminmax] cannot compute aminmax of an empty tensor")
    d = () if dim is None else norm_dim(dim, input.array.ndim, "aminmax")
    return AminmaxResult(amin(input, d, keepdim), amax(input, d, keepdim))


def nansum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Sum over `dim` (None: every element) treating NaN as zero; NaN gets no gradient.

    Example:
        >>> import pyfastdl as fd
        >>> fd.nansum(fd.tensor([1.0, float("nan"), 2.0])).item()
        3.0
    """
    if input.array.dtype.kind == "f":
        input = masked_fill(input, input.array != input.array, 0)
    return sum(input, dim, keepdim, dtype=dtype)


def nanmean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Mean over `dim` of the elements that are not NaN (NaN where all are)."""
    if input.array.dtype.kind != "f":
        raise RuntimeError(
            f"[nanmean] expected a floating point tensor as input, got {input.array.dtype}"
        )
    axes = norm_dims(dim, input.array.ndim, "nanmean")
    count = (input.array == input.array).sum(axis=axes, keepdims=keepdim)
    return nansum(input, dim, keepdim, dtype=dtype) / wrap(_array(count, input.array))


def count_nonzero(input: Tensor, dim: Any = None) -> Tensor:
    """How many elements (over `dim`; None: all) are nonzero, as int64."""
    axes = norm_dims(dim, input.array.ndim, "count_nonzero")
    a = input.array
    return wrap(_array((a != 0).sum(axis=axes), a).astype(int64, copy=False))


class CumprodFn(Function):
    @staticmethod
    def forward(ctx, a, dim):
        out = xp(a).cumprod(a, axis=dim)
        ctx.dim = dim
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        m, d = xp(g), ctx.dim
        if m.all(a != 0):
            # d out_j / d a_i = out_j / a_i for j >= i: a reversed cumulative sum of g * out
            return m.flip(m.cumsum(m.flip(g * out, d), axis=d), d) / a, None
        # with zeros: for each position i, the products with a_i replaced by 1
        grad = m.empty_like(a)
        moved_a, moved_g, moved_grad = (m.moveaxis(x, d, 0) for x in (a, g, grad))
        for i in range(a.shape[d]):
            b = moved_a.copy()
            b[i] = 1
            moved_grad[i] = (m.cumprod(b, axis=0)[i:] * moved_g[i:]).sum(axis=0)
        return grad, None


def cumprod(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Cumulative product along `dim`.

    Example:
        >>> import pyfastdl as fd
        >>> fd.cumprod(fd.tensor([1.0, 2.0, 3.0]), 0).tolist()
        [1.0, 2.0, 6.0]
    """
    if dtype is not None:
        input = cast(input, dtype)
    a = input.array
    if a.dtype.kind == "b" or (a.dtype.kind in "iu" and a.dtype != int64):
        input = cast(input, int64)
    if a.ndim == 0:
        norm_dim(dim, 0, "cumprod")
        return CumprodFn.apply(input.reshape(1), 0).reshape(())
    return CumprodFn.apply(input, norm_dim(dim, a.ndim, "cumprod"))

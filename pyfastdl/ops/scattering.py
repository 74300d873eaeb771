"""Writes at indices, with autograd: scatter, index_add, index_fill, index_put, masked_scatter,
plus argwhere and nan_to_num. Their in-place forms (``scatter_``, ``index_add_``, ...) are
attached by ``methods``.

An index for ``scatter`` addresses like gather's: ``out[index[i][j]][j] = src[i][j]`` for dim 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..arrays import add_at, xp
from ..autograd import Function
from ..tensor import Tensor
from ._util import as_array, grid, norm_dim, on_device_of, unbroadcast, wrap
from .indexing import check_bounds, nonzero, scatter_add

__all__ = [
    "argwhere",
    "index_add",
    "index_fill",
    "index_put",
    "masked_scatter",
    "nan_to_num",
    "scatter",
]


def _index_array(index: Any, op: str, like: Any) -> Any:
    """The integer index array of `index` (a Tensor, list or array) on the device of `like`."""
    ix = as_array(index)
    ix = on_device_of(like, ix, op, move=not isinstance(index, Tensor))
    if ix.dtype.kind not in "iu":
        raise TypeError(f"[{op}] index must be an integer tensor, got {ix.dtype}")
    return ix


# ---------------------------------------------------------------------- scatter
def _scatter_positions(a: Any, dim: int, index: Any) -> tuple:
    return grid(xp(a), index.shape, dim, index)


class ScatterFn(Function):
    @staticmethod
    def forward(ctx, a, dim, index, src):
        out = a.copy()
        pos = _scatter_positions(a, dim, index)
        if hasattr(src, "shape"):
            corner = tuple(slice(0, n) for n in index.shape)
            out[pos] = src[corner]
            ctx.src_shape, ctx.corner = src.shape, corner
        else:
            out[pos] = src
        ctx.pos = pos
        return out

    @staticmethod
    def backward(ctx, g):
        ga = gs = None
        if ctx.needs_input_grad[0]:
            ga = g.copy()
            ga[ctx.pos] = 0
        if ctx.needs_input_grad[3]:
            gs = xp(g).zeros(ctx.src_shape, g.dtype)
            gs[ctx.corner] = g[ctx.pos]
        return ga, None, None, gs


def scatter(
    input: Tensor,
    dim: int,
    index: Tensor,
    src: Any = None,
    *,
    value: Any = None,
    reduce: str | None = None,
) -> Tensor:
    """`input` with `src` (a tensor, or the number `value`) written at `index` along `dim`:
    ``out[index[i][j]][j] = src[i][j]`` for dim 0. ``reduce='add'`` adds instead (scatter_add).

    Example:
        >>> import pyfastdl as fd
        >>> fd.zeros(3).scatter(0, fd.tensor([2, 0]), fd.tensor([5.0, 7.0])).tolist()
        [7.0, 0.0, 5.0]
    """
    if src is None:
        src = value
    if src is None:
        raise TypeError("[scatter] expected src (a Tensor) or value (a number)")
    if isinstance(src, np.generic):
        src = src.item()
    if reduce is not None and reduce != "add":
        raise ValueError(f"[scatter] reduce must be None or 'add', got {reduce!r}")
    a = input.array
    d = norm_dim(dim, a.ndim, "scatter")
    ix = _index_array(index, "scatter", a)
    if ix.ndim != a.ndim:
        raise RuntimeError(
            f"[scatter] index must have as many dims as input ({a.ndim}), got shape "
            f"{tuple(ix.shape)}"
        )
    check_bounds(ix, a.shape[d] if a.ndim else 1, d, "scatter")
    if reduce == "add":
        if not isinstance(src, Tensor):
            src = Tensor(xp(a).full(ix.shape, src, a.dtype))
        return scatter_add(input, d, ix, src)
    if isinstance(src, Tensor):
        if src.array.dtype != a.dtype:
            raise RuntimeError(
                f"[scatter] expected self.dtype to be equal to src.dtype, got {a.dtype} and "
                f"{src.array.dtype}"
            )
        if src.array.ndim != a.ndim or any(k > n for k, n in zip(ix.shape, src.array.shape)):
            raise RuntimeError(
                f"[scatter] index of shape {tuple(ix.shape)} does not fit src of shape "
                f"{tuple(src.array.shape)}"
            )
    elif not isinstance(src, (int, float, bool, np.number)):
        raise TypeError(f"[scatter] src must be a Tensor or a number, got {type(src).__name__}")
    return ScatterFn.apply(input, d, ix, src)


# ---------------------------------------------------------------------- index_add / index_fill
def _along(d: int, ix: Any) -> tuple:
    return (slice(None),) * d + (ix,)


class IndexAddFn(Function):
    @staticmethod
    def forward(ctx, a, dim, index, source, alpha):
        out = a.copy()
        m = xp(a)
        # add.at along dim: move dim first so the index addresses axis 0
        add_at(m.moveaxis(out, dim, 0), index, m.moveaxis(source * alpha, dim, 0))
        ctx.dim, ctx.index, ctx.alpha = dim, index, alpha
        return out

    @staticmethod
    def backward(ctx, g):
        gs = None
        if ctx.needs_input_grad[3]:
            gs = xp(g).take(g, ctx.index, axis=ctx.dim) * ctx.alpha
        return g, None, None, gs, None


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """`input` with ``alpha * source`` added at positions `index` (1-d) along `dim`; repeats
    accumulate.

    Example:
        >>> import pyfastdl as fd
        >>> fd.zeros(3).index_add(0, fd.tensor([0, 0, 2]), fd.ones(3)).tolist()
        [2.0, 0.0, 1.0]
    """
    a = input.array
    d = norm_dim(dim, a.ndim, "index_add")
    ix = _index_array(index, "index_add", a).reshape(-1)
    s = as_array(source)
    s = on_device_of(a, s, "index_add", move=not isinstance(source, Tensor))
    expected = a.shape[:d] + (ix.size,) + a.shape[d + 1 :] if a.ndim else (ix.size,)
    if tuple(s.shape) != tuple(expected) and not (a.ndim == 0 and s.size == ix.size):
        raise RuntimeError(
            f"[index_add] source must have shape {tuple(expected)}, got {tuple(s.shape)}"
        )
    if s.dtype != a.dtype:
        raise RuntimeError(
            f"[index_add] source dtype {s.dtype} does not match self dtype {a.dtype}"
        )
    check_bounds(ix, a.shape[d] if a.ndim else 1, d, "index_add")
    if a.ndim == 0:
        return IndexAddFn.apply(input.reshape(1), 0, ix, source.reshape(-1), alpha).reshape(())
    return IndexAddFn.apply(input, d, ix, source, alpha)


class IndexFillFn(Function):
    @staticmethod
    def forward(ctx, a, dim, index, value):
        out = a.copy()
        out[_along(dim, index)] = value
        ctx.where = _along(dim, index)
        return out

    @staticmethod
    def backward(ctx, g):
        g = g.copy()
        g[ctx.where] = 0
        return g, None, None, None


def index_fill(input: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:
    """`input` with the slices at `index` (1-d) along `dim` set to `value` (a number or 0-d
    tensor)."""
    a = input.array
    d = norm_dim(dim, a.ndim, "index_fill")
    ix = _index_array(index, "index_fill", a).reshape(-1)
    if isinstance(value, Tensor):
        if value.array.ndim:
            raise RuntimeError(
                f"[index_fill] value must be a 0-d tensor, got {value.array.ndim} dims"
            )
        value = value.array.item()
    check_bounds(ix, a.shape[d] if a.ndim else 1, d, "index_fill", negative=True)
    if a.ndim == 0:
        return IndexFillFn.apply(input.reshape(1), 0, ix, value).reshape(())
    return IndexFillFn.apply(input, d, ix, value)


# ---------------------------------------------------------------------- index_put
class IndexPutFn(Function):
    @staticmethod
    def forward(ctx, a, index, values, accumulate):
        out = a.copy()
        if accumulate:
            add_at(out, index, values)
        else:
            out[index] = values
        ctx.index, ctx.accumulate = index, accumulate
        ctx.values_like = (values.shape, values.dtype) if hasattr(values, "shape") else None
        return out

    @staticmethod
    def backward(ctx, g):
        ga = gv = None
        if ctx.needs_input_grad[0]:
            ga = g
            if not ctx.accumulate:
                ga = g.copy()
                ga[ctx.index] = 0
        if ctx.needs_input_grad[2]:
            gv = unbroadcast(g[ctx.index], *ctx.values_like)
        return ga, None, gv, None


def index_put(input: Tensor, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
    """`input` with ``input[indices] = values`` (`indices` a tuple of index tensors); with
    `accumulate`, values are added and repeated indices accumulate.

    Example:
        >>> import pyfastdl as fd
        >>> idx = (fd.tensor([0, 0]),)
        >>> fd.zeros(2).index_put(idx, fd.tensor([1.0, 2.0]), accumulate=True).tolist()
        [3.0, 0.0]
    """
    if not isinstance(indices, (tuple, list)):
        raise TypeError(
            f"[index_put] indices must be a tuple of tensors, got {type(indices).__name__}"
        )
    a = input.array
    index = tuple(
        on_device_of(a, i.array, "index_put", move=True)
        if isinstance(i, Tensor)
        else on_device_of(a, np.asarray(i), "index_put", move=True)
        if isinstance(i, (list, np.ndarray))
        else i
        for i in indices
    )
    for i in index:
        if hasattr(i, "dtype") and i.dtype.kind not in "iub":
            raise IndexError(f"[index_put] indices must be integer or bool tensors, got {i.dtype}")
    if isinstance(values, Tensor) and values.array.dtype != input.array.dtype:
        raise RuntimeError(
            f"[index_put] values of dtype {values.array.dtype} do not match input's "
            f"{input.array.dtype}"
        )
    try:
        return IndexPutFn.apply(input, index, values, bool(accumulate))
    except IndexError as e:
        raise IndexError(f"[index_put] {e}") from None


# ---------------------------------------------------------------------- masked_scatter
class MaskedScatterFn(Function):
    @staticmethod
    def forward(ctx, a, mask, source):
        out = a.copy()
        count = int(mask.sum())
        out[mask] = source.reshape(-1)[:count]
        ctx.mask, ctx.count, ctx.src_shape = mask, count, source.shape
        return out

    @staticmethod
    def backward(ctx, g):
        ga = gs = None
        if ctx.needs_input_grad[0]:
            ga = g.copy()
            ga[ctx.mask] = 0
        if ctx.needs_input_grad[2]:
            flat = xp(g).zeros(int(np.prod(ctx.src_shape)), g.dtype)
            flat[: ctx.count] = g[ctx.mask]
            gs = flat.reshape(ctx.src_shape)
        return ga, None, gs


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """`input` with the elements where `mask` is True replaced, in order, by the first elements
    of `source` (mask broadcasts to input).

    Example:
        >>> import pyfastdl as fd
        >>> m = fd.tensor([True, False, True])
        >>> fd.zeros(3).masked_scatter(m, fd.tensor([1.0, 2.0])).tolist()
        [1.0, 0.0, 2.0]
    """
    m = as_array(mask)
    if m.dtype.kind != "b":
        raise TypeError(f"[masked_scatter] mask must be a bool tensor, got {m.dtype}")
    a = input.array
    m = on_device_of(a, m, "masked_scatter", move=not isinstance(mask, Tensor))
    try:
        shape = np.broadcast_shapes(m.shape, a.shape)
    except ValueError:
        raise RuntimeError(
            f"[masked_scatter] mask of shape {tuple(m.shape)} does not broadcast to input of "
            f"shape {tuple(a.shape)}"
        ) from None
    if shape != a.shape:
        raise RuntimeError(
            f"[masked_scatter] mask of shape {tuple(m.shape)} must broadcast to input's shape "
            f"{tuple(a.shape)}"
        )
    m = xp(a).broadcast_to(m, shape)
    if source.array.size < int(m.sum()):
        raise RuntimeError(
            f"[masked_scatter] source has {source.array.size} elements, fewer than the "
            f"{int(m.sum())} True entries of mask"
        )
    if source.array.dtype != a.dtype:
        raise RuntimeError(
            f"[masked_scatter] expected source of dtype {a.dtype}, got {source.array.dtype}"
        )
    return MaskedScatterFn.apply(input, m, source)


# ---------------------------------------------------------------------- argwhere, nan_to_num
def argwhere(input: Tensor) -> Tensor:
    """The (n, ndim) int64 indices of the nonzero elements (``nonzero(input)``)."""
    return nonzero(input)


class NanToNumFn(Function):
    @staticmethod
    def forward(ctx, a, nan, posinf, neginf):
        ctx.save_for_backward(xp(a).isfinite(a))
        return xp(a).nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved_tensors[0], None, None, None


def nan_to_num(
    input: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> Tensor:
    """`input` with NaN replaced by `nan`, +inf by `posinf` and -inf by `neginf` (default: the
    largest and lowest finite values of the dtype). The gradient is zero at replaced elements.

    Example:
        >>> import pyfastdl as fd
        >>> fd.nan_to_num(fd.tensor([float("nan"), 1.0]), nan=-1.0).tolist()
        [-1.0, 1.0]
    """
    if input.array.dtype.kind != "f":
        return wrap(input.array.copy())
    return NanToNumFn.apply(input, nan, posinf, neginf)

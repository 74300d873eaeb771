"""Sorting and selection: sort, argsort, msort, topk, kthvalue, median, quantile, cummax/cummin,
unique, searchsorted, bucketize.

The indices come from a stable argsort (NaN sorts as the largest value, as in PyTorch); the
values are ``gather(input, dim, indices)``, so their gradient flows back to the picked elements.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from ..arrays import to_host, xp
from ..tensor import Tensor
from ._util import as_array, norm_dim, on_device_of, wrap
from .elementwise import add, mul, sub
from .indexing import gather, getitem, masked_fill
from .shape import reshape, squeeze, stack, unsqueeze

__all__ = [
    "argsort",
    "bucketize",
    "cummax",
    "cummin",
    "kthvalue",
    "median",
    "msort",
    "nanquantile",
    "quantile",
    "searchsorted",
    "sort",
    "topk",
    "unique",
]

# PyTorch's torch.return_types: (values, indices) tuples with names.
SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])
KthvalueResult = namedtuple("kthvalue", ["values", "indices"])
MedianResult = namedtuple("median", ["values", "indices"])
CummaxResult = namedtuple("cummax", ["values", "indices"])
CumminResult = namedtuple("cummin", ["values", "indices"])


def _argsort(a: Any, dim: int, descending: bool) -> Any:
    """Stable argsort along `dim`; descending keeps equal elements in their original order."""
    m = xp(a)
    if a.dtype.kind == "b":
        a = a.astype(np.uint8)
    if not descending:
        return m.argsort(a, axis=dim, kind="stable")
    # sort the reversed array ascending (ties: later first), then reverse: ties come out first-first
    idx = m.argsort(m.flip(a, dim), axis=dim, kind="stable")
    return m.flip(a.shape[dim] - 1 - idx, dim)


def _dim(input: Tensor, dim: int, op: str) -> int:
    if not isinstance(input, Tensor):
        raise TypeError(f"[{op}] expected a Tensor, got {type(input).__name__}")
    return norm_dim(dim, input.array.ndim, op)


def _sorted(input: Tensor, d: int, idx: Any) -> Tensor:
    """The values of `input` at `idx` along `d` (a 0-d input is its own sort)."""
    if input.array.ndim == 0:
        return input
    return gather(input, d, idx)


def sort(
    input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False
) -> SortResult:
    """The values of `input` sorted along `dim`, and their indices in `input` (always stable).

    Example:
        >>> import pyfastdl as fd
        >>> v, i = fd.sort(fd.tensor([3.0, 1.0, 2.0]), descending=True)
        >>> v.tolist(), i.tolist()
        ([3.0, 2.0, 1.0], [0, 2, 1])
    """
    d = _dim(input, dim, "sort")
    a = input.array
    if a.ndim == 0:
        return SortResult(input, wrap(xp(a).zeros((), np.int64)))
    idx = _argsort(a, d, descending).astype(np.int64, copy=False)
    return SortResult(_sorted(input, d, idx), wrap(idx))


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort `input` along `dim`."""
    return sort(input, dim, descending, stable).indices


def msort(input: Tensor) -> Tensor:
    """`input` sorted along its first dim."""
    return sort(input, 0).values


def topk(
    input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True
) -> TopkResult:
    """The `k` largest (or smallest) elements along `dim` and their indices, largest first.

    Example:
        >>> import pyfastdl as fd
        >>> fd.topk(fd.tensor([1.0, 4.0, 2.0, 3.0]), 2).values.tolist()
        [4.0, 3.0]
    """
    d = _dim(input, dim, "topk")
    a = input.array
    n = a.shape[d] if a.ndim else 1
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise TypeError(f"[topk] k must be an int, got {type(k).__name__}")
    if not (0 <= k <= n) or (a.ndim == 0 and k != 1):
        raise RuntimeError(f"[topk] k ({k}) is out of range for a dim of size {n}")
    if a.ndim == 0:
        return TopkResult(input, wrap(xp(a).zeros((), np.int64)))
    idx = _argsort(a, d, largest).astype(np.int64, copy=False)
    idx = xp(a).ascontiguousarray(xp(a).moveaxis(xp(a).moveaxis(idx, d, 0)[:k], 0, d))
    return TopkResult(_sorted(input, d, idx), wrap(idx))


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> KthvalueResult:
    """The `k`-th smallest element (k counts from 1) along `dim`, and its index."""
    d = _dim(input, dim, "kthvalue")
    a = input.array
    n = a.shape[d] if a.ndim else 1
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise TypeError(f"[kthvalue] k must be an int, got {type(k).__name__}")
    if not 1 <= k <= n:
        raise IndexError(f"[kthvalue] k ({k}) is out of range for a dim of size {n}")
    if a.ndim == 0:
        return KthvalueResult(input, wrap(xp(a).zeros((), np.int64)))
    at_k = (slice(None),) * d + (slice(k - 1, k),)
    idx = _argsort(a, d, False)[at_k].astype(np.int64, copy=False)
    values = gather(input, d, idx)
    if not keepdim:
        values, idx = squeeze(values, d), idx.squeeze(axis=d)
    return KthvalueResult(values, wrap(idx))


def median(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """The lower median: of every element (a 0-d tensor) or, with `dim`, along `dim` with its
    index (``(values, indices)``).

    Example:
        >>> import pyfastdl as fd
        >>> fd.median(fd.tensor([4.0, 1.0, 3.0, 2.0])).item()
        2.0
    """
    if dim is None:
        flat = reshape(input, -1)
        n = flat.array.shape[0]
        if n == 0:
            raise IndexError("[median] median() of an empty tensor is not defined")
        return kthvalue(flat, (n + 1) // 2, 0).values
    d = _dim(input, dim, "median")
    n = input.array.shape[d] if input.array.ndim else 1
    values, indices = kthvalue(input, (n + 1) // 2, d, keepdim)
    return MedianResult(values, indices)


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(
    input: Tensor, q: Any, dim: Any, keepdim: bool, interpolation: str, ignore_nan: bool, op: str
) -> Tensor:
    a = input.array
    if a.dtype.kind != "f":
        raise RuntimeError(f"[{op}] input tensor must be either float or double, got {a.dtype}")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(
            f"[{op}] interpolation must be one of {_INTERPOLATIONS}, got {interpolation!r}"
        )
    qs = np.asarray(to_host(q.array) if isinstance(q, Tensor) else q, dtype=np.float64)
    if qs.ndim > 1:
        raise RuntimeError(f"[{op}] q must be a scalar or 1-d tensor, got {qs.ndim} dims")
    if ((qs < 0) | (qs > 1)).any():
        raise RuntimeError(f"[{op}] q values must be in the range [0, 1]")
    x, d = (reshape(input, -1), 0) if dim is None else (input, norm_dim(dim, a.ndim, op))
    if x.array.ndim == 0:
        x, d = reshape(x, 1), 0
    n = x.array.shape[d]
    if n == 0:
        raise IndexError(f"[{op}] quantile() input tensor must be non-empty")
    m = xp(a)
    nan = m.isnan(x.array)
    values = sort(x, d).values  # NaN sorts last
    # per slice, the rank of each quantile among the valid (non-NaN) values
    shape1 = (1,) * x.array.ndim
    valid = n - nan.sum(axis=d, keepdims=True) if ignore_nan else m.full(shape1, n)
    rank = m.asarray(qs).reshape((-1,) + shape1) * (m.maximum(valid, 1) - 1)  # (Q, ...)
    if interpolation == "lower":
        rank = m.floor(rank)
    elif interpolation == "higher":
        rank = m.ceil(rank)
    elif interpolation == "nearest":
        rank = m.round(rank)
    lo, hi = m.floor(rank).astype(np.int64), m.ceil(rank).astype(np.int64)
    frac = 0.5 if interpolation == "midpoint" else (rank - lo)

    def pick(idx: Any) -> Tensor:
        # (Q, ..., 1 at d, ...) indices -> values at each quantile, the Q dim first
        full = m.broadcast_to(idx, (qs.size,) + x.array.shape[:d] + (1,) + x.array.shape[d + 1 :])
        return stack([gather(values, d, m.ascontiguousarray(full[i])) for i in range(qs.size)], 0)

    v_lo, v_hi = pick(lo), pick(hi)
    w = frac if interpolation == "midpoint" else m.asarray(frac, dtype=a.dtype)
    out = add(v_lo, mul(sub(v_hi, v_lo), w))
    if ignore_nan:
        empty = (valid == 0)[None]
        out = masked_fill(out, m.broadcast_to(empty, out.array.shape), float("nan"))
    else:
        has_nan = nan.any(axis=d, keepdims=True)[None]
        out = masked_fill(out, m.broadcast_to(has_nan, out.array.shape), float("nan"))
    out = squeeze(out, d + 1)  # (Q, rest...)
    if keepdim:
        out = reshape(out, qs.size, *((1,) * a.ndim)) if dim is None else unsqueeze(out, d + 1)
    return getitem(out, 0) if qs.ndim == 0 else out


def quantile(
    input: Tensor,
    q: Any,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    interpolation: str = "linear",
) -> Tensor:
    """The `q`-th quantiles (q in [0, 1], a number or 1-d tensor, whose dim comes first in the
    result) of `input` over `dim` (None: every element), interpolating between the two nearest
    ranks; a slice with a NaN gives NaN.

    Example:
        >>> import pyfastdl as fd
        >>> fd.quantile(fd.tensor([0.0, 1.0, 2.0, 3.0]), 0.5).item()
        1.5
    """
    return _quantile(input, q, dim, keepdim, interpolation, False, "quantile")


def nanquantile(
    input: Tensor,
    q: Any,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    interpolation: str = "linear",
) -> Tensor:
    """:func:`quantile` ignoring NaN (NaN only where a slice holds nothing else)."""
    return _quantile(input, q, dim, keepdim, interpolation, True, "nanquantile")


def _cumulative_extreme(input: Tensor, dim: int, is_max: bool, op: str) -> tuple:
    d = _dim(input, dim, op)
    a = input.array
    if a.ndim == 0:
        return input, wrap(xp(a).zeros((), np.int64))
    # on the host: ufunc.accumulate has no CuPy counterpart (a rarely used op; the values are
    # then gathered on the input's device)
    h = to_host(a)
    running = (np.maximum if is_max else np.minimum).accumulate(h, axis=d)
    # a new extreme (ties included, as in PyTorch) moves the index to its own position
    shape = [1] * h.ndim
    shape[d] = h.shape[d]
    pos = np.arange(h.shape[d]).reshape(shape)
    prev = np.concatenate([np.take(h, [0], axis=d), np.delete(running, -1, axis=d)], axis=d)
    new = (h >= prev) if is_max else (h <= prev)
    idx = np.maximum.accumulate(np.where(new, pos, 0), axis=d).astype(np.int64)
    idx = xp(a).asarray(idx)
    return _sorted(input, d, idx), wrap(idx)


def cummax(input: Tensor, dim: int) -> CummaxResult:
    """The running maximum along `dim`, and the index where each was reached."""
    return CummaxResult(*_cumulative_extreme(input, dim, True, "cummax"))


def cummin(input: Tensor, dim: int) -> CumminResult:
    """The running minimum along `dim`, and the index where each was reached."""
    return CumminResult(*_cumulative_extreme(input, dim, False, "cummin"))


def searchsorted(
    sorted_sequence: Tensor,
    input: Any,
    *,
    out_int32: bool = False,
    right: bool = False,
    side: str | None = None,
    sorter: Tensor | None = None,
) -> Tensor:
    """Where each value of `input` would be inserted in `sorted_sequence` (sorted along its last
    dim; leading dims match `input`'s) to keep it sorted: the first such place, or the last with
    ``right=True`` / ``side='right'``.

    Example:
        >>> import pyfastdl as fd
        >>> fd.searchsorted(fd.tensor([1, 3, 5, 7]), fd.tensor([3, 6])).tolist()
        [1, 3]
    """
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"[searchsorted] side must be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise RuntimeError("[searchsorted] side and right can't be set to opposites")
        right = side == "right"
    seq = sorted_sequence.array
    if sorter is not None:
        order = as_array(sorter)
        order = on_device_of(seq, order, "searchsorted", move=not isinstance(sorter, Tensor))
        seq = xp(seq).take_along_axis(seq, order, axis=-1)
    scalar = not isinstance(input, Tensor)
    v = xp(seq).asarray(input) if scalar else on_device_of(seq, input.array, "searchsorted")
    how = "right" if right else "left"
    if seq.ndim <= 1:
        out = xp(seq).searchsorted(seq, v, side=how)
    else:
        if seq.shape[:-1] != v.shape[:-1]:
            raise RuntimeError(
                f"[searchsorted] boundaries of shape {tuple(seq.shape)} and input of shape "
                f"{tuple(v.shape)} must match in all but the last dim"
            )
        rows, vals = seq.reshape(-1, seq.shape[-1]), v.reshape(-1, v.shape[-1])
        out = xp(seq).stack([xp(seq).searchsorted(r, q, side=how) for r, q in zip(rows, vals)])
        out = out.reshape(v.shape)
    return wrap(xp(seq).asarray(out).astype(np.int32 if out_int32 else np.int64))


def bucketize(
    input: Any, boundaries: Tensor, *, out_int32: bool = False, right: bool = False
) -> Tensor:
    """The bucket of each element of `input` among the 1-d sorted `boundaries`: i such that
    ``boundaries[i-1] < x <= boundaries[i]`` (``right=True``: ``boundaries[i-1] <= x <
    boundaries[i]``)."""
    if boundaries.array.ndim != 1:
        raise RuntimeError(f"[bucketize] boundaries must be 1-d, got {boundaries.array.ndim} dims")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def unique(
    input: Tensor,
    sorted: bool = True,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
) -> Any:
    """The distinct elements of `input` (or distinct slices along `dim`), sorted; with
    `return_inverse` the index of each element's value in the result, with `return_counts` how
    often each occurs. Not differentiable, as in PyTorch.

    Example:
        >>> import pyfastdl as fd
        >>> u, inv = fd.unique(fd.tensor([2, 1, 2, 3]), return_inverse=True)
        >>> u.tolist(), inv.tolist()
        ([1, 2, 3], [1, 0, 1, 2])
    """
    a = input.array
    m = xp(a)
    if dim is None:
        values, inverse, counts = m.unique(a.reshape(-1), return_inverse=True, return_counts=True)
        inverse = inverse.reshape(a.shape)
    else:
        d = norm_dim(dim, a.ndim, "unique")
        # unique slices on the host (CuPy's unique has no axis in older versions; a rarely used
        # op), the results back on the input's device
        values, inverse, counts = (
            m.asarray(r)
            for r in np.unique(to_host(a), return_inverse=True, return_counts=True, axis=d)
        )
        inverse = inverse.reshape(-1)
    out = [wrap(values)]
    if return_inverse:
        out.append(wrap(inverse.astype(np.int64, copy=False)))
    if return_counts:
        out.append(wrap(counts.astype(np.int64, copy=False)))
    return out[0] if len(out) == 1 else tuple(out)

"""cosine_similarity, pairwise_distance and normalize (PyTorch's formulas).

All rest on a vector p-norm along one dim whose gradient at a zero vector is 0 (PyTorch's
subgradient), so that identical or zero inputs give finite gradients:
    cosine_similarity = sum((x1 / max(||x1||, eps)) * (x2 / max(||x2||, eps)), dim)
    pairwise_distance = ||x1 - x2 + eps||_p over the last dim
    normalize         = x / max(||x||_p, eps) along dim
    pdist             = ||x[i] - x[j]||_p for the rows i < j of x
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...arrays import xp
from ...autograd import Function
from ...ops._util import norm_dim
from ...ops.elementwise import add, clamp_min, div, mul, sub
from ...ops.reduction import sum as _sum
from ...tensor import Tensor
from ._args import check_float, tensor_arg

__all__ = ["cosine_similarity", "normalize", "pairwise_distance", "pdist"]


class VectorNormFn(Function):
    """||x||_p along `axis` (kept as size 1); p may be 0, inf or any positive number."""

    @staticmethod
    def forward(ctx, x, p, axis):
        m = xp(x)
        a = m.abs(x)
        if p == math.inf:
            n = a.max(axis=axis, keepdims=True)
        elif p == 0:
            n = (a != 0).sum(axis=axis, keepdims=True).astype(x.dtype)
        elif p == 1:
            n = a.sum(axis=axis, keepdims=True)
        elif p == 2:
            n = m.sqrt((a * a).sum(axis=axis, keepdims=True))
        else:
            n = ((a**p).sum(axis=axis, keepdims=True)) ** (1.0 / p)
        ctx.save_for_backward(x, n)
        ctx.p, ctx.axis = p, axis
        return n

    @staticmethod
    def backward(ctx, g):
        x, n = ctx.saved_tensors
        p, axis = ctx.p, ctx.axis
        m = xp(x)
        if p == 0:
            return m.zeros_like(x), None, None
        if p == 1:
            return m.sign(x) * g, None, None
        a = m.abs(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == math.inf:
                hit = (a == n).astype(x.dtype)
                d = m.sign(x) * hit / hit.sum(axis=axis, keepdims=True)
            elif p == 2:
                d = x / n
            else:
                d = m.sign(x) * (a / n) ** (p - 1)
        return m.where(n == 0, 0, d * g).astype(x.dtype), None, None


def _vector_norm(x: Tensor, p: float, dim: int, keepdim: bool) -> Tensor:
    n = VectorNormFn.apply(x, p, dim)
    return n if keepdim else n.squeeze(dim)


def _pair(x1: Any, x2: Any, op: str) -> tuple[Tensor, Tensor]:
    x1 = tensor_arg(x1, op, "x1")
    x2 = tensor_arg(x2, op, "x2")
    check_float(x1.array, op, "x1")
    check_float(x2.array, op, "x2")
    try:
        np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ValueError(
            f"[{op}] x1 and x2 must broadcast together, got shapes {x1.shape} and {x2.shape}"
        ) from None
    return x1, x2


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """The cosine of the angle between x1 and x2 along `dim` (broadcast together), each norm
    clamped below at eps.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.cosine_similarity(fd.tensor([[1.0, 0.0], [1.0, 1.0]]), fd.tensor([[2.0, 0.0]])).tolist()
        [1.0, 0.7071067690849304]
    """
    op = "cosine_similarity"
    x1, x2 = _pair(x1, x2, op)
    shape = np.broadcast_shapes(x1.shape, x2.shape)
    d = norm_dim(dim, len(shape), op)
    x1, x2 = x1.expand(*shape), x2.expand(*shape)
    n1 = clamp_min(_vector_norm(x1, 2, d, True), eps)
    n2 = clamp_min(_vector_norm(x2, 2, d, True), eps)
    return _sum(mul(div(x1, n1), div(x2, n2)), d)


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """The p-norm of x1 - x2 + eps over the last dim (x1 and x2 broadcast together).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.pairwise_distance(fd.tensor([[0.0, 0.0]]), fd.tensor([[3.0, 4.0]]), eps=0.0).tolist()
        [5.0]
    """
    op = "pairwise_distance"
    x1, x2 = _pair(x1, x2, op)
    p = _p_arg(p, op)
    ndim = max(x1.ndim, x2.ndim)
    if ndim == 0:
        raise ValueError(f"[{op}] x1 and x2 must have at least 1 dim, got 0-d tensors")
    return _vector_norm(add(sub(x1, x2), eps), p, ndim - 1, keepdim)


def _p_arg(p: Any, op: str) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or p < 0:
        raise ValueError(f"[{op}] p must be a non-negative number, got {p!r}")
    return float(p)


def normalize(
    input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Tensor | None = None
) -> Tensor:
    """input divided by its p-norm along `dim`, the norm clamped below at eps; with `out`, the
    result is also copied into `out` (and `out` returned).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.normalize(fd.tensor([[3.0, 4.0], [0.0, 0.0]])).tolist()
        [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    op = "normalize"
    input = tensor_arg(input, op)
    check_float(input.array, op)
    d = norm_dim(dim, input.ndim, op)
    x = input if input.ndim else input.reshape(1)  # a 0-d input is a vector of one
    result = div(x, clamp_min(VectorNormFn.apply(x, _p_arg(p, op), d), eps))
    result = result if input.ndim else result.reshape(())
    if out is None:
        return result
    return tensor_arg(out, op, "out").copy_(result.detach())


def pdist(input: Tensor, p: float = 2.0) -> Tensor:
    """The p-norm distances between the rows of (N, M) input, for each pair i < j in row-major
    order: N (N - 1) / 2 values.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.pdist(fd.tensor([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])).tolist()
        [5.0, 10.0, 5.0]
    """
    op = "pdist"
    input = tensor_arg(input, op)
    check_float(input.array, op)
    if input.ndim != 2:
        raise ValueError(f"[{op}] input must be a 2-d (N, M) tensor, got shape {input.shape}")
    i, j = xp(input.array).triu_indices(input.shape[0], 1)
    return _vector_norm(sub(input[i], input[j]), _p_arg(p, op), 1, False)

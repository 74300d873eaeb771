"""Norms with autograd: ``norm`` (torch.norm) and the ``linalg`` norms (vector_norm, matrix_norm,
linalg_norm, exported as ``pyfastdl.linalg.norm``).

The vector p-norm is ``(sum |x|^p)^(1/p)``; its gradient ``g * sign(x) |x|^(p-1) / norm^(p-1)`` is
set to zero where the norm is zero (PyTorch's choice: the subgradient 0 instead of NaN). inf/-inf
are amax/amin of |x| (ties share the gradient); ord 0 counts the nonzero elements. The matrix
norms 'nuc', 2 and -2 go through the singular values: d(sum s)/dA = U V^T and d s_i/dA = u_i v_i^T.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..arrays import xp
from ..autograd import Function
from ..tensor import Tensor
from ._util import norm_dim, norm_dims, wrap
from .convert import cast
from .elementwise import abs as abs_
from .reduction import amax, amin, sum
from .shape import movedim, reshape, unsqueeze

__all__ = ["norm"]

_INF = float("inf")


class VectorNormFn(Function):
    @staticmethod
    def forward(ctx, a, p, axes, keepdim):
        m = xp(a)
        absa = m.abs(a)
        if p == 1:
            out = absa.sum(axis=axes, keepdims=True)
        elif p == 2:
            out = m.sqrt((a * a).sum(axis=axes, keepdims=True))
        else:
            out = (absa**p).sum(axis=axes, keepdims=True) ** (1.0 / p)
        ctx.save_for_backward(a, out)
        ctx.p, ctx.keepdim, ctx.axes = p, keepdim, axes
        if not keepdim:
            out = out.reshape(()) if axes is None else out.squeeze(axis=axes)
        return m.asarray(out)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        m, p = xp(g), ctx.p
        if not ctx.keepdim:
            g = g.reshape(out.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 1:
                grad = m.sign(a) * g
            elif p == 2:
                grad = a * (g / out)
            else:
                grad = m.sign(a) * m.abs(a) ** (p - 1) * (g / out ** (p - 1))
        zero = (out == 0) | (a == 0) if p < 1 else (out == 0)
        return m.where(zero, 0, grad).astype(a.dtype, copy=False), None, None, None


def _floating(x: Tensor, dtype: Any, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"[{op}] expected a Tensor, got {type(x).__name__}")
    if dtype is not None:
        x = cast(x, dtype)
    if x.array.dtype.kind != "f":
        raise RuntimeError(f"[{op}] expected a floating point tensor as input, got {x.array.dtype}")
    return x


def vector_norm(
    x: Tensor, ord: Any = 2, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
) -> Tensor:
    """The vector `ord`-norm of `x` over `dim` (None: every element, as one vector).

    Example:
        >>> import pyfastdl as fd
        >>> fd.linalg.vector_norm(fd.tensor([3.0, -4.0])).item()
        5.0
    """
    x = _floating(x, dtype, "linalg.vector_norm")
    if isinstance(ord, str) or isinstance(ord, bool):
        raise TypeError(f"[linalg.vector_norm] ord must be a number, got {ord!r}")
    axes = norm_dims(dim, x.array.ndim, "linalg.vector_norm")
    if axes == ():
        axes = None if x.array.ndim == 0 else axes
    reduce_dim = () if axes is None else axes
    if ord == _INF or ord == -_INF:
        if x.array.size == 0:
            raise RuntimeError(
                "[linalg.vector_norm] expected a non-empty tensor for ord=inf or -inf"
            )
        return (amax if ord > 0 else amin)(abs_(x), reduce_dim, keepdim)
    if ord == 0:
        a = x.array
        count = (a != 0).sum(axis=axes, keepdims=keepdim).astype(a.dtype)
        return wrap(xp(a).asarray(count))
    return VectorNormFn.apply(x, float(ord), axes, keepdim)


class SingularNormFn(Function):
    """'nuc' (sum of singular values), 2 (the largest) or -2 (the smallest) over the last 2 dims."""

    @staticmethod
    def forward(ctx, a, kind):
        m = xp(a)
        u, s, vh = m.linalg.svd(a, full_matrices=False)
        ctx.save_for_backward(u, vh)
        ctx.kind = kind
        if kind == "nuc":
            return s.sum(axis=-1)
        return s[..., 0] if kind == 2 else s[..., -1]

    @staticmethod
    def backward(ctx, g):
        u, vh = ctx.saved_tensors
        g = g[..., None, None]
        if ctx.kind == "nuc":
            return g * (u @ vh), None
        i = 0 if ctx.kind == 2 else -1
        return g * (u[..., :, i, None] * vh[..., None, i, :]), None


def matrix_norm(
    A: Tensor, ord: Any = "fro", dim: Any = (-2, -1), keepdim: bool = False, *, dtype: Any = None
) -> Tensor:
    """The matrix norm of `A` over the 2 dims `dim`: 'fro', 'nuc', inf, -inf, 1, -1, 2 or -2.

    Example:
        >>> import pyfastdl as fd
        >>> fd.linalg.matrix_norm(fd.eye(3), "nuc").item()
        3.0
    """
    op = "linalg.matrix_norm"
    A = _floating(A, dtype, op)
    nd = A.array.ndim
    if nd < 2:
        raise RuntimeError(f"[{op}] the input tensor A must have at least 2 dimensions")
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise RuntimeError(f"[{op}] dim must be a 2-tuple, got {dim!r}")
    d0, d1 = norm_dim(dim[0], nd, op), norm_dim(dim[1], nd, op)
    if d0 == d1:
        raise RuntimeError(f"[{op}] dims must be different, got ({dim[0]}, {dim[1]})")
    if ord == "fro":
        return VectorNormFn.apply(A, 2.0, tuple(sorted((d0, d1))), keepdim)
    if ord in ("nuc", 2, -2):
        moved = movedim(A, (d0, d1), (-2, -1))
        out = SingularNormFn.apply(moved, ord)
        if keepdim:
            for d in sorted((d0, d1)):
                out = unsqueeze(out, d)
        return out
    if ord in (1, -1, _INF, -_INF):
        # 1: the largest column sum of |A| (sum over rows d0, then max over columns d1)
        inner, outer = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = sum(abs_(A), inner, keepdim=True)
        out = (amax if ord > 0 else amin)(sums, outer, keepdim=True)
        return out if keepdim else reshape(out, *_drop(out.array.shape, (d0, d1)))
    raise RuntimeError(f"[{op}] order {ord!r} not supported")


def _drop(shape: tuple, dims: tuple) -> tuple:
    return tuple(n for i, n in enumerate(shape) if i not in dims)


def linalg_norm(
    A: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
) -> Tensor:
    """``torch.linalg.norm``: a vector norm over one dim (or of a 1-d input), a matrix norm over
    two (or of a 2-d input); with neither `ord` nor `dim`, the 2-norm of the flattened input."""
    op = "linalg.norm"
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) not in (1, 2):
        raise RuntimeError(f"[{op}] dim must be an int or a tuple of 1 or 2 ints, got {dim!r}")
    if ord is None:
        if dim is not None and len(dim) == 2:
            return matrix_norm(A, "fro", dim, keepdim, dtype=dtype)
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if dim is None:
        nd = A.array.ndim
        if nd not in (1, 2):
            raise RuntimeError(
                f"[{op}] if dim is not given and ord is, A must be 1-d or 2-d, got {nd} dims"
            )
        dim = (0,) if nd == 1 else (-2, -1)
    if isinstance(ord, str) or len(dim) == 2:
        if len(dim) != 2:
            raise RuntimeError(f"[{op}] ord {ord!r} needs a 2-tuple dim, got {dim!r}")
        return matrix_norm(A, ord, dim, keepdim, dtype=dtype)
    return vector_norm(A, ord, dim, keepdim, dtype=dtype)


def norm(
    input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None
) -> Tensor:
    """``torch.norm``: a string `p` ('fro', 'nuc') is a matrix norm (Frobenius over any dims),
    a number a vector norm over `dim` (None: every element).

    Example:
        >>> import pyfastdl as fd
        >>> fd.norm(fd.tensor([[1.0, 2.0], [2.0, 4.0]])).item()
        5.0
    """
    if p == "fro":
        if dim is None or isinstance(dim, int) or len(dim) <= 2:
            return vector_norm(input, 2, dim, keepdim, dtype=dtype)
        raise RuntimeError(f"[norm] 'fro' norm needs at most 2 dims, got {dim!r}")
    if p == "nuc":
        if dim is None:
            if input.array.ndim != 2:
                raise RuntimeError("[norm] 'nuc' norm without dim needs a 2-d input")
            dim = (0, 1)
        return matrix_norm(input, "nuc", dim, keepdim, dtype=dtype)
    if isinstance(p, str):
        raise RuntimeError(f"[norm] p must be 'fro', 'nuc' or a number, got {p!r}")
    return vector_norm(input, 2 if p is None else p, dim, keepdim, dtype=dtype)

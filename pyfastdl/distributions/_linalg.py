"""The linear algebra MultivariateNormal needs, with autograd: cholesky, a lower-triangular solve,
the diagonal of a batch of matrices, and the Mahalanobis term.

All take batches of matrices (..., n, n) and broadcast the batch dims like ``torch.linalg``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..arrays import xp
from ..autograd import Function
from ..ops._util import unbroadcast
from ..ops.reduction import sum
from ..tensor import Tensor

__all__ = ["batch_diagonal", "batch_mahalanobis", "cholesky", "solve_lower"]


def _mT(a: Any) -> Any:
    return xp(a).swapaxes(a, -1, -2)


def _solve_lower(L: Any, B: Any) -> Any:
    m = xp(L)
    batch = np.broadcast_shapes(L.shape[:-2], B.shape[:-2])
    L = m.broadcast_to(L, batch + L.shape[-2:])
    B = m.broadcast_to(B, batch + B.shape[-2:])
    return m.linalg.solve(L, B)


class CholeskyFn(Function):
    """L with A = L L^T; backward (Murray 2016): gA = sym(L^-T Phi(L^T gL) L^-1), where Phi takes
    the lower triangle with the diagonal halved and sym(S) = (S + S^T) / 2."""

    @staticmethod
    def forward(ctx, a):
        m = xp(a)
        try:
            L = m.linalg.cholesky(a)
            if m is not np and a.size and bool(m.isnan(L).any()):
                raise np.linalg.LinAlgError  # CuPy answers NaN where NumPy raises
        except np.linalg.LinAlgError:
            raise ValueError(
                "[cholesky] the input is not positive-definite (the factorization failed)"
            ) from None
        ctx.save_for_backward(L)
        return L

    @staticmethod
    def backward(ctx, g):
        L = ctx.saved_tensors[0]
        m = xp(L)
        P = m.tril(_mT(L) @ m.tril(g))
        d = m.diagonal(P, axis1=-2, axis2=-1)
        P = P - m.einsum("...i,ij->...ij", d / 2, m.eye(L.shape[-1]))
        Linv = _solve_lower(L, m.eye(L.shape[-1], dtype=L.dtype))
        S = _mT(Linv) @ P @ Linv
        return (S + _mT(S)) / 2


class SolveLowerFn(Function):
    """X = L^-1 B for lower-triangular L; gB = L^-T G, gL = -tril(gB X^T)."""

    @staticmethod
    def forward(ctx, L, B):
        L = xp(L).tril(L)  # only the lower triangle is read, as in torch.linalg.solve_triangular
        X = _solve_lower(L, B)
        ctx.save_for_backward(L, X)
        ctx.shapes = (L.shape, B.shape)
        return X

    @staticmethod
    def backward(ctx, g):
        L, X = ctx.saved_tensors
        m = xp(L)
        gB = m.linalg.solve(m.broadcast_to(_mT(L), g.shape[:-2] + L.shape[-2:]), g)
        gL = -m.tril(gB @ _mT(X))
        return unbroadcast(gL, ctx.shapes[0]), unbroadcast(gB, ctx.shapes[1])


class DiagonalFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.shape = a.shape
        return xp(a).diagonal(a, axis1=-2, axis2=-1).copy()

    @staticmethod
    def backward(ctx, g):
        m = xp(g)
        out = m.zeros(ctx.shape, dtype=g.dtype)
        n = ctx.shape[-1]
        out[..., m.arange(n), m.arange(n)] = g
        return out


def cholesky(a: Tensor) -> Tensor:
    """The lower Cholesky factor of symmetric positive-definite matrices (..., n, n)."""
    return CholeskyFn.apply(a)


def solve_lower(L: Tensor, B: Tensor) -> Tensor:
    """L^-1 B for lower-triangular L (..., n, n) and B (..., n, k) (batch dims broadcast)."""
    return SolveLowerFn.apply(L, B)


def batch_diagonal(a: Tensor) -> Tensor:
    """The diagonals (..., n) of matrices (..., n, n)."""
    return DiagonalFn.apply(a)


def batch_mahalanobis(L: Tensor, x: Tensor) -> Tensor:
    """x^T (L L^T)^-1 x over the last dim of x (..., n), for lower-triangular L (..., n, n)."""
    n = L.shape[-1]
    batch = np.broadcast_shapes(L.shape[:-2], x.shape[:-1])
    xm = x.expand(*batch, n).unsqueeze(-1)
    z = solve_lower(L, xm)
    return sum(z * z, dim=(-2, -1))

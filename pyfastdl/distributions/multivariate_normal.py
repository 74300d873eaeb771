"""MultivariateNormal(loc, covariance_matrix | precision_matrix | scale_tril), reparameterised."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ops import log, sum
from ..tensor import Tensor, eye
from . import constraints
from ._linalg import batch_diagonal, batch_mahalanobis, cholesky, solve_lower
from .distribution import Distribution
from .utils import as_param, as_sample

__all__ = ["MultivariateNormal"]


def _mT(x: Tensor) -> Tensor:
    return x.transpose(-1, -2)


def precision_to_scale_tril(P: Tensor) -> Tensor:
    """The lower Cholesky factor of P^-1 without inverting P: with Lf Lf^T = flip(P) (both dims
    reversed), flip(Lf)^T is lower triangular and is the inverse of the wanted factor."""
    Lf = cholesky(P.flip((-2, -1)))
    L_inv = _mT(Lf.flip((-2, -1)))
    return solve_lower(L_inv, eye(P.shape[-1], dtype=P.dtype, device=P.device))


class MultivariateNormal(Distribution):
    """The Gaussian over vectors (event_shape (n,)) with mean `loc` (..., n) and a covariance
    given by exactly one of `covariance_matrix`, `precision_matrix` (its inverse) or `scale_tril`
    (its lower Cholesky factor), each (..., n, n).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.distributions import MultivariateNormal
        >>> d = MultivariateNormal(fd.zeros(2), covariance_matrix=fd.eye(2) * 4)
        >>> d.rsample((5,)).shape, d.variance.tolist()
        ((5, 2), [4.0, 4.0])
    """

    arg_constraints = {
        "loc": constraints.real_vector,
        "covariance_matrix": constraints.positive_definite,
        "precision_matrix": constraints.positive_definite,
        "scale_tril": constraints.lower_cholesky,
    }
    support = constraints.real_vector
    has_rsample = True

    def __init__(
        self,
        loc: Any,
        covariance_matrix: Any = None,
        precision_matrix: Any = None,
        scale_tril: Any = None,
        validate_args: bool | None = None,
    ) -> None:
        name = "MultivariateNormal"
        loc = as_param(loc, "loc", name)
        if loc.dim() < 1:
            raise ValueError(f"[{name}] loc must be at least one-dimensional.")
        given = [
            (k, v)
            for k, v in (
                ("covariance_matrix", covariance_matrix),
                ("precision_matrix", precision_matrix),
                ("scale_tril", scale_tril),
            )
            if v is not None
        ]
        if len(given) != 1:
            raise ValueError(
                f"[{name}] Exactly one of covariance_matrix or precision_matrix or scale_tril "
                "may be specified."
            )
        key, matrix = given[0]
        matrix = as_param(matrix, key, name)
        if matrix.dim() < 2:
            raise ValueError(
                f"[{name}] {key} matrix must be at least two-dimensional, with optional leading "
                "batch dimensions"
            )
        n = loc.shape[-1]
        if tuple(matrix.shape[-2:]) != (n, n):
            raise ValueError(
                f"[{name}] {key} must be ({n}, {n}) in its last two dims to match loc of shape "
                f"{tuple(loc.shape)}, got {tuple(matrix.shape)}"
            )
        try:
            batch = np.broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1]))
        except ValueError:
            raise ValueError(
                f"[{name}] the batch shapes of loc {tuple(loc.shape)} and {key} "
                f"{tuple(matrix.shape)} do not broadcast"
            ) from None
        setattr(self, key, matrix.expand(*batch, n, n))
        self.loc = loc.expand(*batch, n)
        super().__init__(batch, (n,), validate_args)
        if key == "scale_tril":
            self._unbroadcasted_scale_tril = matrix
        elif key == "covariance_matrix":
            self._unbroadcasted_scale_tril = cholesky(matrix)
        else:
            self._unbroadcasted_scale_tril = precision_to_scale_tril(matrix)

    @property
    def scale_tril(self) -> Tensor:
        if "scale_tril" in self.__dict__:
            return self.__dict__["scale_tril"]
        n = self.event_shape[0]
        return self._unbroadcasted_scale_tril.expand(*self.batch_shape, n, n)

    @scale_tril.setter
    def scale_tril(self, value: Tensor) -> None:
        self.__dict__["scale_tril"] = value

    @property
    def covariance_matrix(self) -> Tensor:
        if "covariance_matrix" in self.__dict__:
            return self.__dict__["covariance_matrix"]
        L = self._unbroadcasted_scale_tril
        n = self.event_shape[0]
        return (L @ _mT(L)).expand(*self.batch_shape, n, n)

    @covariance_matrix.setter
    def covariance_matrix(self, value: Tensor) -> None:
        self.__dict__["covariance_matrix"] = value

    @property
    def precision_matrix(self) -> Tensor:
        if "precision_matrix" in self.__dict__:
            return self.__dict__["precision_matrix"]
        L = self._unbroadcasted_scale_tril
        n = self.event_shape[0]
        L_inv = solve_lower(L, eye(n, dtype=L.dtype, device=L.device))
        return (_mT(L_inv) @ L_inv).expand(*self.batch_shape, n, n)

    @precision_matrix.setter
    def precision_matrix(self, value: Tensor) -> None:
        self.__dict__["precision_matrix"] = value

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        return sum(L * L, -1).expand(*self.batch_shape, *self.event_shape)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        eps = as_sample(self._rng().standard_normal(shape), self.loc)
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def _half_log_det(self) -> Tensor:
        return sum(log(batch_diagonal(self._unbroadcasted_scale_tril)), -1)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        n = self.event_shape[0]
        m = batch_mahalanobis(self._unbroadcasted_scale_tril, value - self.loc)
        return -0.5 * (n * math.log(2 * math.pi) + m) - self._half_log_det()

    def entropy(self) -> Tensor:
        n = self.event_shape[0]
        h = 0.5 * n * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return h if not self.batch_shape else h.expand(*self.batch_shape)

"""Laplace(loc, scale): the double exponential, reparameterised."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ops import abs, expm1, log, log1p, sign
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import as_sample, broadcast_params, value_tensor

__all__ = ["Laplace"]


class Laplace(Distribution):
    """The Laplace distribution: density exp(-|x - loc| / scale) / (2 scale).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.distributions import Laplace
        >>> Laplace(0.0, 2.0).variance.item()
        8.0
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_params("Laplace", loc=loc, scale=scale)
        super().__init__(self.loc.shape, (), validate_args)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        return 2 * self.scale * self.scale

    @property
    def stddev(self) -> Tensor:
        return math.sqrt(2) * self.scale

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        # u uniform on (-1, 1) (open at -1 so that log1p(-|u|) stays finite), inverse cdf
        eps = float(np.finfo(self.loc.dtype).eps)
        u = self._rng().uniform(eps - 1, 1, self._extended_shape(sample_shape))
        u = as_sample(u, self.loc)
        return self.loc - self.scale * sign(u) * log1p(-abs(u))

    def log_prob(self, value: Any) -> Tensor:
        value = self._value(value, self.loc)
        return -log(2 * self.scale) - abs(value - self.loc) / self.scale

    def cdf(self, value: Any) -> Tensor:
        value = self._value(value, self.loc)
        d = value - self.loc
        return 0.5 - 0.5 * sign(d) * expm1(-abs(d) / self.scale)

    def icdf(self, value: Any) -> Tensor:
        value = value_tensor(value, self.loc)
        term = value - 0.5
        return self.loc - self.scale * sign(term) * log1p(-2 * abs(term))

    def entropy(self) -> Tensor:
        return 1 + log(2 * self.scale)

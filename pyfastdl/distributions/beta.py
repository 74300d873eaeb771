"""Beta(concentration1, concentration0): distributions on [0, 1]."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ops import clamp, log, log1p, where
from ..tensor import Tensor
from . import constraints
from ._special import digamma, lgamma, standard_gamma
from .distribution import Distribution
from .utils import broadcast_params

__all__ = ["Beta"]


def lbeta(a: Tensor, b: Tensor) -> Tensor:
    """log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b)."""
    return lgamma(a) + lgamma(b) - lgamma(a + b)


class Beta(Distribution):
    """The beta distribution: density x^(a-1) (1-x)^(b-1) / B(a, b), a = concentration1 and
    b = concentration0.

    ``rsample`` normalises two reparameterised Gamma draws (see Gamma).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.distributions import Beta
        >>> Beta(fd.tensor([1.0]), fd.tensor([3.0])).mean.tolist()
        [0.25]
    """

    arg_constraints = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
    }
    support = constraints.unit_interval
    has_rsample = True

    def __init__(
        self, concentration1: Any, concentration0: Any, validate_args: bool | None = None
    ) -> None:
        self.concentration1, self.concentration0 = broadcast_params(
            "Beta", concentration1=concentration1, concentration0=concentration0
        )
        super().__init__(self.concentration1.shape, (), validate_args)

    @property
    def mean(self) -> Tensor:
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self) -> Tensor:
        # Dirichlet's mode of (a, b), first coordinate (1 where both are below 1, see Dirichlet)
        a, b = self.concentration1, self.concentration0
        am1, bm1 = clamp(a - 1, min=0.0), clamp(b - 1, min=0.0)
        below = (a < 1) & (b < 1)
        return where(below, 1.0, am1 / where(below, 1.0, am1 + bm1))  # no 0/0 in the gradient

    @property
    def variance(self) -> Tensor:
        a, b = self.concentration1, self.concentration0
        total = a + b
        return a * b / (total * total * (total + 1))

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        # X / (X + Y) for X ~ Gamma(a, 1), Y ~ Gamma(b, 1), both reparameterised
        shape = self._extended_shape(sample_shape)
        rng = self._rng()
        x = standard_gamma(self.concentration1, shape, rng)
        y = standard_gamma(self.concentration0, shape, rng)
        info = np.finfo(self.concentration1.dtype)
        return clamp(x / (x + y), float(info.tiny), 1 - float(info.eps))

    def log_prob(self, value: Any) -> Tensor:
        value = self._value(value, self.concentration1)
        a, b = self.concentration1, self.concentration0
        return (a - 1) * log(value) + (b - 1) * log1p(-value) - lbeta(a, b)

    def entropy(self) -> Tensor:
        a, b = self.concentration1, self.concentration0
        return (
            lbeta(a, b) - (a - 1) * digamma(a) - (b - 1) * digamma(b) + (a + b - 2) * digamma(a + b)
        )

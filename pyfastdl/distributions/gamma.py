"""Gamma(concentration, rate)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ops import clamp, log
from ..tensor import Tensor
from . import constraints
from ._special import digamma, gammainc, lgamma, standard_gamma
from .distribution import Distribution
from .utils import broadcast_params

__all__ = ["Gamma"]


class Gamma(Distribution):
    """The gamma distribution: density rate^c x^(c-1) exp(-rate x) / Gamma(c) on x > 0.

    ``rsample`` is reparameterised implicitly (as PyTorch's): dx/dconcentration is
    -(dF/dconcentration) / f(x) at the drawn x, F the cdf, from the incomplete gamma series.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.distributions import Gamma
        >>> Gamma(fd.tensor([3.0]), fd.tensor([2.0])).mean.tolist()
        [1.5]
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration: Any, rate: Any, validate_args: bool | None = None) -> None:
        self.concentration, self.rate = broadcast_params(
            "Gamma", concentration=concentration, rate=rate
        )
        super().__init__(self.rate.shape, (), validate_args)

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.rate

    @property
    def mode(self) -> Tensor:
        return clamp((self.concentration - 1) / self.rate, min=0)

    @property
    def variance(self) -> Tensor:
        return self.concentration / (self.rate * self.rate)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        x = standard_gamma(self.concentration, shape, self._rng()) / self.rate
        return clamp(x, min=float(np.finfo(self.rate.dtype).tiny))

    def log_prob(self, value: Any) -> Tensor:
        value = self._value(value, self.rate)
        c = self.concentration
        return c * log(self.rate) + (c - 1) * log(value) - self.rate * value - lgamma(c)

    def cdf(self, value: Any) -> Tensor:
        value = self._value(value, self.rate)
        return gammainc(self.concentration, self.rate * value)

    def entropy(self) -> Tensor:
        c = self.concentration
        return c - log(self.rate) + lgamma(c) + (1.0 - c) * digamma(c)

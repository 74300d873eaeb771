"""Exponential(rate), reparameterised."""

from __future__ import annotations

from typing import Any

from ..ops import exp, log, log1p
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import as_sample, broadcast_params, value_tensor

__all__ = ["Exponential"]


class Exponential(Distribution):
    """The exponential distribution: density rate * exp(-rate * x) on x >= 0.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.distributions import Exponential
        >>> Exponential(fd.tensor([2.0])).mean.tolist()
        [0.5]
    """

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate: Any, validate_args: bool | None = None) -> None:
        (self.rate,) = broadcast_params("Exponential", rate=rate)
        super().__init__(self.rate.shape, (), validate_args)

    @property
    def mean(self) -> Tensor:
        return self.rate.reciprocal()

    @property
    def mode(self) -> Tensor:
        return self.rate * 0

    @property
    def stddev(self) -> Tensor:
        return self.rate.reciprocal()

    @property
    def variance(self) -> Tensor:
        return self.rate.pow(-2)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        e = self._rng().standard_exponential(self._extended_shape(sample_shape))
        return as_sample(e, self.rate) / self.rate

    def log_prob(self, value: Any) -> Tensor:
        value = self._value(value, self.rate)
        return log(self.rate) - self.rate * value

    def cdf(self, value: Any) -> Tensor:
        value = self._value(value, self.rate)
        return 1 - exp(-self.rate * value)

    def icdf(self, value: Any) -> Tensor:
        value = value_tensor(value, self.rate)
        return -log1p(-value) / self.rate

    def entropy(self) -> Tensor:
        return 1.0 - log(self.rate)

"""Uniform(low, high): the continuous uniform distribution on [low, high), reparameterised."""

from __future__ import annotations

from typing import Any

from ..ops import clamp, log, where
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import as_sample, broadcast_params, value_tensor

__all__ = ["Uniform"]


class Uniform(Distribution):
    """Uniform on the half-open interval [low, high).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.distributions import Uniform
        >>> d = Uniform(fd.tensor([0.0]), fd.tensor([4.0]))
        >>> d.mean.tolist(), d.cdf(fd.tensor([1.0])).tolist()
        ([2.0], [0.25])
    """

    arg_constraints = {"low": constraints.dependent, "high": constraints.dependent}
    has_rsample = True

    def __init__(self, low: Any, high: Any, validate_args: bool | None = None) -> None:
        self.low, self.high = broadcast_params("Uniform", low=low, high=high)
        super().__init__(self.low.shape, (), validate_args)
        if self._validate_args and not bool((self.low.array < self.high.array).all()):
            raise ValueError("[Uniform] Uniform is not defined when low >= high")

    @property
    def support(self) -> constraints.Constraint:
        return constraints.half_open_interval(self.low, self.high)

    @property
    def mean(self) -> Tensor:
        return (self.high + self.low) / 2

    @property
    def mode(self) -> Tensor:
        return self.low * float("nan")

    @property
    def stddev(self) -> Tensor:
        return (self.high - self.low) / 12**0.5

    @property
    def variance(self) -> Tensor:
        return (self.high - self.low) ** 2 / 12

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        u = as_sample(self._rng().random(self._extended_shape(sample_shape)), self.low)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value: Any) -> Tensor:
        value = self._value(value, self.low)
        inside = (self.low <= value) & (self.high > value)
        return where(inside, -log(self.high - self.low), float("-inf"))

    def cdf(self, value: Any) -> Tensor:
        value = self._value(value, self.low)
        return clamp((value - self.low) / (self.high - self.low), 0, 1)

    def icdf(self, value: Any) -> Tensor:
        value = value_tensor(value, self.low)
        return value * (self.high - self.low) + self.low

    def entropy(self) -> Tensor:
        return log(self.high - self.low)

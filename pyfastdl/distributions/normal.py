"""Normal(loc, scale): the Gaussian, reparameterised."""

from __future__ import annotations

import math
from typing import Any

from ..ops import erf, log
from ..tensor import Tensor
from . import constraints
from ._special import erfinv
from .distribution import Distribution
from .utils import as_sample, broadcast_params, value_tensor

__all__ = ["Normal"]


class Normal(Distribution):
    """The normal distribution with mean `loc` and standard deviation `scale`.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.distributions import Normal
        >>> d = Normal(fd.tensor([0.0, 1.0]), fd.tensor([1.0, 2.0]))
        >>> d.sample((3,)).shape
        (3, 2)
        >>> round(d.log_prob(fd.tensor([0.0, 1.0]))[0].item(), 4)
        -0.9189
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_params("Normal", loc=loc, scale=scale)
        super().__init__(self.loc.shape, (), validate_args)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        return self.scale * self.scale

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        eps = as_sample(self._rng().standard_normal(self._extended_shape(sample_shape)), self.loc)
        return self.loc + eps * self.scale

    def log_prob(self, value: Any) -> Tensor:
        value = self._value(value, self.loc)
        z = (value - self.loc) / self.scale
        return -0.5 * z * z - log(self.scale) - math.log(math.sqrt(2 * math.pi))

    def cdf(self, value: Any) -> Tensor:
        value = self._value(value, self.loc)
        return 0.5 * (1 + erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def icdf(self, value: Any) -> Tensor:
        value = value_tensor(value, self.loc)
        return self.loc + self.scale * erfinv(2 * value - 1) * math.sqrt(2)

    def entropy(self) -> Tensor:
        return 0.5 + 0.5 * math.log(2 * math.pi) + log(self.scale)

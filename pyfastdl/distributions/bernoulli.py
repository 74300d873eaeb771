"""Bernoulli(probs | logits): one coin flip per batch element."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from ..arrays import to_gpu, xp
from ..ops import softplus
from ..ops.shape import broadcast_tensors
from ..tensor import Tensor, arange
from . import constraints
from ._probs import one_of
from .distribution import Distribution
from .utils import as_sample, logits_to_probs, probs_to_logits

__all__ = ["Bernoulli"]


class Bernoulli(Distribution):
    """1 with probability `probs` (or sigmoid(`logits`)), else 0.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.distributions import Bernoulli
        >>> d = Bernoulli(probs=fd.tensor([0.25]))
        >>> d.variance.tolist(), d.sample((4,)).shape
        ([0.1875], (4, 1))
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(
        self, probs: Any = None, logits: Any = None, validate_args: bool | None = None
    ) -> None:
        probs, logits = one_of("Bernoulli", probs, logits)
        if probs is not None:
            self.probs = probs
        else:
            self.logits = logits
        super().__init__((probs if probs is not None else logits).shape, (), validate_args)

    @cached_property
    def logits(self) -> Tensor:
        return probs_to_logits(self.probs, is_binary=True)

    @cached_property
    def probs(self) -> Tensor:
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self) -> tuple:
        given = self.__dict__["probs"] if "probs" in self.__dict__ else self.__dict__["logits"]
        return tuple(given.shape)

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        p = self.probs.array
        return as_sample(xp(p).where(p == 0.5, np.nan, (p >= 0.5).astype(p.dtype)), self.probs)

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        p = self.probs.array
        m = xp(p)
        u = self._rng().random(shape)  # drawn on the host, compared where p lives
        u = u if m is np else to_gpu(u, "Bernoulli.sample")
        return as_sample(u < m.broadcast_to(p, shape), self.probs)

    def log_prob(self, value: Any) -> Tensor:
        logits, value = broadcast_tensors(self.logits, self._value(value, self.logits))
        # -binary_cross_entropy_with_logits(logits, value): value * logits - log(1 + e^logits)
        return value * logits - softplus(logits)

    def entropy(self) -> Tensor:
        return softplus(self.logits) - self.probs * self.logits

    def enumerate_support(self, expand: bool = True) -> Tensor:
        values = arange(2, dtype=self.probs.dtype, device=self.probs.device)
        values = values.reshape((2,) + (1,) * len(self.batch_shape))
        return values.expand(2, *self.batch_shape) if expand else values

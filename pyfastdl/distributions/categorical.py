"""Categorical(probs | logits): one of K categories per batch element."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from ..arrays import to_gpu, xp
from ..ops import clamp, gather, sum
from ..ops.shape import broadcast_tensors
from ..tensor import Tensor, arange
from . import constraints
from ._probs import one_of
from .distribution import Distribution
from .utils import logits_to_probs, normalize_logits, probs_to_logits

__all__ = ["Categorical"]


class Categorical(Distribution):
    """Draws an index in 0..K-1 with the probabilities over the last dim of `probs` (..., K)
    (normalised to sum to 1) or `logits` (unnormalised log-probabilities).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.distributions import Categorical
        >>> d = Categorical(probs=fd.tensor([0.5, 0.25, 0.25]))
        >>> d.sample((2,)).shape, d.batch_shape
        ((2,), ())
        >>> round(d.log_prob(fd.tensor(0)).exp().item(), 4)
        0.5
    """

    arg_constraints = {
        "probs": constraints.simplex,
        "logits": constraints.independent(constraints.real, 1),
    }
    has_enumerate_support = True

    def __init__(
        self, probs: Any = None, logits: Any = None, validate_args: bool | None = None
    ) -> None:
        probs, logits = one_of(type(self).__name__, probs, logits)
        param = probs if probs is not None else logits
        if param.dim() < 1:
            which = "probs" if probs is not None else "logits"
            raise ValueError(
                f"[{type(self).__name__}] `{which}` parameter must be at least one-dimensional."
            )
        if probs is not None:
            self.probs = probs / sum(probs, -1, keepdim=True)
        else:
            self.logits = normalize_logits(logits)
        self._given = "probs" if probs is not None else "logits"
        self._param = self.__dict__[self._given]
        self._num_events = param.shape[-1]
        batch = tuple(param.shape[:-1])
        super().__init__(batch, (), validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Categorical:
        new = super().expand(batch_shape)
        new._param = new.__dict__[self._given]
        return new

    @cached_property
    def logits(self) -> Tensor:
        return probs_to_logits(self.probs)

    @cached_property
    def probs(self) -> Tensor:
        return logits_to_probs(self.logits)

    @property
    def param_shape(self) -> tuple:
        return tuple(self._param.shape)

    @property
    def support(self) -> constraints.Constraint:
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self) -> Tensor:
        p = self.probs.array
        return Tensor(xp(p).full(self.batch_shape, np.nan, dtype=p.dtype))

    @property
    def mode(self) -> Tensor:
        return self.probs.argmax(-1)

    @property
    def variance(self) -> Tensor:
        p = self.probs.array
        return Tensor(xp(p).full(self.batch_shape, np.nan, dtype=p.dtype))

    def sample(self, sample_shape: Any = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        m = xp(self.probs.array)
        cdf = m.cumsum(self.probs.array.astype(np.float64), -1)
        u = self._rng().random(shape + (1,))  # drawn on the host, then moved to cdf's device
        u = (u if m is np else to_gpu(u, "Categorical.sample")) * cdf[..., -1:]
        # the index is the number of cumulative probabilities below u
        idx = (m.broadcast_to(cdf, shape + cdf.shape[-1:]) <= u).sum(-1)
        return Tensor(m.minimum(idx, self._num_events - 1).astype(np.int64))

    def log_prob(self, value: Any) -> Tensor:
        value = self._value(value, self.logits)
        value = Tensor(value.array.astype(np.int64)).unsqueeze(-1)
        value, log_pmf = broadcast_tensors(value, self.logits)
        return gather(log_pmf, -1, value[..., :1].contiguous()).squeeze(-1)

    def entropy(self) -> Tensor:
        logits = clamp(self.logits, min=float(np.finfo(self.logits.dtype).min))
        return -sum(logits * self.probs, -1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        n = self._num_events
        values = arange(n, device=self.probs.device).reshape((n,) + (1,) * len(self.batch_shape))
        return values.expand(n, *self.batch_shape) if expand else values

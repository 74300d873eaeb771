"""Dirichlet(concentration): distributions on the probability simplex."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..arrays import xp
from ..ops import clamp, log, sum, where
from ..tensor import Tensor
from . import constraints
from ._special import digamma, lgamma, standard_gamma
from .distribution import Distribution
from .utils import as_param

__all__ = ["Dirichlet"]


class Dirichlet(Distribution):
    """The Dirichlet distribution over the simplex of the last dim of `concentration` (..., K).

    ``rsample`` normalises reparameterised Gamma draws (see Gamma).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.distributions import Dirichlet
        >>> d = Dirichlet(fd.tensor([1.0, 3.0]))
        >>> d.mean.tolist(), d.event_shape
        ([0.25, 0.75], (2,))
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration: Any, validate_args: bool | None = None) -> None:
        concentration = as_param(concentration, "concentration", "Dirichlet")
        if concentration.dim() < 1:
            raise ValueError(
                "[Dirichlet] `concentration` parameter must be at least one-dimensional."
            )
        self.concentration = concentration
        shape = tuple(concentration.shape)
        super().__init__(shape[:-1], shape[-1:], validate_args)

    @property
    def mean(self) -> Tensor:
        return self.concentration / sum(self.concentration, -1, keepdim=True)

    @property
    def mode(self) -> Tensor:
        # where every concentration is below 1 the density has no interior maximum; PyTorch
        # then returns the first vertex (its argmax over the NaN ratios picks index 0), as here
        c = clamp(self.concentration - 1, min=0.0)
        conc = self.concentration.array
        vertex = xp(conc).zeros_like(conc)
        vertex[..., 0] = 1.0
        below = Tensor((conc < 1).all(-1, keepdims=True))
        mode = c / where(below, 1.0, sum(c, -1, keepdim=True))  # no 0/0 in the gradient
        return where(below, Tensor(vertex), mode)

    @property
    def variance(self) -> Tensor:
        c0 = sum(self.concentration, -1, keepdim=True)
        return self.concentration * (c0 - self.concentration) / (c0 * c0 * (c0 + 1))

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        # reparameterised Gamma(c_i, 1) draws, normalised to the simplex
        g = standard_gamma(self.concentration, self._extended_shape(sample_shape), self._rng())
        x = g / sum(g, -1, keepdim=True)
        return clamp(x, min=float(np.finfo(self.concentration.dtype).tiny))

    def log_prob(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return sum((c - 1) * log(value), -1) + lgamma(sum(c, -1)) - sum(lgamma(c), -1)

    def entropy(self) -> Tensor:
        c = self.concentration
        k = c.shape[-1]
        c0 = sum(c, -1)
        return (
            sum(lgamma(c), -1)
            - lgamma(c0)
            - (k - c0) * digamma(c0)
            - sum((c - 1.0) * digamma(c), -1)
        )

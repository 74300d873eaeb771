"""OneHotCategorical(probs | logits): a Categorical whose draws are one-hot vectors."""

from __future__ import annotations

from typing import Any

from ..nn.functional import one_hot
from ..ops import cast
from ..tensor import Tensor
from . import constraints
from ._probs import one_of
from .categorical import Categorical
from .distribution import Distribution

__all__ = ["OneHotCategorical"]


class OneHotCategorical(Distribution):
    """Draws one-hot vectors of length K (event_shape (K,)) with Categorical's probabilities.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.distributions import OneHotCategorical
        >>> d = OneHotCategorical(probs=fd.tensor([0.0, 1.0]))
        >>> d.sample().tolist(), d.event_shape
        ([0.0, 1.0], (2,))
    """

    arg_constraints = {
        "probs": constraints.simplex,
        "logits": constraints.independent(constraints.real, 1),
    }
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(
        self, probs: Any = None, logits: Any = None, validate_args: bool | None = None
    ) -> None:
        one_of("OneHotCategorical", probs, logits)
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        batch = self._categorical.batch_shape
        event = self._categorical.param_shape[-1:]
        super().__init__(batch, event, validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> OneHotCategorical:
        new = super().expand(batch_shape)
        new._categorical = self._categorical.expand(batch_shape)
        return new

    @property
    def probs(self) -> Tensor:
        return self._categorical.probs

    @property
    def logits(self) -> Tensor:
        return self._categorical.logits

    @property
    def param_shape(self) -> tuple:
        return self._categorical.param_shape

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        return cast(one_hot(self.probs.argmax(-1), self.event_shape[-1]), self.probs.dtype)

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        indices = self._categorical.sample(sample_shape)
        return cast(one_hot(indices, self.event_shape[-1]), self.probs.dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self) -> Tensor:
        return self._categorical.entropy()

    def enumerate_support(self, expand: bool = True) -> Tensor:
        n = self.event_shape[0]
        values = cast(
            one_hot(self._categorical.enumerate_support(False).reshape(n), n), self.probs.dtype
        )
        values = values.reshape((n,) + (1,) * len(self.batch_shape) + (n,))
        return values.expand(n, *self.batch_shape, n) if expand else values

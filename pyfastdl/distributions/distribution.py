"""Distribution: the base class (shapes, argument and sample validation, sample via rsample)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..autograd import no_grad
from ..ops import sqrt
from ..random import numpy_rng
from ..tensor import Tensor
from . import constraints
from .utils import value_tensor

__all__ = ["Distribution"]


def _shape(sample_shape: Any, owner: str) -> tuple:
    if isinstance(sample_shape, (int, np.integer)) and not isinstance(sample_shape, bool):
        sample_shape = (sample_shape,)
    try:
        shape = tuple(int(s) for s in sample_shape)
    except TypeError:
        raise TypeError(
            f"[{owner}] sample_shape must be a tuple of ints, got {type(sample_shape).__name__}"
        ) from None
    if any(s < 0 for s in shape):
        raise ValueError(f"[{owner}] sample_shape must not be negative, got {shape}")
    return shape


class Distribution:
    """A probability distribution with batch_shape (independent, not identical, distributions)
    and event_shape (the shape of one draw), as ``torch.distributions.Distribution``.

    ``validate_args`` (default on, like PyTorch's under ``__debug__``) checks the parameters
    against ``arg_constraints`` and the values given to log_prob against ``support``.
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__
    arg_constraints: dict = {}
    support: Any = None

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turns argument validation on or off for every distribution built later."""
        if value not in (True, False):
            raise ValueError(
                f"[Distribution] set_default_validate_args expects a bool, got {value!r}"
            )
        Distribution._validate_args = value

    def __init__(
        self, batch_shape: Any = (), event_shape: Any = (), validate_args: bool | None = None
    ) -> None:
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            self._check_params()

    def _check_params(self) -> None:
        for param, constraint in self.arg_constraints.items():
            if constraint is constraints.dependent:
                continue
            if param not in self.__dict__:
                continue  # not given: derived from the given form (probs of logits ...)
            value = self.__dict__[param]
            if not bool(constraint.check(value).array.all()):
                raise ValueError(
                    f"[{type(self).__name__}] Expected parameter {param} (Tensor of shape "
                    f"{tuple(value.shape)}) of distribution {self!r} to satisfy the constraint "
                    f"{constraint!r}, but found invalid values:\n{value}"
                )

    @property
    def batch_shape(self) -> tuple:
        return self._batch_shape

    @property
    def event_shape(self) -> tuple:
        return self._event_shape

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError(f"[{type(self).__name__}] mean is not implemented")

    @property
    def mode(self) -> Tensor:
        raise NotImplementedError(f"[{type(self).__name__}] mode is not implemented")

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError(f"[{type(self).__name__}] variance is not implemented")

    @property
    def stddev(self) -> Tensor:
        return sqrt(self.variance)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Distribution:
        """The same distribution with its parameters broadcast (expanded, no copy) to
        `batch_shape`; the result shares the parameters' graph."""
        name = type(self).__name__
        batch = _shape(batch_shape, name)
        try:
            if np.broadcast_shapes(self._batch_shape, batch) != batch:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"[{name}] cannot expand batch_shape {self._batch_shape} to {batch}"
            ) from None
        new = copy.copy(self)
        nb = len(self._batch_shape)
        for param in self.arg_constraints:
            if param in self.__dict__:
                p = self.__dict__[param]
                new.__dict__[param] = p.expand(*batch, *p.shape[nb:])
        new._batch_shape = batch
        return new

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """A draw of shape sample_shape + batch_shape + event_shape, outside the graph."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """A reparameterised draw: gradients flow back to the parameters."""
        raise NotImplementedError(
            f"[{type(self).__name__}] rsample is not available: this distribution has no "
            "reparameterised sampler (has_rsample is False); use sample"
        )

    def sample_n(self, n: int) -> Tensor:
        return self.sample((n,))

    def log_prob(self, value: Tensor) -> Tensor:
        raise NotImplementedError(f"[{type(self).__name__}] log_prob is not implemented")

    def cdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError(f"[{type(self).__name__}] cdf is not implemented")

    def icdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError(f"[{type(self).__name__}] icdf is not implemented")

    def entropy(self) -> Tensor:
        raise NotImplementedError(f"[{type(self).__name__}] entropy is not implemented")

    def perplexity(self) -> Tensor:
        return self.entropy().exp()

    def enumerate_support(self, expand: bool = True) -> Tensor:
        raise NotImplementedError(f"[{type(self).__name__}] enumerate_support is not implemented")

    def _extended_shape(self, sample_shape: Any = ()) -> tuple:
        return _shape(sample_shape, type(self).__name__) + self._batch_shape + self._event_shape

    def _rng(self) -> np.random.Generator:
        """The default generator's numpy stream (``pyfastdl.manual_seed`` seeds it)."""
        return numpy_rng()

    def _value(self, value: Any, like: Tensor) -> Tensor:
        """`value` checked against the support (when validating), as a tensor of `like`'s dtype."""
        if self._validate_args:
            self._validate_sample(value)
        return value_tensor(value, like)

    def _validate_sample(self, value: Any) -> None:
        name = type(self).__name__
        if not isinstance(value, Tensor):
            raise ValueError(f"[{name}] The value argument to log_prob must be a Tensor")
        shape = tuple(value.shape)
        start = len(shape) - len(self._event_shape)
        if start < 0 or shape[start:] != self._event_shape:
            raise ValueError(
                f"[{name}] The right-most size of value must match event_shape: "
                f"{shape} vs {self._event_shape}."
            )
        expected = self._batch_shape + self._event_shape
        for i, j in zip(reversed(shape), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(
                    f"[{name}] Value of shape {shape} is not broadcastable with "
                    f"batch_shape+event_shape: {expected}."
                )
        support = self.support
        if support is None or support is constraints.dependent:
            return
        if not bool(support.check(value).array.all()):
            raise ValueError(
                f"[{name}] Expected value argument (Tensor of shape {shape}) to be within the "
                f"support ({support!r}) of the distribution {self!r}, but found invalid values:"
                f"\n{value}"
            )

    def __repr__(self) -> str:
        names = [k for k in self.arg_constraints if k in self.__dict__]
        args = ", ".join(
            f"{p}: {self.__dict__[p].item() if self.__dict__[p].numel() == 1 else self.__dict__[p].shape}"
            for p in names
        )
        return f"{type(self).__name__}({args})"

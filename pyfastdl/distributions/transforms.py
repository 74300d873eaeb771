"""Invertible maps with log |det J|, as ``torch.distributions.transforms``: the building blocks of
TransformedDistribution (normalising flows, squashed policies, log-normal, ...).

A Transform ``t`` maps x to ``t(x)``; ``t.inv`` is its inverse and
``t.log_abs_det_jacobian(x, y)`` is log |dy/dx| (summed over the transform's event dims).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.distributions.transforms import AffineTransform, ExpTransform, ComposeTransform
    >>> t = ComposeTransform([AffineTransform(1.0, 2.0), ExpTransform()])
    >>> x = fd.tensor([0.0])
    >>> t(x).tolist() == fd.exp(fd.tensor([1.0])).tolist(), round(t.inv(t(x)).item(), 5)
    (True, 0.0)
    >>> t.log_abs_det_jacobian(x, t(x)).tolist()  # log 2 + (2 x + 1)
    [1.6931471824645996]
"""

from __future__ import annotations

import math
from numbers import Number
from typing import Any

import numpy as np

from ..ops import abs, exp, log, log1p, sigmoid, softplus, tanh
from ..tensor import Tensor, full_like, zeros_like
from . import constraints
from .utils import clamp_probs, sum_rightmost

__all__ = [
    "AffineTransform",
    "ComposeTransform",
    "ExpTransform",
    "SigmoidTransform",
    "TanhTransform",
    "Transform",
    "identity_transform",
]


class Transform:
    """Base class: subclasses define _call, _inverse and log_abs_det_jacobian, and set domain,
    codomain, bijective and sign. ``cache_size=1`` remembers the last (x, y) pair, so that
    ``t.inv(t(x))`` returns x itself (exact, and with its graph)."""

    bijective = False
    domain: constraints.Constraint = constraints.real
    codomain: constraints.Constraint = constraints.real

    def __init__(self, cache_size: int = 0) -> None:
        if cache_size not in (0, 1):
            raise ValueError(
                f"[{type(self).__name__}] cache_size must be 0 or 1, got {cache_size!r}"
            )
        self._cache_size = cache_size
        self._cached_x_y: tuple = (None, None)

    @property
    def event_dim(self) -> int:
        if self.domain.event_dim != self.codomain.event_dim:
            raise ValueError(
                f"[{type(self).__name__}] Please use either .domain.event_dim or .codomain.event_dim"
            )
        return self.domain.event_dim

    @property
    def inv(self) -> Transform:
        return _InverseTransform(self)

    @property
    def sign(self) -> Any:
        raise NotImplementedError(f"[{type(self).__name__}] sign is not implemented")

    def __call__(self, x: Tensor) -> Tensor:
        if self._cache_size == 0:
            return self._call(x)
        x_old, y_old = self._cached_x_y
        if x is x_old:
            return y_old
        y = self._call(x)
        self._cached_x_y = (x, y)
        return y

    def _inv_call(self, y: Tensor) -> Tensor:
        if self._cache_size == 0:
            return self._inverse(y)
        x_old, y_old = self._cached_x_y
        if y is y_old:
            return x_old
        x = self._inverse(y)
        self._cached_x_y = (x, y)
        return x

    def _call(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"[{type(self).__name__}] the forward map is not implemented")

    def _inverse(self, y: Tensor) -> Tensor:
        raise NotImplementedError(f"[{type(self).__name__}] the inverse is not implemented")

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        raise NotImplementedError(
            f"[{type(self).__name__}] log_abs_det_jacobian is not implemented"
        )

    def forward_shape(self, shape: tuple) -> tuple:
        return tuple(shape)

    def inverse_shape(self, shape: tuple) -> tuple:
        return tuple(shape)

    def __repr__(self) -> str:
        return type(self).__name__ + "()"


class _InverseTransform(Transform):
    """The inverse of a Transform (``t.inv``); its inverse is ``t`` again."""

    def __init__(self, transform: Transform) -> None:
        super().__init__(cache_size=transform._cache_size)
        self._inv = transform

    @property
    def domain(self) -> constraints.Constraint:  # type: ignore[override]
        return self._inv.codomain

    @property
    def codomain(self) -> constraints.Constraint:  # type: ignore[override]
        return self._inv.domain

    @property
    def bijective(self) -> bool:  # type: ignore[override]
        return self._inv.bijective

    @property
    def sign(self) -> Any:
        return self._inv.sign

    @property
    def inv(self) -> Transform:
        return self._inv

    def __call__(self, x: Tensor) -> Tensor:
        return self._inv._inv_call(x)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return -self._inv.log_abs_det_jacobian(y, x)

    def __repr__(self) -> str:
        return f"_InverseTransform({self._inv!r})"


class ComposeTransform(Transform):
    """Applies `parts` in order; log |det J| is the sum of the parts' terms (each summed over the
    event dims the composition has beyond the part's own)."""

    def __init__(self, parts: list, cache_size: int = 0) -> None:
        if not all(isinstance(p, Transform) for p in parts):
            raise TypeError("[ComposeTransform] parts must be a list of Transforms")
        super().__init__(cache_size=cache_size)
        self.parts = list(parts)

    def _event_dim(self) -> int:
        return max((p.domain.event_dim for p in self.parts), default=0)

    @property
    def domain(self) -> constraints.Constraint:  # type: ignore[override]
        if not self.parts:
            return constraints.real
        d = self.parts[0].domain
        extra = self._event_dim() - d.event_dim
        return constraints.independent(d, extra) if extra else d

    @property
    def codomain(self) -> constraints.Constraint:  # type: ignore[override]
        if not self.parts:
            return constraints.real
        c = self.parts[-1].codomain
        extra = self._event_dim() - c.event_dim
        return constraints.independent(c, extra) if extra else c

    @property
    def bijective(self) -> bool:  # type: ignore[override]
        return all(p.bijective for p in self.parts)

    @property
    def sign(self) -> Any:
        sign: Any = 1
        for p in self.parts:
            sign = sign * p.sign
        return sign

    @property
    def inv(self) -> Transform:
        return ComposeTransform([p.inv for p in reversed(self.parts)], cache_size=self._cache_size)

    def _call(self, x: Tensor) -> Tensor:
        for p in self.parts:
            x = p(x)
        return x

    def _inverse(self, y: Tensor) -> Tensor:
        for p in reversed(self.parts):
            y = p.inv(y)
        return y

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        if not self.parts:
            return zeros_like(x)
        xs = [x]
        for p in self.parts[:-1]:
            xs.append(p(xs[-1]))
        xs.append(y)
        event_dim = self.domain.event_dim
        total: Any = 0
        for p, a, b in zip(self.parts, xs[:-1], xs[1:]):
            total = total + sum_rightmost(
                p.log_abs_det_jacobian(a, b), event_dim - p.domain.event_dim
            )
        return total

    def forward_shape(self, shape: tuple) -> tuple:
        for p in self.parts:
            shape = p.forward_shape(shape)
        return tuple(shape)

    def inverse_shape(self, shape: tuple) -> tuple:
        for p in reversed(self.parts):
            shape = p.inverse_shape(shape)
        return tuple(shape)

    def __repr__(self) -> str:
        return "ComposeTransform(" + ", ".join(repr(p) for p in self.parts) + ")"


identity_transform = ComposeTransform([])


class ExpTransform(Transform):
    """y = exp(x)."""

    domain = constraints.real
    codomain = constraints.positive
    bijective = True
    sign = 1

    def _call(self, x):
        return exp(x)

    def _inverse(self, y):
        return log(y)

    def log_abs_det_jacobian(self, x, y):
        return x


class SigmoidTransform(Transform):
    """y = sigmoid(x) (clamped into (0, 1) by the dtype's eps, as PyTorch does)."""

    domain = constraints.real
    codomain = constraints.unit_interval
    bijective = True
    sign = 1

    def _call(self, x):
        return clamp_probs(sigmoid(x))

    def _inverse(self, y):
        y = clamp_probs(y)
        return log(y) - log1p(-y)

    def log_abs_det_jacobian(self, x, y):
        # log sigmoid'(x) = log sigmoid(x) + log sigmoid(-x) = -softplus(-x) - softplus(x)
        return -softplus(-x) - softplus(x)


class TanhTransform(Transform):
    """y = tanh(x); log |det J| = 2 (log 2 - x - softplus(-2 x)), stable for large |x|."""

    domain = constraints.real
    codomain = constraints.interval(-1.0, 1.0)
    bijective = True
    sign = 1

    def _call(self, x):
        return tanh(x)

    def _inverse(self, y):
        # atanh(y) = (log1p(y) - log1p(-y)) / 2
        return 0.5 * (log1p(y) - log1p(-y))

    def log_abs_det_jacobian(self, x, y):
        return 2.0 * (math.log(2.0) - x - softplus(-2.0 * x))


class AffineTransform(Transform):
    """y = loc + scale * x; `event_dim` rightmost dims form one event (their log |scale| summed).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.distributions.transforms import AffineTransform
        >>> AffineTransform(1.0, fd.tensor([2.0, -4.0])).inv(fd.tensor([3.0, 3.0])).tolist()
        [1.0, -0.5]
    """

    bijective = True

    def __init__(self, loc: Any, scale: Any, event_dim: int = 0, cache_size: int = 0) -> None:
        super().__init__(cache_size=cache_size)
        for name, v in (("loc", loc), ("scale", scale)):
            if not isinstance(v, (Tensor, Number)) or isinstance(v, bool):
                raise TypeError(
                    f"[AffineTransform] {name} must be a Tensor or a number, got {type(v).__name__}"
                )
        self.loc, self.scale = loc, scale
        self._event_dim = event_dim

    @property
    def event_dim(self) -> int:
        return self._event_dim

    @property
    def domain(self) -> constraints.Constraint:  # type: ignore[override]
        return (
            constraints.independent(constraints.real, self._event_dim)
            if self._event_dim
            else constraints.real
        )

    codomain = domain

    @property
    def sign(self) -> Any:
        if isinstance(self.scale, Number):
            return 1 if float(self.scale) > 0 else -1 if float(self.scale) < 0 else 0
        return self.scale.sign()

    def _call(self, x):
        return self.loc + self.scale * x

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x, y):
        shape = tuple(x.shape)
        if isinstance(self.scale, Number):
            result = full_like(x, math.log(math.fabs(float(self.scale))))
        else:
            result = log(abs(self.scale))
        if self._event_dim:
            result = result.expand(*np.broadcast_shapes(tuple(result.shape), shape))
            result = sum_rightmost(result, self._event_dim)
            shape = shape[: -self._event_dim]
        return result.expand(*shape) if tuple(result.shape) != shape else result

    def forward_shape(self, shape: tuple) -> tuple:
        return tuple(
            np.broadcast_shapes(
                tuple(shape),
                tuple(getattr(self.loc, "shape", ())),
                tuple(getattr(self.scale, "shape", ())),
            )
        )

    inverse_shape = forward_shape

    def __repr__(self) -> str:
        return f"AffineTransform(loc={self.loc}, scale={self.scale}, event_dim={self._event_dim})"

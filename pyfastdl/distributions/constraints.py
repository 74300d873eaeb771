"""Constraints: the sets parameters and samples live in, as in ``torch.distributions.constraints``.

``constraint.check(value)`` returns a bool Tensor (one entry per event, the event dims reduced);
the distributions check their parameters with it when ``validate_args`` is on.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.distributions import constraints
    >>> constraints.positive.check(fd.tensor([1.0, -1.0])).tolist()
    [True, False]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..arrays import to_gpu, xp
from ..tensor import Tensor

__all__ = [
    "Constraint",
    "boolean",
    "dependent",
    "greater_than",
    "greater_than_eq",
    "half_open_interval",
    "independent",
    "integer_interval",
    "interval",
    "lower_cholesky",
    "nonnegative",
    "nonnegative_integer",
    "one_hot",
    "positive",
    "positive_definite",
    "real",
    "real_vector",
    "simplex",
    "unit_interval",
]


def _a(value: Any) -> Any:
    return value.array if isinstance(value, Tensor) else np.asarray(value)


def _bound(value: Any, like: Any) -> Any:
    """A bound as an operand beside the array `like`: a number as it is, a Tensor's array, other
    host data moved to `like`'s device."""
    if isinstance(value, Tensor):
        return value.array
    if isinstance(value, (int, float)):
        return value
    a = np.asarray(value)
    return a if type(like) is np.ndarray else to_gpu(a, "constraints")


class Constraint:
    """A region of values; `event_dim` is how many rightmost dims form one event."""

    is_discrete = False
    event_dim = 0

    def check(self, value: Any) -> Tensor:
        with np.errstate(all="ignore"):  # NaN and inf are invalid values, not warnings
            return Tensor(self._check(_a(value)))

    def _check(self, a: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__.lstrip("_") + "()"


class _Dependent(Constraint):
    """The support depends on other parameters; checks nothing."""

    def _check(self, a: np.ndarray) -> np.ndarray:
        raise ValueError("[constraints] cannot determine the validity of a dependent constraint")


class _Boolean(Constraint):
    is_discrete = True

    def _check(self, a):
        return (a == 0) | (a == 1)


class _OneHot(Constraint):
    is_discrete = True
    event_dim = 1

    def _check(self, a):
        return ((a == 0) | (a == 1)).all(-1) & (a.sum(-1) == 1)


class _IntegerInterval(Constraint):
    is_discrete = True

    def __init__(self, lower_bound: Any, upper_bound: Any) -> None:
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def _check(self, a):
        return (a % 1 == 0) & (self.lower_bound <= a) & (a <= self.upper_bound)

    def __repr__(self) -> str:
        return f"IntegerInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _IntegerGreaterThanEq(Constraint):
    is_discrete = True

    def __init__(self, lower_bound: Any) -> None:
        self.lower_bound = lower_bound

    def _check(self, a):
        return (a % 1 == 0) & (a >= self.lower_bound)


class _Real(Constraint):
    def _check(self, a):
        return a == a  # False for NaN only


class _GreaterThan(Constraint):
    def __init__(self, lower_bound: Any) -> None:
        self.lower_bound = lower_bound

    def _check(self, a):
        return a > _bound(self.lower_bound, a)

    def __repr__(self) -> str:
        return f"GreaterThan(lower_bound={self.lower_bound})"


class _GreaterThanEq(_GreaterThan):
    def _check(self, a):
        return a >= _bound(self.lower_bound, a)

    def __repr__(self) -> str:
        return f"GreaterThanEq(lower_bound={self.lower_bound})"


class _Interval(Constraint):
    def __init__(self, lower_bound: Any, upper_bound: Any) -> None:
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def _check(self, a):
        return (_bound(self.lower_bound, a) <= a) & (a <= _bound(self.upper_bound, a))

    def __repr__(self) -> str:
        return f"Interval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _HalfOpenInterval(_Interval):
    def _check(self, a):
        return (_bound(self.lower_bound, a) <= a) & (a < _bound(self.upper_bound, a))

    def __repr__(self) -> str:
        return f"HalfOpenInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _Simplex(Constraint):
    event_dim = 1

    def _check(self, a):
        return (a >= 0).all(-1) & (xp(a).abs(a.sum(-1) - 1) < 1e-6)


class _LowerCholesky(Constraint):
    event_dim = 2

    def _check(self, a):
        m = xp(a)
        lower = (m.tril(a) == a).all((-2, -1))
        positive = (m.diagonal(a, axis1=-2, axis2=-1) > 0).all(-1)
        return lower & positive


class _PositiveDefinite(Constraint):
    event_dim = 2

    def _check(self, a):
        m = xp(a)
        symmetric = m.isclose(a, m.swapaxes(a, -1, -2), atol=1e-6).all((-2, -1))
        # a symmetric matrix is positive definite when its smallest eigenvalue is > 0
        eig = m.linalg.eigvalsh(a) if a.size else m.ones(a.shape[:-1])
        return symmetric & (eig > 0).all(-1)


class _Independent(Constraint):
    """`base` with `reinterpreted_batch_ndims` more dims reduced into each event."""

    def __init__(self, base: Constraint, reinterpreted_batch_ndims: int) -> None:
        self.base_constraint = base
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims
        self.is_discrete = base.is_discrete
        self.event_dim = base.event_dim + reinterpreted_batch_ndims

    def _check(self, a):
        r = self.base_constraint._check(a)
        n = self.reinterpreted_batch_ndims
        return r.all(tuple(range(-n, 0))) if n else r

    def __repr__(self) -> str:
        return f"IndependentConstraint({self.base_constraint!r}, {self.reinterpreted_batch_ndims})"


dependent = _Dependent()
boolean = _Boolean()
one_hot = _OneHot()
nonnegative_integer = _IntegerGreaterThanEq(0)
integer_interval = _IntegerInterval
real = _Real()
real_vector = _Independent(real, 1)
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
interval = _Interval
half_open_interval = _HalfOpenInterval
unit_interval = _Interval(0.0, 1.0)
simplex = _Simplex()
lower_cholesky = _LowerCholesky()
positive_definite = _PositiveDefinite()
independent = _Independent

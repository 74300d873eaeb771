"""Gradient clipping (PyTorch's ``nn.utils.clip_grad_norm_`` / ``clip_grad_value_``).

The norm of all gradients together is the p-norm of the vector of the per-parameter p-norms
(for p = inf: the largest absolute entry). Clipping by norm scales every gradient by
min(1, max_norm / (total_norm + 1e-6)); clipping by value clamps each entry to [-v, v].
Norms are accumulated in float64 and returned in the gradients' dtype.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.nn import Parameter
    >>> from pyfastdl.nn.utils import clip_grad_norm_
    >>> p = Parameter(fd.zeros(2))
    >>> p.grad = fd.tensor([3.0, 4.0])
    >>> clip_grad_norm_([p], max_norm=1.0).item()
    5.0
    >>> [round(v, 4) for v in p.grad.tolist()]
    [0.6, 0.8]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...arrays import xp
from ...tensor import Tensor, _is_numpy

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]


def _as_list(tensors: Any) -> list[Tensor]:
    if isinstance(tensors, Tensor):
        return [tensors]
    return list(tensors)


def _vector_norm(a: Any, p: float) -> Any:
    """The p-norm of all entries of `a` (inf, -inf and 0 as in PyTorch), in float64: a Python
    float for host data, a 0-d float64 array on the device for a GPU array (no synchronisation)."""
    if not _is_numpy(a) and not isinstance(a, list):
        return _device_norm(a, p)
    x = np.abs(np.asarray(a, dtype=np.float64)).ravel()
    if p == math.inf:
        return float(x.max()) if x.size else 0.0
    if p == -math.inf:
        return float(x.min()) if x.size else math.inf
    if p == 0:
        return float(np.count_nonzero(x))
    if p == 1:
        return float(x.sum())
    if p == 2:
        # np.sum(x * x), not np.dot: OpenBLAS threads a dot of > 10,000 entries, and beside
        # pyfastdl's OpenMP threads on a busy machine that took ~6 ms a call instead of ~10 us
        return float(math.sqrt(np.sum(x * x)))
    return float(np.sum(x**p) ** (1.0 / p))


def _device_norm(a: Any, p: float) -> Any:
    """:func:`_vector_norm` of a GPU array, computed on its device (a 0-d float64 array)."""
    m = xp(a)
    x = m.abs(a.astype(m.float64)).ravel()
    if x.size == 0:
        return m.asarray(math.inf if p == -math.inf else 0.0)
    if p == math.inf:
        return x.max()
    if p == -math.inf:
        return x.min()
    if p == 0:
        return m.asarray(m.count_nonzero(x), dtype=m.float64)
    if p == 1:
        return x.sum()
    if p == 2:
        return m.sqrt(m.sum(x * x))
    return m.sum(x**p) ** (1.0 / p)


def get_total_norm(
    tensors: Any, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach: Any = None
) -> Tensor:
    """The `norm_type`-norm of all `tensors` together (as if concatenated into one vector)."""
    tensors = [t for t in _as_list(tensors) if t is not None]
    try:
        norm_type = float(norm_type)
    except (TypeError, ValueError):
        raise ValueError(
            f"[clip_grad_norm_] norm_type must be a number (or 'inf'), got {norm_type!r}"
        ) from None
    if not tensors:
        return Tensor(np.zeros((), np.float32))
    norms = [_vector_norm(t.array, norm_type) for t in tensors]
    first = tensors[0].array
    if _is_numpy(first):
        total = _vector_norm([float(n) for n in norms], norm_type)
    else:  # GPU gradients: the total stays on the device (no synchronisation)
        m = xp(first)
        total = _device_norm(m.stack([m.asarray(n, dtype=m.float64) for n in norms]), norm_type)
    if error_if_nonfinite and not math.isfinite(float(total)):
        raise RuntimeError(
            f"[clip_grad_norm_] the total norm of order {norm_type} for gradients from `parameters` "
            "is non-finite, so it cannot be clipped. To disable this error and scale the gradients "
            "by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    if _is_numpy(first):
        return Tensor(np.asarray(total, dtype=first.dtype))
    return Tensor(total.astype(first.dtype))


def clip_grads_with_norm_(
    parameters: Any, max_norm: float, total_norm: Any, foreach: Any = None
) -> None:
    """Scales the gradients of `parameters` by min(1, max_norm / (total_norm + 1e-6))."""
    total = total_norm.array if isinstance(total_norm, Tensor) else total_norm
    if _is_numpy(total) or not hasattr(total, "shape"):
        total = float(total)
        coef: Any = min(float(max_norm) / (total + 1e-6), 1.0)
    else:  # a norm on the GPU: the coefficient is computed there (no synchronisation)
        m = xp(total)
        coef = m.minimum(float(max_norm) / (total.astype(m.float64) + 1e-6), 1.0)
    for p in _as_list(parameters):
        g = p.grad
        if g is None:
            continue
        # A new array instead of scaling in place: the autograd engine may hand one gradient
        # array to several leaves, and each must be scaled once.
        c = g.array.dtype.type(coef) if isinstance(coef, float) else coef.astype(g.array.dtype)
        if not _is_numpy(g.array) and isinstance(c, np.generic):
            c = float(c)  # a host coefficient for GPU gradients: a Python scalar operand
        g.array = (g.array * c).astype(g.array.dtype, copy=False)


def clip_grad_norm_(
    parameters: Any,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: Any = None,
) -> Tensor:
    """Rescales the gradients of `parameters` so that their total norm is at most `max_norm`.

    Returns the total norm before clipping (a 0-d Tensor).
    """
    parameters = _as_list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if grads:
        clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters: Any, clip_value: float, foreach: Any = None) -> None:
    """Clamps every gradient entry of `parameters` to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"[clip_grad_value_] clip_value must be non-negative, got {clip_value}")
    for p in _as_list(parameters):
        g = p.grad
        if g is not None:
            g.array = g.array.clip(-clip_value, clip_value).astype(g.array.dtype, copy=False)

"""Helpers shared by the distributions: parameters as tensors, broadcasting, probs <-> logits."""

from __future__ import annotations

from numbers import Number
from typing import Any

import numpy as np

from ..arrays import to_gpu
from ..dtypes import get_default_dtype
from ..nn.functional import softmax
from ..ops import clamp, log, log1p, logsumexp, sigmoid, sum
from ..ops.shape import broadcast_tensors
from ..tensor import Tensor, tensor

__all__ = [
    "as_param",
    "as_sample",
    "broadcast_params",
    "clamp_probs",
    "logits_to_probs",
    "normalize_logits",
    "probs_to_logits",
    "sum_rightmost",
    "value_tensor",
]


def as_param(value: Any, name: str, owner: str, dtype: Any = None, device: Any = None) -> Tensor:
    """`value` as a Tensor: a Tensor itself, or a number made a tensor of `dtype` (default float)
    on `device` (default the CPU)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, Number) and not isinstance(value, bool):
        return tensor(float(value), dtype=dtype or get_default_dtype(), device=device)
    raise TypeError(f"[{owner}] {name} must be a Tensor or a number, got {type(value).__name__}")


def broadcast_params(owner: str, **params: Any) -> tuple:
    """The parameters as tensors broadcast to one shape; numbers take the tensors' float dtype
    and device."""
    dtype = next(
        (v.dtype for v in params.values() if isinstance(v, Tensor) and v.dtype.kind == "f"), None
    )
    device = next((v.device for v in params.values() if isinstance(v, Tensor)), None)
    ts = [as_param(v, k, owner, dtype, device) for k, v in params.items()]
    try:
        return broadcast_tensors(*ts)
    except ValueError:
        shapes = ", ".join(f"{k} {tuple(t.shape)}" for k, t in zip(params, ts))
        raise ValueError(f"[{owner}] the parameters do not broadcast: {shapes}") from None


def value_tensor(value: Any, like: Tensor) -> Tensor:
    """A value passed to log_prob/cdf as a tensor of `like`'s dtype and device when it is a
    number (or host data)."""
    if isinstance(value, Tensor):
        return value
    return tensor(np.asarray(value, dtype=like.dtype), device=like.device)


def sum_rightmost(value: Tensor, dim: int) -> Tensor:
    """`value` summed over its `dim` rightmost dims (itself when dim is 0)."""
    if dim == 0:
        return value
    return sum(value, dim=tuple(range(-dim, 0)))


def clamp_probs(probs: Tensor) -> Tensor:
    """probs clamped to [eps, 1 - eps] (eps of its dtype), so their logs stay finite."""
    eps = float(np.finfo(probs.dtype).eps)
    return clamp(probs, eps, 1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """log(p) for categorical probs, log(p) - log(1 - p) for binary ones (probs clamped)."""
    p = clamp_probs(probs)
    if is_binary:
        return log(p) - log1p(-p)
    return log(p)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """sigmoid(logits) for binary logits, softmax over the last dim otherwise."""
    if is_binary:
        return sigmoid(logits)
    return softmax(logits, dim=-1)


def normalize_logits(logits: Tensor) -> Tensor:
    """logits - logsumexp(logits) over the last dim: the log-probabilities."""
    return logits - logsumexp(logits, dim=-1, keepdim=True)


def as_sample(array: Any, like: Tensor) -> Tensor:
    """A drawn array as a Tensor of `like`'s dtype on `like`'s device (outside the graph):
    samples are drawn on the host (pyfastdl's generator), then copied to a GPU once."""
    if type(array) is np.ndarray or not hasattr(array, "astype"):
        array = np.asarray(array, dtype=like.dtype)
        return Tensor(array if type(like.array) is np.ndarray else to_gpu(array, "sample"))
    return Tensor(array.astype(like.dtype, copy=False))

"""Argument checks shared by the layer constructors (one message format for every layer)."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ...arrays import cupy_module
from ...dtypes import check_dtype, get_default_dtype
from ...shapes import named_size_error
from ...tensor import device as _device
from ..functional._args import check_reduction, legacy_reduction


def size_arg(value: Any, name: str, layer: str) -> int:
    """`value` as a non-negative int, or an error naming the layer and the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"[{layer}] {name} must be a non-negative int, got {value!r}")
    if value < 0:
        raise ValueError(f"[{layer}] {name} must be a non-negative int, got {value}")
    return operator.index(value)


def probability(p: Any, layer: str) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)):
        raise TypeError(f"[{layer}] dropout probability must be a number, got {type(p).__name__}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"[{layer}] dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def loss_reduction(size_average: Any, reduce: Any, reduction: str, layer: str) -> str:
    """A loss layer's reduction, PyTorch's old size_average/reduce flags included, checked."""
    return check_reduction(legacy_reduction(size_average, reduce, reduction), layer)


def float_dtype(dtype: Any, layer: str) -> np.dtype:
    """The dtype of new parameters: `dtype`, or the default float dtype."""
    if dtype is None:
        return get_default_dtype()
    d = check_dtype(dtype, layer)
    if d.kind != "f":
        raise TypeError(f"[{layer}] parameters must have a floating-point dtype, got {d}")
    return d


def empty(shape: tuple, device: Any, dtype: Any, layer: str) -> Any:
    """An uninitialised array for a new parameter, on `device` (MemoryError / OverflowError
    naming the layer when it can't be made)."""
    try:
        d = float_dtype(dtype, layer)
        if device is not None and _device(device).type == "cuda":
            return cupy_module(layer).empty(shape, d)  # on the GPU directly: nothing to copy
        return np.empty(shape, d)
    except (MemoryError, ValueError, OverflowError) as e:
        named = named_size_error(layer, e)
        if named is None:
            raise
        raise named from None

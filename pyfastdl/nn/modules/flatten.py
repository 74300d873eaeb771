"""Flatten and Unflatten: reshape layers (views when the input is contiguous).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> nn.Flatten()(fd.zeros(2, 3, 4, 5)).shape
    (2, 60)
    >>> nn.Unflatten(1, (3, 20))(fd.zeros(2, 60)).shape
    (2, 3, 20)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ...tensor import _normalize_dim
from .module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Merges dims start_dim..end_dim into one (by default every dim but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Any) -> Any:
        shape = tuple(input.shape)
        if not shape:
            return input.reshape(1)
        start = _normalize_dim(self.start_dim, len(shape), "Flatten")
        end = _normalize_dim(self.end_dim, len(shape), "Flatten")
        if start > end:
            raise ValueError(
                f"[Flatten] start_dim ({self.start_dim}) cannot come after end_dim "
                f"({self.end_dim}) for an input of {len(shape)} dims"
            )
        return input.reshape(
            shape[:start] + (math.prod(shape[start : end + 1]),) + shape[end + 1 :]
        )

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dim `dim` into `unflattened_size` (one entry may be -1)."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise TypeError(f"[Unflatten] dim must be an int, got {type(dim).__name__}")
        if not isinstance(unflattened_size, (tuple, list)) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in unflattened_size
        ):
            raise TypeError(
                f"[Unflatten] unflattened_size must be a tuple of ints, got {unflattened_size!r}"
            )
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input: Any) -> Any:
        shape = tuple(input.shape)
        d = _normalize_dim(self.dim, len(shape), "Unflatten")
        sizes = list(self.unflattened_size)
        known = math.prod(s for s in sizes if s != -1)
        if sizes.count(-1) > 1 or any(s < -1 for s in sizes):
            raise ValueError(
                f"[Unflatten] unflattened_size may hold one -1 and otherwise "
                f"non-negative sizes, got {self.unflattened_size}"
            )
        if -1 in sizes and known > 0 and shape[d] % known == 0:
            sizes[sizes.index(-1)] = shape[d] // known
        if math.prod(sizes) != shape[d] or -1 in sizes:
            raise ValueError(
                f"[Unflatten] unflattened_size {tuple(self.unflattened_size)} does not "
                f"multiply to the size {shape[d]} of dim {self.dim} of input shape {shape}"
            )
        return input.reshape(shape[:d] + tuple(sizes) + shape[d + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"

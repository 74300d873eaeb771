"""Padding layers over ``F.pad``: constant (and zero), reflection, replication and circular
padding of the last 1, 2 or 3 dims (PyTorch's names, arguments and reprs).

`padding` is an int (the same on every side) or a tuple (left, right[, top, bottom[, front,
back]]) with two values per padded dim, the last dim first.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> nn.ReflectionPad1d(2)(fd.tensor([[[1.0, 2.0, 3.0]]])).tolist()
    [[[3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]]]
    >>> nn.ZeroPad2d((1, 0, 0, 1))
    ZeroPad2d((1, 0, 0, 1))
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .. import functional as F
from .module import Module

__all__ = [
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
]


def _padding_arg(padding: Any, dims: int, layer: str) -> tuple[int, ...]:
    """An int, or 2 * dims ints, as a tuple of 2 * dims ints."""

    def is_int(v: Any) -> bool:
        return not isinstance(v, bool) and isinstance(v, (int, np.integer))

    if is_int(padding):
        return (operator.index(padding),) * (2 * dims)
    if isinstance(padding, (tuple, list)) and all(is_int(v) for v in padding):
        if len(padding) != 2 * dims:
            raise ValueError(
                f"[{layer}] padding must be an int or a tuple of {2 * dims} ints, got {padding!r}"
            )
        return tuple(operator.index(v) for v in padding)
    raise TypeError(
        f"[{layer}] padding must be an int or a tuple of {2 * dims} ints, got {padding!r}"
    )


class _PadNd(Module):
    """F.pad(input, padding, mode) with the padding of `_dims` dims."""

    _dims = 1
    _mode = "constant"

    def __init__(self, padding: Any) -> None:
        super().__init__()
        self.padding = _padding_arg(padding, self._dims, self._get_name())

    def forward(self, input: Any) -> Any:
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Any) -> Any:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim with `value`."""

    _dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last 2 dims with `value`."""

    _dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last 3 dims with `value`."""

    _dims = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """Pads the last dim with zeros."""

    _dims = 1


class ZeroPad2d(_ZeroPadNd):
    """Pads the last 2 dims with zeros."""

    _dims = 2


class ZeroPad3d(_ZeroPadNd):
    """Pads the last 3 dims with zeros."""

    _dims = 3


class ReflectionPad1d(_PadNd):
    """Pads the last dim of (C, W) or (N, C, W) input with its mirror image (edge not repeated)."""

    _dims, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Pads the last 2 dims with their mirror image (edge not repeated)."""

    _dims, _mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """Pads the last 3 dims with their mirror image (edge not repeated)."""

    _dims, _mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """Pads the last dim by repeating its edge values."""

    _dims, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Pads the last 2 dims by repeating their edge values."""

    _dims, _mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """Pads the last 3 dims by repeating their edge values."""

    _dims, _mode = 3, "replicate"


class CircularPad1d(_PadNd):
    """Pads the last dim by wrapping around."""

    _dims, _mode = 1, "circular"


class CircularPad2d(_PadNd):
    """Pads the last 2 dims by wrapping around."""

    _dims, _mode = 2, "circular"


class CircularPad3d(_PadNd):
    """Pads the last 3 dims by wrapping around."""

    _dims, _mode = 3, "circular"

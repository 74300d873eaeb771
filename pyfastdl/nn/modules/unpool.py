"""MaxUnpool1d and MaxUnpool2d: layers over ``F.max_unpool1d`` / ``F.max_unpool2d``.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    >>> unpool
    MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))
    >>> unpool(*pool(fd.randn(1, 3, 4, 4))).shape
    (1, 3, 4, 4)
"""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..functional.conv1d import single
from ..functional.conv2d import pair
from .module import Module

__all__ = ["MaxUnpool1d", "MaxUnpool2d"]


class MaxUnpool1d(Module):
    """Partial inverse of MaxPool1d (see ``F.max_unpool1d``)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        layer = "MaxUnpool1d"
        self.kernel_size = (single(kernel_size, "kernel_size", layer, 1),)
        self.stride = self.kernel_size if stride is None else (single(stride, "stride", layer, 1),)
        self.padding = (single(padding, "padding", layer, 0),)

    def forward(self, input: Any, indices: Any, output_size: Any = None) -> Any:
        return F.max_unpool1d(
            input, indices, self.kernel_size, self.stride, self.padding, output_size
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool2d(Module):
    """Partial inverse of MaxPool2d (see ``F.max_unpool2d``)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        layer = "MaxUnpool2d"
        self.kernel_size = pair(kernel_size, "kernel_size", layer, 1)
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", layer, 1)
        self.padding = pair(padding, "padding", layer, 0)

    def forward(self, input: Any, indices: Any, output_size: Any = None) -> Any:
        return F.max_unpool2d(
            input, indices, self.kernel_size, self.stride, self.padding, output_size
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

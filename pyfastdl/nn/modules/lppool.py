"""LPPool1d and LPPool2d: power-average pooling layers over ``F.lp_pool1d`` / ``F.lp_pool2d``.

Example:
    >>> from pyfastdl import nn
    >>> nn.LPPool2d(2, 3, stride=2)
    LPPool2d(norm_type=2, kernel_size=3, stride=2, ceil_mode=False)
"""

from __future__ import annotations

from typing import Any

from .. import functional as F
from .module import Module

__all__ = ["LPPool1d", "LPPool2d"]


class _LPPoolNd(Module):
    def __init__(
        self, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False
    ) -> None:
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (
            f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"ceil_mode={self.ceil_mode}"
        )


class LPPool1d(_LPPoolNd):
    """1-d power-average pooling (see ``F.lp_pool1d``)."""

    def forward(self, input: Any) -> Any:
        return F.lp_pool1d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class LPPool2d(_LPPoolNd):
    """2-d power-average pooling (see ``F.lp_pool2d``)."""

    def forward(self, input: Any) -> Any:
        return F.lp_pool2d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

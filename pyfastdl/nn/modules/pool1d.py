"""1-d pooling layers over ``F.max_pool1d``, ``F.avg_pool1d`` and the adaptive pools
(PyTorch's arguments and reprs).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> nn.MaxPool1d(2)(fd.tensor([[[1.0, 3.0, 2.0, 0.0]]])).tolist()
    [[[3.0, 2.0]]]
    >>> nn.AvgPool1d(3)
    AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))
"""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..functional.conv1d import single, single_tuple
from .pool2d import _AdaptiveAvgPoolNd, _AdaptiveMaxPoolNd, _AvgPoolNd, _MaxPoolNd

__all__ = ["AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AvgPool1d", "MaxPool1d"]


def _check_window(layer: str, kernel_size: Any, stride: Any, padding: Any, dilation: Any) -> None:
    """Each window argument an int (or a tuple of one int) of its range."""
    single(kernel_size, "kernel_size", layer, 1)
    single(padding, "padding", layer, 0)
    single(dilation, "dilation", layer, 1)
    single(stride, "stride", layer, 1)


class MaxPool1d(_MaxPoolNd):
    """1-d max pooling (see ``F.max_pool1d``); stride defaults to kernel_size."""

    _layer = "MaxPool1d"
    _check = staticmethod(_check_window)
    _functional = staticmethod(F.max_pool1d)


class AvgPool1d(_AvgPoolNd):
    """1-d average pooling (see ``F.avg_pool1d``); stride defaults to kernel_size."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        layer = "AvgPool1d"
        self.kernel_size = single_tuple(kernel_size, "kernel_size", layer, 1)
        self.stride = (
            self.kernel_size if stride is None else single_tuple(stride, "stride", layer, 1)
        )
        self.padding = single_tuple(padding, "padding", layer, 0)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Any) -> Any:
        return F.avg_pool1d(
            input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
            self.count_include_pad,
        )  # fmt: skip


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed output length (see ``F.adaptive_avg_pool1d``)."""

    _functional = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed output length (see ``F.adaptive_max_pool1d``)."""

    _functional = staticmethod(F.adaptive_max_pool1d)

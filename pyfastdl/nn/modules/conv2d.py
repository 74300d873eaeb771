"""Conv2d and ConvTranspose2d layers (PyTorch's constructors, init, repr and state-dict keys).

``Conv2d`` holds weight (out_channels, in_channels / groups, kH, kW) and bias (out_channels,);
``ConvTranspose2d`` holds weight (in_channels, out_channels / groups, kH, kW). Both initialise as
PyTorch: ``kaiming_uniform_(weight, a=sqrt(5))`` and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
fan_in = weight.shape[1] * kH * kW. A padding_mode other than 'zeros' pads the input with
``F.pad`` (reflect, replicate, circular) and then runs an unpadded convolution.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> conv = nn.Conv2d(3, 6, 5)
    >>> conv
    Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1))
    >>> conv(fd.randn(2, 3, 32, 32)).shape
    (2, 6, 28, 28)
    >>> nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1)(fd.randn(1, 16, 8, 8)).shape
    (1, 8, 16, 16)
"""

from __future__ import annotations

import math
from typing import Any

from .. import functional as F
from .. import init
from ..functional.conv2d import pair
from ..parameter import Parameter
from ._checks import empty, size_arg
from .module import Module

__all__ = ["Conv2d", "ConvTranspose2d"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What the convolutions share: arguments, parameters, init and repr. `_ntuple` reads a size
    argument as one int per spatial dim (a pair here; Conv1d's reads one)."""

    _ntuple = staticmethod(pair)

    def __init__(
        self,
        layer: str,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        transposed: bool,
        output_padding: Any,
        groups: int,
        bias: bool,
        padding_mode: str,
        device: Any,
        dtype: Any,
    ) -> None:
        super().__init__()
        in_channels = size_arg(in_channels, "in_channels", layer)
        out_channels = size_arg(out_channels, "out_channels", layer)
        if isinstance(groups, bool) or not isinstance(groups, int):
            raise TypeError(f"[{layer}] groups must be an int, got {groups!r}")
        if groups <= 0:
            raise ValueError(f"[{layer}] groups must be a positive integer, got {groups}")
        if in_channels % groups:
            raise ValueError(f"[{layer}] in_channels ({in_channels}) must be divisible by groups")
        if out_channels % groups:
            raise ValueError(f"[{layer}] out_channels ({out_channels}) must be divisible by groups")
        if padding_mode not in PADDING_MODES:
            raise ValueError(
                f"[{layer}] padding_mode must be one of {', '.join(map(repr, PADDING_MODES))}, "
                f"got {padding_mode!r}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = self._ntuple(kernel_size, "kernel_size", layer, 1)
        self.stride = self._ntuple(stride, "stride", layer, 1)
        self.dilation = self._ntuple(dilation, "dilation", layer, 1)
        ones = (1,) * len(self.kernel_size)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"[{layer}] padding must be an int, a pair, 'same' or 'valid', got {padding!r}"
                )
            if padding == "same" and self.stride != ones:
                raise ValueError(
                    f"[{layer}] padding='same' is not supported for strided convolutions"
                )
            self.padding: Any = padding
        else:
            self.padding = self._ntuple(padding, "padding", layer, 0)
        self.transposed = transposed
        self.output_padding = self._ntuple(output_padding, "output_padding", layer, 0)
        self.groups = groups
        self.padding_mode = padding_mode
        # F.pad's argument for the non-zero padding modes: (left, right, top, bottom), last dim
        # first.
        if padding == "same":
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            sides = [(t // 2, t - t // 2) for t in reversed(totals)]
        elif padding == "valid":
            sides = [(0, 0)] * len(self.kernel_size)
        else:
            sides = [(p, p) for p in reversed(self.padding)]
        self._reversed_padding_repeated_twice = [v for side in sides for v in side]
        if transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(empty(shape, device, dtype, layer))
        if bias:
            self.bias = Parameter(empty((out_channels,), device, dtype, layer))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draws new weights from PyTorch's default distributions (see the module docstring)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        zeros, ones = (0,) * len(self.kernel_size), (1,) * len(self.kernel_size)
        if self.padding != zeros:
            s += f", padding={self.padding}"
        if self.dilation != ones:
            s += f", dilation={self.dilation}"
        if self.output_padding != zeros:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """A convolution layer (Conv1d, Conv2d): PyTorch's constructor and forward, the functional
    form (`_functional`) and the layer name of the messages (`_layer`) set per class."""

    _layer = "Conv2d"
    _functional = staticmethod(F.conv2d)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            self._layer, in_channels, out_channels, kernel_size, stride, padding, dilation, False,
            0, groups, bias, padding_mode, device, dtype,
        )  # fmt: skip

    def forward(self, input: Any) -> Any:
        conv = self._functional
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return conv(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return conv(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class _ConvTranspose(_ConvNd):
    """A transposed convolution layer (ConvTranspose1d, ConvTranspose2d), as :class:`_Conv`;
    `_padding_kinds` names what `padding` may be in the message for a string."""

    _layer = "ConvTranspose2d"
    _functional = staticmethod(F.conv_transpose2d)
    _padding_kinds = "an int or a pair of ints"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        layer = self._layer
        if padding_mode != "zeros":
            raise ValueError(
                f'[{layer}] only "zeros" padding mode is supported, got {padding_mode!r}'
            )
        if isinstance(padding, str):
            raise ValueError(f"[{layer}] padding must be {self._padding_kinds}, got {padding!r}")
        super().__init__(
            layer, in_channels, out_channels, kernel_size, stride, padding, dilation, True,
            output_padding, groups, bias, padding_mode, device, dtype,
        )  # fmt: skip

    def forward(self, input: Any, output_size: Any = None) -> Any:
        output_padding = transposed_output_padding(self, input, output_size)
        return self._functional(
            input, self.weight, self.bias, self.stride, self.padding, output_padding,
            self.groups, self.dilation,
        )  # fmt: skip


class Conv2d(_Conv):
    """2-D convolution over NCHW input: weight (out_channels, in_channels / groups, kH, kW).

    Arguments, defaults and init as ``torch.nn.Conv2d``; `padding` may be an int, a pair, 'same'
    or 'valid'; `padding_mode` one of 'zeros', 'reflect', 'replicate', 'circular'.
    """


class ConvTranspose2d(_ConvTranspose):
    """Transposed 2-D convolution: weight (in_channels, out_channels / groups, kH, kW).

    Arguments, defaults and init as ``torch.nn.ConvTranspose2d``; ``forward(input, output_size)``
    picks the output_padding that gives `output_size` when it is passed.
    """


def transposed_output_padding(conv: _ConvNd, input: Any, output_size: Any) -> tuple:
    """The output_padding of a transposed convolution that gives `output_size` (the spatial
    sizes, or every dim's), or the layer's own output_padding when `output_size` is None."""
    if output_size is None:
        return conv.output_padding
    layer, n = conv._get_name(), len(conv.kernel_size)
    size = tuple(int(v) for v in output_size)
    if len(size) == input.ndim:
        size = size[-n:]
    if len(size) != n:
        raise ValueError(
            f"[{layer}] output_size must have {n} or {input.ndim} elements, got {size}"
        )
    result = []
    for d in range(n):
        smallest = (
            (input.shape[d - n] - 1) * conv.stride[d]
            - 2 * conv.padding[d]
            + conv.dilation[d] * (conv.kernel_size[d] - 1)
            + 1
        )
        largest = smallest + conv.stride[d] - 1
        if not smallest <= size[d] <= largest:
            raise ValueError(
                f"[{layer}] requested an output size of {size}, but valid sizes range from "
                f"{smallest} to {largest} in dim {d} (for an input of {input.shape[-n:]})"
            )
        result.append(size[d] - smallest)
    return tuple(result)

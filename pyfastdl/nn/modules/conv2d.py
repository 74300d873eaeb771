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
    """What Conv2d and ConvTranspose2d share: arguments, parameters, init and repr."""

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
        self.kernel_size = pair(kernel_size, "kernel_size", layer, 1)
        self.stride = pair(stride, "stride", layer, 1)
        self.dilation = pair(dilation, "dilation", layer, 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"[{layer}] padding must be an int, a pair, 'same' or 'valid', got {padding!r}"
                )
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(
                    f"[{layer}] padding='same' is not supported for strided convolutions"
                )
            self.padding: Any = padding
        else:
            self.padding = pair(padding, "padding", layer, 0)
        self.transposed = transposed
        self.output_padding = pair(output_padding, "output_padding", layer, 0)
        self.groups = groups
        self.padding_mode = padding_mode
        # F.pad's argument for the non-zero padding modes: (left, right, top, bottom).
        if padding == "same":
            rows, cols = (d * (k - 1) for d, k in zip(self.dilation, self.kernel_size))
            self._reversed_padding_repeated_twice = [
                cols // 2, cols - cols // 2, rows // 2, rows - rows // 2
            ]  # fmt: skip
        elif padding == "valid":
            self._reversed_padding_repeated_twice = [0, 0, 0, 0]
        else:
            ph, pw = self.padding
            self._reversed_padding_repeated_twice = [pw, pw, ph, ph]
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
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over NCHW input: weight (out_channels, in_channels / groups, kH, kW).

    Arguments, defaults and init as ``torch.nn.Conv2d``; `padding` may be an int, a pair, 'same'
    or 'valid'; `padding_mode` one of 'zeros', 'reflect', 'replicate', 'circular'.
    """

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
            "Conv2d", in_channels, out_channels, kernel_size, stride, padding, dilation, False,
            0, groups, bias, padding_mode, device, dtype,
        )  # fmt: skip

    def forward(self, input: Any) -> Any:
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return F.conv2d(
                padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups
            )
        return F.conv2d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution: weight (in_channels, out_channels / groups, kH, kW).

    Arguments, defaults and init as ``torch.nn.ConvTranspose2d``; ``forward(input, output_size)``
    picks the output_padding that gives `output_size` when it is passed.
    """

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
        if padding_mode != "zeros":
            raise ValueError(
                f'[ConvTranspose2d] only "zeros" padding mode is supported, got {padding_mode!r}'
            )
        if isinstance(padding, str):
            raise ValueError(
                f"[ConvTranspose2d] padding must be an int or a pair of ints, got {padding!r}"
            )
        super().__init__(
            "ConvTranspose2d", in_channels, out_channels, kernel_size, stride, padding, dilation,
            True, output_padding, groups, bias, padding_mode, device, dtype,
        )  # fmt: skip

    def _output_padding(self, input: Any, output_size: Any) -> tuple[int, int]:
        if output_size is None:
            return self.output_padding
        size = tuple(int(v) for v in output_size)
        if len(size) == input.ndim:
            size = size[-2:]
        if len(size) != 2:
            raise ValueError(
                f"[ConvTranspose2d] output_size must have 2 or {input.ndim} elements, got {size}"
            )
        result = []
        for d in range(2):
            smallest = (
                (input.shape[d - 2] - 1) * self.stride[d]
                - 2 * self.padding[d]
                + self.dilation[d] * (self.kernel_size[d] - 1)
                + 1
            )
            largest = smallest + self.stride[d] - 1
            if not smallest <= size[d] <= largest:
                raise ValueError(
                    f"[ConvTranspose2d] requested an output size of {size}, but valid sizes "
                    f"range from {smallest} to {largest} in dim {d} (for an input of "
                    f"{input.shape[-2:]})"
                )
            result.append(size[d] - smallest)
        return result[0], result[1]

    def forward(self, input: Any, output_size: Any = None) -> Any:
        output_padding = self._output_padding(input, output_size)
        return F.conv_transpose2d(
            input, self.weight, self.bias, self.stride, self.padding, output_padding,
            self.groups, self.dilation,
        )  # fmt: skip

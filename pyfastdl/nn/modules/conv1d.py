"""Conv1d and ConvTranspose1d layers (PyTorch's constructors, init, repr and state-dict keys).

``Conv1d`` holds weight (out_channels, in_channels / groups, k) and bias (out_channels,);
``ConvTranspose1d`` holds weight (in_channels, out_channels / groups, k). Arguments, init and
padding modes are those of the 2-d layers (``Conv2d``), with one size per argument.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> conv = nn.Conv1d(4, 8, 3, padding=1)
    >>> conv
    Conv1d(4, 8, kernel_size=(3,), stride=(1,), padding=(1,))
    >>> conv(fd.randn(2, 4, 10)).shape
    (2, 8, 10)
"""

from __future__ import annotations

from .. import functional as F
from ..functional.conv1d import single_tuple
from .conv2d import _Conv, _ConvTranspose

__all__ = ["Conv1d", "ConvTranspose1d"]


class Conv1d(_Conv):
    """1-D convolution over (N, C, L) input: weight (out_channels, in_channels / groups, k).

    `padding` may be an int, 'same' or 'valid'; `padding_mode` one of 'zeros', 'reflect',
    'replicate', 'circular'.
    """

    _ntuple = staticmethod(single_tuple)
    _layer = "Conv1d"
    _functional = staticmethod(F.conv1d)


class ConvTranspose1d(_ConvTranspose):
    """Transposed 1-D convolution: weight (in_channels, out_channels / groups, k);
    ``forward(input, output_size)`` picks the output_padding that gives `output_size`."""

    _ntuple = staticmethod(single_tuple)
    _layer = "ConvTranspose1d"
    _functional = staticmethod(F.conv_transpose1d)
    _padding_kinds = "an int"

"""Linear and Identity layers.

``Linear`` computes y = x W^T + b for x of shape (*, in_features), W of shape (out_features,
in_features) -- PyTorch's layout, so weights load from PyTorch state dicts unchanged. The GEMM
reads W^T as a strided view (no transpose copy) and adds the bias in its epilogue.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> layer = nn.Linear(784, 64)
    >>> layer
    Linear(in_features=784, out_features=64, bias=True)
    >>> layer(fd.randn(8, 784)).shape
    (8, 64)
"""

from __future__ import annotations

import math
from typing import Any

from .. import functional as F
from .. import init
from ..parameter import Parameter
from ._checks import empty, size_arg
from .module import Module

__all__ = ["Bilinear", "Identity", "Linear"]


class Identity(Module):
    """Returns its input unchanged (arguments to the constructor are accepted and ignored)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class Linear(Module):
    """y = x W^T + b, with W of shape (out_features, in_features).

    Initialised as PyTorch does: W ~ U(-1/sqrt(in), 1/sqrt(in)) through
    ``kaiming_uniform_(a=sqrt(5))``, and b ~ U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in_features = size_arg(in_features, "in_features", "Linear")
        self.out_features = size_arg(out_features, "out_features", "Linear")
        shape = (self.out_features, self.in_features)
        self.weight = Parameter(empty(shape, device, dtype, "Linear"))
        if bias:
            self.bias = Parameter(empty((self.out_features,), device, dtype, "Linear"))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draws new weights from the default distributions (see the class docstring)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Any) -> Any:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Bilinear(Module):
    """y = x1^T A x2 + b: weight (out_features, in1_features, in2_features), bias
    (out_features,), both ~ U(-1/sqrt(in1_features), 1/sqrt(in1_features)) as in PyTorch.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> m = nn.Bilinear(3, 4, 5)
        >>> m
        Bilinear(in1_features=3, in2_features=4, out_features=5, bias=True)
        >>> m(fd.randn(2, 3), fd.randn(2, 4)).shape
        (2, 5)
    """

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        layer = "Bilinear"
        self.in1_features = size_arg(in1_features, "in1_features", layer)
        self.in2_features = size_arg(in2_features, "in2_features", layer)
        self.out_features = size_arg(out_features, "out_features", layer)
        shape = (self.out_features, self.in1_features, self.in2_features)
        self.weight = Parameter(empty(shape, device, dtype, layer))
        if bias:
            self.bias = Parameter(empty((self.out_features,), device, dtype, layer))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight and bias ~ U(-1/sqrt(in1_features), 1/sqrt(in1_features))."""
        bound = 1 / math.sqrt(self.in1_features) if self.in1_features > 0 else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Any, input2: Any) -> Any:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )

"""GroupNorm, InstanceNorm1d/2d/3d, RMSNorm and LocalResponseNorm (PyTorch's constructors,
parameters, buffers, state-dict keys and reprs) over ``F.group_norm``, ``F.instance_norm``,
``F.rms_norm`` and ``F.local_response_norm``.

The instance norms share BatchNorm's body (parameters, buffers, repr); their defaults differ
(``affine=False``, ``track_running_stats=False``) and, as in PyTorch, they never count batches
(``num_batches_tracked`` stays 0).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> nn.GroupNorm(2, 4)
    GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)
    >>> nn.GroupNorm(2, 4)(fd.randn(3, 4, 5)).shape
    (3, 4, 5)
    >>> nn.InstanceNorm2d(3)
    InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, track_running_stats=False)
"""

from __future__ import annotations

import warnings
from typing import Any

from ...ops.shape import reshape
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..functional.layernorm import normalized_shape_arg
from ..parameter import Parameter
from ._checks import empty, size_arg
from .batchnorm import _BatchNorm
from .layernorm import affine_parameters, reset_affine
from .module import Module

__all__ = [
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LocalResponseNorm",
    "RMSNorm",
]


class GroupNorm(Module):
    """Group normalization of (N, C, *) input: weight and bias (C,), ones and zeros at init."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        layer = "GroupNorm"
        num_groups = size_arg(num_groups, "num_groups", layer)
        num_channels = size_arg(num_channels, "num_channels", layer)
        if num_groups == 0 or num_channels % num_groups:
            raise ValueError(
                f"[{layer}] num_channels ({num_channels}) must be divisible by num_groups "
                f"({num_groups})"
            )
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        affine_parameters(self, (num_channels,), affine, bias, device, dtype, layer)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight = 1, bias = 0."""
        reset_affine(self.weight, self.bias)

    def forward(self, input: Any) -> Any:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class _InstanceNorm(_BatchNorm):
    """The instance norms: `_dims` spatial dims, with or without the batch dim."""

    _dims = 1

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(
            num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias
        )

    def forward(self, input: Any) -> Any:
        layer = self._get_name()
        if not isinstance(input, Tensor):
            raise TypeError(f"[{layer}] input must be a Tensor, got {type(input).__name__}")
        d = self._dims
        if input.ndim not in (d + 1, d + 2):
            raise ValueError(
                f"[{layer}] expected {d + 1}D (unbatched) or {d + 2}D (batched) input, got "
                f"{input.ndim}D input of shape {input.shape}"
            )
        unbatched = input.ndim == d + 1
        channels = input.shape[-d - 1]
        if channels != self.num_features:
            if self.affine:
                raise ValueError(
                    f"[{layer}] expected input's size at dim={input.ndim - d - 1} to match "
                    f"num_features ({self.num_features}), but got: {channels}."
                )
            warnings.warn(
                f"[{layer}] input's size at dim={input.ndim - d - 1} does not match "
                "num_features; num_features is not used because affine=False",
                stacklevel=2,
            )
        x = reshape(input, (1,) + input.shape) if unbatched else input
        out = F.instance_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            0.0 if self.momentum is None else self.momentum,
            self.eps,
        )
        return reshape(out, input.shape) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L) or (C, L) input."""

    _dims = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W) or (C, H, W) input.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> nn.InstanceNorm2d(2, affine=True)(fd.randn(4, 2, 3, 3)).shape
        (4, 2, 3, 3)
    """

    _dims = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of (N, C, D, H, W) or (C, D, H, W) input."""

    _dims = 3


class LocalResponseNorm(Module):
    """Local response normalization across channels (see ``F.local_response_norm``)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input: Any) -> Any:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class RMSNorm(Module):
    """Root-mean-square normalization over the last dims (``normalized_shape``); weight (ones at
    init) of that shape when ``elementwise_affine``.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> nn.RMSNorm(4)
        RMSNorm((4,), eps=None, elementwise_affine=True)
        >>> nn.RMSNorm([3, 4])(fd.randn(2, 3, 4)).shape
        (2, 3, 4)
    """

    def __init__(
        self,
        normalized_shape: Any,
        eps: float | None = None,
        elementwise_affine: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = normalized_shape_arg(normalized_shape, "RMSNorm")
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(empty(self.normalized_shape, device, dtype, "RMSNorm"))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight = 1."""
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input: Any) -> Any:
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )

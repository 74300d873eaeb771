"""LayerNorm: layer normalization with PyTorch's parameters, init and state-dict keys.

Each slice over the last len(normalized_shape) dims is normalized to mean 0 and variance 1
(biased, plus eps), then scaled by ``weight`` (ones at init) and shifted by ``bias`` (zeros), both
of shape normalized_shape. ``elementwise_affine=False`` drops both, ``bias=False`` the bias only.
The work is ``F.layer_norm`` (one fused kernel forward, one backward).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> ln = nn.LayerNorm(8)
    >>> ln
    LayerNorm((8,), eps=1e-05, elementwise_affine=True, bias=True)
    >>> ln(fd.randn(2, 5, 8)).shape
    (2, 5, 8)
    >>> list(ln.state_dict())
    ['weight', 'bias']
"""

from __future__ import annotations

from typing import Any

from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..functional.layernorm import normalized_shape_arg
from ..parameter import Parameter
from ._checks import empty
from .module import Module

__all__ = ["LayerNorm"]


def affine_parameters(
    module: Module, shape: tuple, affine: bool, bias: bool, device: Any, dtype: Any, layer: str
) -> None:
    """Registers the `weight` and `bias` Parameters of `shape` of a normalization layer: both
    when `affine` (bias None without `bias`), both None otherwise. Uninitialised: see
    :func:`reset_affine`."""
    if affine:
        module.weight = Parameter(empty(shape, device, dtype, layer))
        if bias:
            module.bias = Parameter(empty(shape, device, dtype, layer))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def reset_affine(weight: Any, bias: Any) -> None:
    """weight = 1, bias = 0 (PyTorch's init), for those that are not None."""
    if weight is not None:
        init.ones_(weight)
    if bias is not None:
        init.zeros_(bias)


class LayerNorm(Module):
    """Layer normalization over the last dims (``normalized_shape``) of its input.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> y = nn.LayerNorm([3, 4], elementwise_affine=False)(fd.randn(2, 3, 4))
        >>> abs(y.mean().item()) < 1e-5
        True
    """

    def __init__(
        self,
        normalized_shape: Any,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = normalized_shape_arg(normalized_shape, "LayerNorm")
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        shape = self.normalized_shape
        affine_parameters(self, shape, elementwise_affine, bias, device, dtype, "LayerNorm")
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight = 1, bias = 0 (PyTorch's init)."""
        if self.elementwise_affine:
            reset_affine(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )

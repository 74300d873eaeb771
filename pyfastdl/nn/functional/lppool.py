"""lp_pool1d and lp_pool2d: power-average pooling, (sum over the window of x^p)^(1/p).

As in PyTorch, composed from avg_pool (no padding): ``(sign(a) * relu(|a|) * window) ** (1/p)``
with ``a = avg_pool(x ** p)``; the sign/relu guard gives a zero gradient where a window sums to 0.
"""

from __future__ import annotations

from typing import Any

from ...ops.activation import relu
from ...ops.elementwise import abs, mul, pow, sign
from ...tensor import Tensor
from ._args import tensor_arg
from .conv1d import single
from .conv2d import pair
from .pool1d import avg_pool1d
from .pool2d import avg_pool2d

__all__ = ["lp_pool1d", "lp_pool2d"]


def _norm_type(norm_type: Any, op: str) -> float:
    if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float)):
        raise TypeError(f"[{op}] norm_type must be a number, got {norm_type!r}")
    if norm_type == 0:
        raise ValueError(f"[{op}] norm_type must be non-zero, got {norm_type}")
    return float(norm_type)


def _root(avg: Tensor, window: int, p: float) -> Tensor:
    return pow(mul(mul(sign(avg), relu(abs(avg))), window), 1.0 / p)


def lp_pool1d(
    input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False
) -> Tensor:
    """1-d power-average pooling over (N, C, L) or (C, L) input: (sum of x^p)^(1/p) per window.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.lp_pool1d(fd.tensor([[[3.0, 4.0, 1.0, 0.0]]]), 2, 2).tolist()
        [[[5.0, 1.0]]]
    """
    op = "lp_pool1d"
    p = _norm_type(norm_type, op)
    k = single(kernel_size, "kernel_size", op, 1)
    x = pow(tensor_arg(input, op), p)
    return _root(avg_pool1d(x, k, stride, 0, ceil_mode), k, p)


def lp_pool2d(
    input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False
) -> Tensor:
    """2-d power-average pooling over (N, C, H, W) or (C, H, W) input.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.lp_pool2d(fd.tensor([[[[1.0, 1.0], [1.0, 1.0]]]]), 1, 2).tolist()
        [[[[4.0]]]]
    """
    op = "lp_pool2d"
    p = _norm_type(norm_type, op)
    kh, kw = pair(kernel_size, "kernel_size", op, 1)
    x = pow(tensor_arg(input, op), p)
    return _root(avg_pool2d(x, (kh, kw), stride, 0, ceil_mode), kh * kw, p)

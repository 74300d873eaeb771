"""Dropout: elementwise (``dropout``) and whole channels (``dropout1d``, ``dropout2d``).

Training multiplies by a mask of 0 and 1 / (1 - p) drawn from the default generator (float32
uniforms compared with p); the backward multiplies the gradient by the same mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...arrays import xp
from ...autograd import Function
from ...ops._util import rebind
from ...random import numpy_rng
from ...tensor import Tensor
from ._args import check_float, tensor_arg

__all__ = ["dropout", "dropout1d", "dropout2d"]


class _MaskMulFn(Function):
    """input * mask (the mask is a constant array)."""

    @staticmethod
    def forward(ctx, x, mask):
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx, g):
        return g * ctx.mask, None


def _dropout(
    input: Tensor, p: float, training: bool, inplace: bool, op: str, mask_shape: Any
) -> Tensor:
    input = tensor_arg(input, op)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"[{op}] dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    check_float(input.array, op)
    x = input.array
    # float32 uniforms (2^-24 resolution) are twice as fast to draw as float64 ones; the mask
    # holds 0 or 1 / (1 - p) in one pass.
    u = numpy_rng().random(mask_shape(x.shape), dtype=np.float32)
    scale = x.dtype.type(1.0 / (1.0 - p) if p < 1.0 else 0.0)
    mask = np.where(u >= np.float32(p), scale, x.dtype.type(0.0))
    if type(x) is not np.ndarray:
        mask = xp(x).asarray(mask)
    out = _MaskMulFn.apply(input, mask)
    if not inplace:
        return out
    return rebind(input, out, op)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zeroes each element with probability p and scales the rest by 1 / (1 - p) (inverted
    dropout); the mask comes from pyfastdl's default generator (``pyfastdl.manual_seed``).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.dropout(fd.ones(4), p=0.5, training=False).tolist()
        [1.0, 1.0, 1.0, 1.0]
    """
    return _dropout(input, p, training, inplace, "dropout", lambda s: s)


def _channel_mask(op: str, spatial: int):
    def shape(s: tuple) -> tuple:
        if len(s) not in (spatial + 1, spatial + 2):
            raise ValueError(
                f"[{op}] expected a {spatial + 1}-d (unbatched) or {spatial + 2}-d "
                f"(batched) input, got shape {s}"
            )
        return s[: len(s) - spatial] + (1,) * spatial

    return shape


def dropout1d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Zeroes whole channels of (N, C, L) or (C, L) input with probability p."""
    return _dropout(input, p, training, inplace, "dropout1d", _channel_mask("dropout1d", 1))


def dropout2d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Zeroes whole channels of (N, C, H, W) or (C, H, W) input with probability p."""
    return _dropout(input, p, training, inplace, "dropout2d", _channel_mask("dropout2d", 2))

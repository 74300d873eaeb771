"""Dropout: elementwise (``dropout``) and whole channels (``dropout1d``, ``dropout2d``).

Training multiplies by a mask of 0 and 1 / (1 - p) drawn from the default generator (float32
uniforms compared with p); the backward multiplies the gradient by the same mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...arrays import to_gpu
from ...autograd import Function
from ...ops._util import rebind
from ...random import numpy_rng
from ...tensor import Tensor
from ._args import check_float, tensor_arg

__all__ = [
    "alpha_dropout",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "feature_alpha_dropout",
]


class _MaskMulFn(Function):
    """input * mask (+ shift, when not None); mask and shift are constant arrays."""

    @staticmethod
    def forward(ctx, x, mask, shift):
        ctx.mask = mask
        return x * mask if shift is None else x * mask + shift

    @staticmethod
    def backward(ctx, g):
        return g * ctx.mask, None, None


def _masked(input: Tensor, p: float, training: bool, inplace: bool, op: str, draw: Any) -> Tensor:
    """What the dropouts share: the checks, identity in eval mode or for p == 0, input * mask
    (+ shift) with ``mask, shift = draw(x)`` for the float array x, and the in-place rebind."""
    input = tensor_arg(input, op)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"[{op}] dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    check_float(input.array, op)
    x = input.array
    mask, shift = draw(x)
    if type(x) is not np.ndarray:  # drawn on the host (the generator's stream), then moved
        mask = to_gpu(mask, op)
        shift = None if shift is None else to_gpu(shift, op)
    out = _MaskMulFn.apply(input, mask, shift)
    if not inplace:
        return out
    return rebind(input, out, op)


def _dropout(
    input: Tensor, p: float, training: bool, inplace: bool, op: str, mask_shape: Any
) -> Tensor:
    def draw(x: Any) -> tuple:
        # float32 uniforms (2^-24 resolution) are twice as fast to draw as float64 ones; the
        # mask holds 0 or 1 / (1 - p) in one pass.
        u = numpy_rng().random(mask_shape(x.shape), dtype=np.float32)
        scale = x.dtype.type(1.0 / (1.0 - p) if p < 1.0 else 0.0)
        return np.where(u >= np.float32(p), scale, x.dtype.type(0.0)), None

    return _masked(input, p, training, inplace, op, draw)


# -SELU's scale * alpha: the value SELU tends to at -inf, which alpha dropout drops to.
_SELU_NEG_SATURATION = 1.7580993408473766


def _alpha_dropout(
    input: Tensor, p: float, training: bool, inplace: bool, op: str, mask_shape: Any
) -> Tensor:
    def draw(x: Any) -> tuple:
        shape = mask_shape(x.shape)
        if p == 1.0:
            mask = np.zeros(shape, x.dtype)
            return mask, mask
        # PyTorch's a = 1 / sqrt((alpha^2 p + 1)(1 - p)) and b = alpha a (p - dropped)
        alpha = _SELU_NEG_SATURATION
        a = 1.0 / np.sqrt((alpha * alpha * p + 1) * (1 - p))
        keep = numpy_rng().random(shape, dtype=np.float32) >= np.float32(p)
        mask = np.where(keep, x.dtype.type(a), x.dtype.type(0.0))
        shift = np.where(keep, alpha * a * p, alpha * a * p - alpha * a).astype(x.dtype)
        return mask, shift

    return _masked(input, p, training, inplace, op, draw)


def alpha_dropout(
    input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
) -> Tensor:
    """Dropout for SELU networks: dropped elements take SELU's negative saturation value, and
    the result is scaled and shifted (a x + b) to keep zero mean and unit variance.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.alpha_dropout(fd.ones(3), p=0.5, training=False).tolist()
        [1.0, 1.0, 1.0]
    """
    return _alpha_dropout(input, p, training, inplace, "alpha_dropout", lambda s: s)


def _feature_mask(s: tuple) -> tuple:
    if len(s) < 2:
        raise ValueError(
            f"[feature_alpha_dropout] feature dropout requires at least 2 dimensions in the "
            f"input, got shape {s}"
        )
    return s[:2] + (1,) * (len(s) - 2)


def feature_alpha_dropout(
    input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
) -> Tensor:
    """alpha_dropout of whole channels: one draw per (sample, channel) of (N, C, *) input."""
    return _alpha_dropout(input, p, training, inplace, "feature_alpha_dropout", _feature_mask)


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


def dropout3d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Zeroes whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability p."""
    return _dropout(input, p, training, inplace, "dropout3d", _channel_mask("dropout3d", 3))

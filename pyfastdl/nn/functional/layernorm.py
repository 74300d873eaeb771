"""layer_norm: an autograd Function over the fused layer normalization kernels.

layer_norm normalizes each row of the input viewed as (M, N), N the product of normalized_shape
(the last dims), with the kernels ``layer_norm_forward`` / ``layer_norm_backward``, looked up per
call in the registry (overrides and float64, through the NumPy reference, apply).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ... import kernels
from ...arrays import empty
from ...autograd import Function
from ...tensor import Tensor
from ._args import check_float

__all__ = ["layer_norm"]

LN = "layer_norm"


class LayerNormFn(Function):
    """y = (x - mean) * rstd * weight + bias over each row of x viewed as (M, N)."""

    # Outputs are allocated in their final shapes and handed to the kernels as (M, N) / (N,)
    # views: autograd copies a leaf's gradient that is a view of another array.
    @staticmethod
    def forward(ctx, x, weight, bias, *, k, eps):
        m, n = math.prod(x.shape[: x.ndim - k]), math.prod(x.shape[x.ndim - k :])
        x2 = x.reshape(m, n)
        w = None if weight is None else weight.reshape(n)
        b = None if bias is None else bias.reshape(n)
        y = empty(x.shape, x.dtype, x)
        mean = empty((m,), x.dtype, x)
        rstd = empty((m,), x.dtype, x)
        kernels.for_array("layer_norm_forward", x2)(x2, w, b, y.reshape(m, n), mean, rstd, eps)
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(x2, w, mean, rstd)
            ctx.shapes = (x.shape, None if weight is None else weight.shape)
        return y

    @staticmethod
    def backward(ctx, g):
        x2, w, mean, rstd = ctx.saved_tensors
        x_shape, w_shape = ctx.shapes
        g2 = g.reshape(x2.shape)
        if g2.dtype != x2.dtype:
            g2 = g2.astype(x2.dtype)
        need_x, need_w, need_b = ctx.needs_input_grad
        gx = empty(x_shape, x2.dtype, x2) if need_x else None
        gw = empty(w_shape, x2.dtype, x2) if need_w else None
        gb = empty(w_shape, x2.dtype, x2) if need_b else None
        n = x2.shape[1]
        kernels.for_array("layer_norm_backward", x2)(
            x2,
            g2,
            mean,
            rstd,
            w,
            None if gx is None else gx.reshape(x2.shape),
            None if gw is None else gw.reshape(n),
            None if gb is None else gb.reshape(n),
        )
        return gx, gw, gb


def normalized_shape_arg(normalized_shape: Any, op: str = LN) -> tuple[int, ...]:
    """normalized_shape (an int or a sequence of ints) as a non-empty tuple of non-negative ints."""
    given = normalized_shape
    if isinstance(given, (int, np.integer)) and not isinstance(given, bool):
        given = (given,)
    try:
        shape = tuple(given)
    except TypeError:
        shape = None
    if shape is None or any(
        isinstance(d, bool) or not isinstance(d, (int, np.integer)) for d in shape
    ):
        raise TypeError(
            f"[{op}] normalized_shape must be an int or a sequence of ints, got "
            f"{normalized_shape!r}"
        )
    if not shape or any(d < 0 for d in shape):
        raise ValueError(
            f"[{op}] normalized_shape must be a non-empty sequence of non-negative sizes, got "
            f"{normalized_shape!r}"
        )
    return tuple(int(d) for d in shape)


def _affine_tensor(t: Any, name: str, shape: tuple, x: Any) -> None:
    if t is None:
        return
    if not isinstance(t, Tensor):
        raise TypeError(f"[{LN}] {name} must be a Tensor or None, got {type(t).__name__}")
    if tuple(t.shape) != shape:
        raise ValueError(
            f"[{LN}] {name} must have the shape normalized_shape {shape}, got {tuple(t.shape)}"
        )
    if t.array.dtype != x.dtype:
        raise TypeError(f"[{LN}] {name} must have the input's dtype {x.dtype}, got {t.array.dtype}")


def layer_norm(
    input: Tensor,
    normalized_shape: Any,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalization over the last dims of input (PyTorch's ``F.layer_norm``).

    Each slice input[i, ..., :] over the last len(normalized_shape) dims is shifted to mean 0
    and scaled by 1 / sqrt(var + eps) (the biased variance), then multiplied by weight and
    shifted by bias (both of shape normalized_shape, optional). Gradients flow to input, weight
    and bias.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> x = fd.tensor([[1.0, 3.0], [10.0, 30.0]])
        >>> F.layer_norm(x, (2,), eps=0.0).tolist()
        [[-1.0, 1.0], [-1.0, 1.0]]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"[{LN}] input must be a Tensor, got {type(input).__name__}")
    x = input.array
    check_float(x, LN)
    shape = normalized_shape_arg(normalized_shape)
    k = len(shape)
    if x.ndim < k or tuple(x.shape[x.ndim - k :]) != shape:
        raise ValueError(
            f"[{LN}] normalized_shape {shape} does not match the last dims of input of shape "
            f"{tuple(x.shape)}"
        )
    _affine_tensor(weight, "weight", shape, x)
    _affine_tensor(bias, "bias", shape, x)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise TypeError(f"[{LN}] eps must be a number, got {eps!r}")
    return LayerNormFn.apply(input, weight, bias, k=k, eps=float(eps))

"""Activation functions with autograd: relu, leaky_relu, elu, gelu, sigmoid, tanh, silu, softplus.

Each uses a numerically stable form: sigmoid and softplus never evaluate exp of a large positive
number (sigmoid(-1000) is 0 and softplus(1000) is 1000, with no overflow warning).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import kernels
from ..arrays import empty, xp
from ..autograd import Function
from ..dtypes import get_default_dtype
from ..tensor import Tensor
from . import fast
from ._util import rebind, wrap
from .elementwise import mul, neg

__all__ = [
    "elu",
    "erf",
    "gelu",
    "hardtanh",
    "leaky_relu",
    "logsigmoid",
    "mish",
    "relu",
    "relu6",
    "sigmoid",
    "silu",
    "softplus",
    "softsign",
    "tanh",
]


def _sigmoid(x: Any) -> Any:
    # 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) for x < 0: e^-|x| is in (0, 1], never overflows
    m = xp(x)
    e = m.exp(-m.abs(x))
    r = 1 / (1 + e)
    return m.where(x >= 0, r, e * r)


def _erf(x: Any) -> Any:
    """erf elementwise: exact (math.erf) in float64; in float32 a rational approximation with
    absolute error below 1.5e-7 (Abramowitz & Stegun 7.1.26), about float32's resolution."""
    if x.dtype == np.float64 or type(x) is not np.ndarray:
        if type(x) is not np.ndarray:
            import cupyx.scipy.special

            return cupyx.scipy.special.erf(x)
        return np.vectorize(math.erf, otypes=[x.dtype])(x) if x.size else x.copy()
    ax = np.abs(x)
    t = 1 / (1 + 0.3275911 * ax)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    y = 1 - poly * np.exp(-ax * ax)
    return np.copysign(y, x).astype(x.dtype, copy=False)


class ReluFn(Function):
    @staticmethod
    def forward(ctx, x):
        out = xp(x).maximum(x, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g * (ctx.saved_tensors[0] > 0)


class HardtanhFn(Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward((x > lo) & (x < hi))
        return xp(x).clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved_tensors[0], None, None


class LeakyReluFn(Function):
    @staticmethod
    def forward(ctx, x, slope):
        pos = x > 0
        ctx.save_for_backward(pos)
        ctx.slope = slope
        return xp(x).where(pos, x, x * slope)

    @staticmethod
    def backward(ctx, g):
        return xp(g).where(ctx.saved_tensors[0], g, g * ctx.slope), None


class EluFn(Function):
    @staticmethod
    def forward(ctx, x, alpha):
        pos = x > 0
        # expm1 of min(x, 0) only: no overflow for large positive x
        m = xp(x)
        out = m.where(pos, x, alpha * m.expm1(m.minimum(x, 0)))
        ctx.save_for_backward(pos, out)
        ctx.alpha = alpha
        return out

    @staticmethod
    def backward(ctx, g):
        pos, out = ctx.saved_tensors
        # for x <= 0: d(alpha (e^x - 1))/dx = alpha e^x = out + alpha
        return xp(g).where(pos, g, g * (out + ctx.alpha)), None


class GeluFn(Function):
    """gelu through the registry kernels ``gelu_forward`` / ``gelu_backward`` (exact or tanh)."""

    @staticmethod
    def forward(ctx, x, approximate):
        y = empty(x.shape, x.dtype, x)
        kernels.for_array("gelu_forward", x)(x, y, approximate)
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        return y

    @staticmethod
    def backward(ctx, g):
        x = ctx.saved_tensors[0]
        if g.dtype != x.dtype:
            g = g.astype(x.dtype)
        gx = empty(x.shape, x.dtype, x)
        kernels.for_array("gelu_backward", x)(x, g, gx, ctx.approximate)
        return gx, None


class SigmoidFn(Function):
    @staticmethod
    def forward(ctx, x):
        out = _sigmoid(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        s = ctx.saved_tensors[0]
        return g * (s * (1 - s))


class TanhFn(Function):
    @staticmethod
    def forward(ctx, x):
        out = xp(x).tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        t = ctx.saved_tensors[0]
        return g * (1 - t * t)


class SiluFn(Function):
    @staticmethod
    def forward(ctx, x):
        s = _sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, g):
        x, s = ctx.saved_tensors
        return g * (s * (1 + x * (1 - s)))


class SoftplusFn(Function):
    @staticmethod
    def forward(ctx, x, beta, threshold):
        bx = x * beta if beta != 1 else x
        # log(1 + e^bx) = max(bx, 0) + log1p(e^-|bx|); linear above threshold as in PyTorch
        m = xp(x)
        soft = m.maximum(bx, 0) + m.log1p(m.exp(-m.abs(bx)))
        if beta != 1:
            soft = soft / beta
        linear = bx > threshold
        ctx.save_for_backward(bx, linear)
        return m.where(linear, x, soft)

    @staticmethod
    def backward(ctx, g):
        bx, linear = ctx.saved_tensors
        return xp(g).where(linear, g, g * _sigmoid(bx)), None, None


class SoftsignFn(Function):
    @staticmethod
    def forward(ctx, x):
        d = 1 + xp(x).abs(x)
        ctx.save_for_backward(d)
        return x / d

    @staticmethod
    def backward(ctx, g):
        d = ctx.saved_tensors[0]
        return g / (d * d)


class ErfFn(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _erf(x)

    @staticmethod
    def backward(ctx, g):
        x = ctx.saved_tensors[0]
        return g * (2 / math.sqrt(math.pi)) * xp(x).exp(-x * x)


def _check_float(x: Tensor, op: str) -> None:
    if x.array.dtype.kind != "f":
        raise TypeError(f"[{op}] expected a floating-point tensor, got {x.array.dtype}")


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(input, 0).

    Example:
        >>> import pyfastdl as fd
        >>> fd.relu(fd.tensor([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """
    x = None if inplace else fast.plain(input)
    if x is not None:
        return fast.result(np.maximum(x, 0))  # ReluFn.forward's arithmetic, outside the graph
    out = ReluFn.apply(input)
    return _maybe_inplace(input, out, inplace, "relu")


def _maybe_inplace(input: Tensor, out: Tensor, inplace: bool, op: str) -> Tensor:
    if not inplace:
        return out
    return rebind(input, out, op)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """input clipped to [min_val, max_val]."""
    return _maybe_inplace(input, HardtanhFn.apply(input, min_val, max_val), inplace, "hardtanh")


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """input where positive, negative_slope * input elsewhere."""
    return _maybe_inplace(
        input, LeakyReluFn.apply(input, float(negative_slope)), inplace, "leaky_relu"
    )


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """input where positive, alpha * (exp(input) - 1) elsewhere."""
    return _maybe_inplace(input, EluFn.apply(input, float(alpha)), inplace, "elu")


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (approximate='none') or its tanh approximation (approximate='tanh')."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"[gelu] approximate must be 'none' or 'tanh', got {approximate!r}")
    _check_float(input, "gelu")
    return GeluFn.apply(input, approximate)


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-input)), without overflow for large |input|."""
    return SigmoidFn.apply(_as_float(input))


def _as_float(x: Tensor) -> Tensor:
    if x.array.dtype.kind == "f":
        return x
    return wrap(x.array.astype(get_default_dtype()))


def tanh(input: Tensor) -> Tensor:
    return TanhFn.apply(_as_float(input))


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """input * sigmoid(input)."""
    return _maybe_inplace(input, SiluFn.apply(input), inplace, "silu")


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * input)) / beta, and input itself where beta * input > threshold."""
    return SoftplusFn.apply(input, beta, threshold)


def softsign(input: Tensor) -> Tensor:
    return SoftsignFn.apply(input)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(input)) = -softplus(-input), stable for large |input|."""
    return neg(softplus(neg(input)))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """input * tanh(softplus(input))."""
    return _maybe_inplace(input, mul(input, tanh(softplus(input))), inplace, "mish")


def erf(input: Tensor) -> Tensor:
    """The error function."""
    return ErfFn.apply(_as_float(input))

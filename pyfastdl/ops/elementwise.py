"""Elementwise arithmetic with autograd: add, sub, mul, div, pow, exp, log, sqrt, abs, clamp, ...

Every binary op broadcasts its operands like PyTorch and takes Python scalars on either side; each
backward sums its gradient back to the input's shape (``unbroadcast``). Forward and backward work
on raw arrays, with the array module of their data (``xp``: numpy, or cupy for GPU arrays).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..arrays import xp
from ..autograd import Function
from ..dtypes import get_default_dtype
from ..tensor import Tensor
from ._util import one_device, operands, unbroadcast, wrap, xp2

__all__ = [
    "abs",
    "add",
    "addcdiv",
    "addcmul",
    "ceil",
    "clamp",
    "clamp_max",
    "clamp_min",
    "clip",
    "cos",
    "div",
    "divide",
    "exp",
    "expm1",
    "floor",
    "floor_divide",
    "fmod",
    "lerp",
    "log",
    "log1p",
    "log2",
    "log10",
    "maximum",
    "minimum",
    "mul",
    "multiply",
    "neg",
    "negative",
    "pow",
    "reciprocal",
    "remainder",
    "round",
    "rsqrt",
    "sign",
    "sin",
    "sqrt",
    "square",
    "sub",
    "subtract",
    "true_divide",
    "trunc",
]


def _quiet() -> Any:
    # inf/nan results (log 0, x / 0, sqrt(-1)) are returned silently, as PyTorch does.
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


def _shape(ctx: Any, i: int, a: Any) -> Any:
    return (a.shape, a.dtype) if ctx.needs_input_grad[i] else None


def _grad(g: Any, meta: Any) -> Any:
    return None if meta is None else unbroadcast(g, meta[0], meta[1])


class AddFn(Function):
    @staticmethod
    def forward(ctx, a, b, alpha=1):
        a, b = operands(a, b)
        ctx.ma, ctx.mb, ctx.alpha = _shape(ctx, 0, a), _shape(ctx, 1, b), alpha
        return a + b if alpha == 1 else a + alpha * b

    @staticmethod
    def backward(ctx, g):
        gb = _grad(g, ctx.mb)
        if gb is not None and ctx.alpha != 1:
            gb = gb * ctx.alpha
        return _grad(g, ctx.ma), gb


class SubFn(Function):
    @staticmethod
    def forward(ctx, a, b, alpha=1):
        a, b = operands(a, b)
        ctx.ma, ctx.mb, ctx.alpha = _shape(ctx, 0, a), _shape(ctx, 1, b), alpha
        return a - b if alpha == 1 else a - alpha * b

    @staticmethod
    def backward(ctx, g):
        gb = _grad(g, ctx.mb)
        if gb is not None:
            gb = -gb if ctx.alpha == 1 else gb * -ctx.alpha
        return _grad(g, ctx.ma), gb


class MulFn(Function):
    @staticmethod
    def forward(ctx, a, b):
        a, b = operands(a, b)
        ctx.ma, ctx.mb = _shape(ctx, 0, a), _shape(ctx, 1, b)
        ctx.save_for_backward(a if ctx.mb else None, b if ctx.ma else None)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return (
            None if ctx.ma is None else unbroadcast(g * b, *ctx.ma),
            None if ctx.mb is None else unbroadcast(g * a, *ctx.mb),
        )


class DivFn(Function):
    @staticmethod
    def forward(ctx, a, b, rounding_mode=None):
        a, b = operands(a, b)
        if rounding_mode is not None:
            # rounded quotients are piecewise constant: no gradient flows
            ctx.ma = ctx.mb = None
            dt = a.dtype if hasattr(a, "dtype") else b.dtype
            _int_divisor(dt, b, "div")
            with _quiet():
                q = xp2(a, b).true_divide(a, b)
            return _round_quotient(q, rounding_mode).astype(dt, copy=False)
        if hasattr(a, "dtype") and a.dtype.kind != "f":
            a = _float(a)  # true division of integers gives the default float dtype
        if hasattr(b, "dtype") and b.dtype.kind != "f":
            b = _float(b)
        ctx.ma, ctx.mb = _shape(ctx, 0, a), _shape(ctx, 1, b)
        ctx.save_for_backward(a if ctx.mb else None, b)
        if hasattr(b, "dtype") or b == 0:
            with _quiet():
                return a / b
        return a / b

    @staticmethod
    def backward(ctx, g):
        if ctx.ma is None and ctx.mb is None:  # (rounded quotients save nothing)
            return None, None
        a, b = ctx.saved_tensors
        with _quiet():
            ga = g / b
            gb = None if ctx.mb is None else unbroadcast(-ga * a / b, *ctx.mb)
        return (None if ctx.ma is None else unbroadcast(ga, *ctx.ma)), gb


def _round_quotient(q: Any, mode: str) -> Any:
    if mode == "trunc":
        return xp(q).trunc(q)
    if mode == "floor":
        return xp(q).floor(q)
    raise ValueError(f"[div] rounding_mode must be None, 'trunc' or 'floor', got {mode!r}")


class PowFn(Function):
    @staticmethod
    def forward(ctx, a, b):
        a, b = operands(a, b)
        ctx.ma, ctx.mb = _shape(ctx, 0, a), _shape(ctx, 1, b)
        with _quiet():
            out = a**b
        ctx.save_for_backward(a, b, out if ctx.mb else None)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        ga = gb = None
        m = xp(g)
        with _quiet():
            if ctx.ma is not None:
                if hasattr(b, "dtype"):
                    d = m.where(b == 0, 0, b * a ** (b - 1))
                elif b == 2:
                    d = 2 * a
                else:
                    d = b * a ** (b - 1) if b != 0 else 0 * a
                ga = unbroadcast(g * d, *ctx.ma)
            if ctx.mb is not None:
                # d(a^b)/db = a^b log a, taken as 0 where a == 0 and b >= 0 (PyTorch's choice)
                gb = unbroadcast(g * m.where((a == 0) & (b >= 0), 0, out * m.log(a)), *ctx.mb)
        return ga, gb


def add(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """input + alpha * other, broadcasting.

    Example:
        >>> import pyfastdl as fd
        >>> fd.add(fd.tensor([1.0, 2.0]), 1).tolist()
        [2.0, 3.0]
    """
    return AddFn.apply(input, other, alpha=alpha)


def sub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """input - alpha * other, broadcasting."""
    return SubFn.apply(input, other, alpha=alpha)


def mul(input: Any, other: Any) -> Tensor:
    """input * other, broadcasting."""
    return MulFn.apply(input, other)


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """input / other (true division; rounding_mode 'trunc' or 'floor' rounds the quotient)."""
    return DivFn.apply(input, other, rounding_mode=rounding_mode)


def pow(input: Any, exponent: Any) -> Tensor:
    """input ** exponent; either may be a Python number."""
    return PowFn.apply(input, exponent)


subtract, multiply, divide, true_divide = sub, mul, div, div


# ---------------------------------------------------------------------- unary ops
class NegFn(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


class ExpFn(Function):
    @staticmethod
    def forward(ctx, a):
        with _quiet():
            out = xp(a).exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved_tensors[0]


class Expm1Fn(Function):
    @staticmethod
    def forward(ctx, a):
        with _quiet():
            out = xp(a).expm1(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g * (ctx.saved_tensors[0] + 1)


class LogFn(Function):
    # base: None for the natural log, else 2 or 10 (the derivative gains 1 / ln(base))
    @staticmethod
    def forward(ctx, a, base=None):
        a = _float(a)
        ctx.save_for_backward(a)
        ctx.scale = 1.0 if base is None else 1.0 / float(np.log(base))
        m = xp(a)
        with _quiet():
            return m.log(a) if base is None else (m.log2(a) if base == 2 else m.log10(a))

    @staticmethod
    def backward(ctx, g):
        with _quiet():
            out = g / ctx.saved_tensors[0]
        return out if ctx.scale == 1.0 else out * ctx.scale


class Log1pFn(Function):
    @staticmethod
    def forward(ctx, a):
        a = _float(a)
        ctx.save_for_backward(a)
        with _quiet():
            return xp(a).log1p(a)

    @staticmethod
    def backward(ctx, g):
        with _quiet():
            return g / (ctx.saved_tensors[0] + 1)


class SqrtFn(Function):
    @staticmethod
    def forward(ctx, a):
        a = _float(a)
        with _quiet():
            out = xp(a).sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        with _quiet():
            return g / (2 * ctx.saved_tensors[0])


class RsqrtFn(Function):
    @staticmethod
    def forward(ctx, a):
        a = _float(a)
        with _quiet():
            out = 1 / xp(a).sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out = ctx.saved_tensors[0]
        # d(x^-1/2)/dx = -x^-3/2 / 2 = -out^3 / 2
        return g * (-0.5 * out * out * out)


class SquareFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx, g):
        return g * (2 * ctx.saved_tensors[0])


class AbsFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp(a).abs(a)

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved_tensors[0]
        return g * xp(a).sign(a)


class ReciprocalFn(Function):
    @staticmethod
    def forward(ctx, a):
        with _quiet():
            out = 1 / _float(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out = ctx.saved_tensors[0]
        return g * -(out * out)


class SinFn(Function):
    @staticmethod
    def forward(ctx, a):
        a = _float(a)
        ctx.save_for_backward(a)
        return xp(a).sin(a)

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved_tensors[0]
        return g * xp(a).cos(a)


class CosFn(Function):
    @staticmethod
    def forward(ctx, a):
        a = _float(a)
        ctx.save_for_backward(a)
        return xp(a).cos(a)

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved_tensors[0]
        return g * -xp(a).sin(a)


class _PiecewiseConstantFn(Function):
    """sign, floor, ceil, round, trunc (`fn`: the name of the array function, and its keyword
    arguments): the gradient is zero almost everywhere."""

    @staticmethod
    def forward(ctx, a, fn, kwargs=None):
        ctx.like = (a.shape, a.dtype)
        return getattr(xp(a), fn)(a, **(kwargs or {}))

    @staticmethod
    def backward(ctx, g):
        return xp(g).zeros(*ctx.like), None, None


def _float(a: Any) -> Any:
    """Integer/bool input of a float-valued op becomes the default float dtype (PyTorch's rule)."""
    if a.dtype.kind in "fc":
        return a
    return a.astype(get_default_dtype())


def neg(input: Tensor) -> Tensor:
    """-input."""
    return NegFn.apply(input)


negative = neg


def exp(input: Tensor) -> Tensor:
    """e ** input.

    Example:
        >>> import pyfastdl as fd
        >>> fd.exp(fd.tensor([0.0])).item()
        1.0
    """
    return ExpFn.apply(_floated(input))


def _floated(t: Any) -> Any:
    a = t.array
    if a.dtype.kind in "fc":
        return t
    return wrap(a.astype(get_default_dtype()))


def expm1(input: Tensor) -> Tensor:
    """e ** input - 1, accurate near 0."""
    return Expm1Fn.apply(_floated(input))


def log(input: Tensor) -> Tensor:
    """Natural logarithm (-inf at 0, nan below 0, without warnings)."""
    return LogFn.apply(input)


def log2(input: Tensor) -> Tensor:
    return LogFn.apply(input, 2)


def log10(input: Tensor) -> Tensor:
    return LogFn.apply(input, 10)


def log1p(input: Tensor) -> Tensor:
    """log(1 + input), accurate near 0."""
    return Log1pFn.apply(input)


def sqrt(input: Tensor) -> Tensor:
    return SqrtFn.apply(input)


def rsqrt(input: Tensor) -> Tensor:
    """1 / sqrt(input)."""
    return RsqrtFn.apply(input)


def square(input: Tensor) -> Tensor:
    return SquareFn.apply(input)


def abs(input: Tensor) -> Tensor:
    """|input|; the gradient at 0 is 0, as in PyTorch."""
    return AbsFn.apply(input)


def reciprocal(input: Tensor) -> Tensor:
    return ReciprocalFn.apply(input)


def sin(input: Tensor) -> Tensor:
    return SinFn.apply(input)


def cos(input: Tensor) -> Tensor:
    return CosFn.apply(input)


def sign(input: Tensor) -> Tensor:
    return _PiecewiseConstantFn.apply(input, "sign")


def floor(input: Tensor) -> Tensor:
    return _PiecewiseConstantFn.apply(input, "floor")


def ceil(input: Tensor) -> Tensor:
    return _PiecewiseConstantFn.apply(input, "ceil")


def round(input: Tensor, *, decimals: int = 0) -> Tensor:
    """Rounds half to even, as PyTorch does."""
    return _PiecewiseConstantFn.apply(input, "round", {"decimals": decimals})


def trunc(input: Tensor) -> Tensor:
    return _PiecewiseConstantFn.apply(input, "trunc")


def floor_divide(input: Any, other: Any) -> Tensor:
    """input / other rounded down (PyTorch's floor_divide / ``//``)."""
    a, b = operands(*one_device("floor_divide", _a(input), _a(other)))
    with _quiet():
        out = xp2(a, b).floor_divide(a, b)
    _int_divisor(out.dtype, b, "floor_divide")
    return wrap(out)


def remainder(input: Any, other: Any) -> Tensor:
    """Python's modulus: the result has the sign of the divisor (``%``)."""
    a, b = operands(*one_device("remainder", _a(input), _a(other)))
    m = xp2(a, b)
    with _quiet():
        out = m.asarray(m.mod(a, b))
    _int_divisor(out.dtype, b, "remainder")
    return wrap(out)


def fmod(input: Any, other: Any) -> Tensor:
    """C's fmod: the result has the sign of the dividend."""
    a, b = operands(*one_device("fmod", _a(input), _a(other)))
    m = xp2(a, b)
    with _quiet():
        out = m.asarray(m.fmod(a, b))
    _int_divisor(out.dtype, b, "fmod")
    return wrap(out)


def _int_divisor(dtype: Any, b: Any, op: str) -> None:
    """PyTorch raises for an integer division by zero, where NumPy returns 0."""
    if dtype.kind in "iu" and bool((b == 0).any() if hasattr(b, "any") else b == 0):
        raise ZeroDivisionError(f"[{op}] integer division by zero")


def _a(x: Any) -> Any:
    return x.array if isinstance(x, Tensor) else x


# ---------------------------------------------------------------------- clamp, maximum, minimum
class ClampFn(Function):
    @staticmethod
    def forward(ctx, a, lo, hi):
        if a.dtype.kind in "iub" and any(isinstance(v, float) for v in (lo, hi)):
            a = _float(a)
        m = xp(a)
        if lo is not None and hi is not None:
            # PyTorch: min > max sets every element to max
            out = m.minimum(m.maximum(a, lo), hi)
        elif lo is not None:
            out = m.maximum(a, lo)
        else:
            out = m.minimum(a, hi)
        if ctx.needs_input_grad[0]:
            mask = True
            if lo is not None:
                mask = a >= lo
            if hi is not None:
                mask = (a <= hi) if mask is True else (mask & (a <= hi))
            ctx.save_for_backward(mask)
        return out

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved_tensors[0], None, None


class MaximumFn(Function):
    # ties share the gradient equally (PyTorch's choice)
    @staticmethod
    def forward(ctx, a, b, is_max=True):
        a, b = operands(a, b)
        ctx.ma, ctx.mb = _shape(ctx, 0, a), _shape(ctx, 1, b)
        ctx.save_for_backward(a, b)
        ctx.is_max = is_max
        m = xp2(a, b)
        return m.maximum(a, b) if is_max else m.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        wins = (a > b) if ctx.is_max else (a < b)
        share = wins + 0.5 * (a == b)
        ga = None if ctx.ma is None else unbroadcast(g * share, *ctx.ma)
        gb = None if ctx.mb is None else unbroadcast(g * (1 - share), *ctx.mb)
        return ga, gb


def _bound(v: Any) -> Any:
    if isinstance(v, Tensor):
        return v
    if v is None or isinstance(v, (int, float, np.integer, np.floating)):
        return v
    raise TypeError(f"[clamp] min and max must be numbers or Tensors, got {type(v).__name__}")


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Limits input to [min, max]; min or max may be None, a number or a Tensor.

    The gradient flows where min <= input <= max.

    Example:
        >>> import pyfastdl as fd
        >>> fd.clamp(fd.tensor([-2.0, 0.5, 3.0]), min=0.0, max=1.0).tolist()
        [0.0, 0.5, 1.0]
    """
    min, max = _bound(min), _bound(max)
    if min is None and max is None:
        raise ValueError("[clamp] at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = MaximumFn.apply(out, min, True)
        if max is not None:
            out = MaximumFn.apply(out, max, False)
        return out
    return ClampFn.apply(input, min, max)


clip = clamp


def clamp_min(input: Tensor, min: Any) -> Tensor:
    return clamp(input, min=min)


def clamp_max(input: Tensor, max: Any) -> Tensor:
    return clamp(input, max=max)


def maximum(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise max of two tensors (ties share the gradient)."""
    return MaximumFn.apply(input, other, True)


def minimum(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise min of two tensors (ties share the gradient)."""
    return MaximumFn.apply(input, other, False)


# ---------------------------------------------------------------------- fused helpers
def lerp(input: Tensor, end: Any, weight: Any) -> Tensor:
    """input + weight * (end - input)."""
    return add(input, mul(sub(end, input), weight))


def addcmul(input: Tensor, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
    """input + value * tensor1 * tensor2."""
    return add(input, mul(tensor1, tensor2), alpha=value)


def addcdiv(input: Tensor, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
    """input + value * tensor1 / tensor2."""
    return add(input, div(tensor1, tensor2), alpha=value)

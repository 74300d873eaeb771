"""More elementwise math with autograd: tan, the inverse and hyperbolic trigonometric functions,
exp2, sinc, deg2rad/rad2deg, logit, and the binary atan2, hypot, logaddexp, logaddexp2.

Each op is one row of a table: the name of the array function (looked up in the array module of
the data, numpy or cupy) and its derivative in terms of that module `m`, the input `a` and the
output `out`; ``_unary``/``_binary`` turn a row into its ``<Op>Fn`` Function and its public
function. Integer inputs compute in the default float dtype, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..arrays import xp
from ..autograd import Function
from ..tensor import Tensor
from ._util import operands, unbroadcast, xp2
from .elementwise import _float, clamp

__all__ = [
    "acos",
    "acosh",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "cosh",
    "deg2rad",
    "exp2",
    "hypot",
    "logaddexp",
    "logaddexp2",
    "logit",
    "rad2deg",
    "sinc",
    "sinh",
    "tan",
]

_LN2 = float(np.log(2.0))


def _array_function(name: str) -> Any:
    """``f(*arrays)``: the function `name` of the array module of the first array."""

    def f(a: Any, *rest: Any) -> Any:
        return getattr(xp(a), name)(a, *rest)

    f.__name__ = name
    return f


def _sinc_grad(m: Any, a: Any, out: Any) -> Any:
    # d/dx sin(pi x) / (pi x) = (cos(pi x) - sinc(x)) / x, which is 0 at x = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (m.cos(np.pi * a) - out) / a
    return m.where(a == 0, 0, d)


# name -> (forward: the array function's name, derivative df(m, a, out), what it computes)
_UNARY = {
    "tan": ("tan", lambda m, a, out: 1 + out * out, "tangent"),
    "asin": ("arcsin", lambda m, a, out: 1 / m.sqrt(1 - a * a), "inverse sine"),
    "acos": ("arccos", lambda m, a, out: -1 / m.sqrt(1 - a * a), "inverse cosine"),
    "atan": ("arctan", lambda m, a, out: 1 / (1 + a * a), "inverse tangent"),
    "sinh": ("sinh", lambda m, a, out: m.cosh(a), "hyperbolic sine"),
    "cosh": ("cosh", lambda m, a, out: m.sinh(a), "hyperbolic cosine"),
    "asinh": ("arcsinh", lambda m, a, out: 1 / m.sqrt(a * a + 1), "inverse hyperbolic sine"),
    "acosh": ("arccosh", lambda m, a, out: 1 / m.sqrt(a * a - 1), "inverse hyperbolic cosine"),
    "atanh": ("arctanh", lambda m, a, out: 1 / (1 - a * a), "inverse hyperbolic tangent"),
    "exp2": ("exp2", lambda m, a, out: out * _LN2, "2 ** input"),
    "sinc": ("sinc", _sinc_grad, "the normalized sinc, sin(pi x) / (pi x) (1 at 0)"),
    "deg2rad": ("deg2rad", lambda m, a, out: m.full_like(a, np.pi / 180), "degrees to radians"),
    "rad2deg": ("rad2deg", lambda m, a, out: m.full_like(a, 180 / np.pi), "radians to degrees"),
}


def _unary(name: str) -> tuple:
    f, df, what = _UNARY[name]
    if isinstance(f, str):
        f = _array_function(f)

    def forward(ctx, a):
        a = _float(a)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = f(a)
        ctx.save_for_backward(a, out)
        return out

    def backward(ctx, g):
        a, out = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return (g * df(xp(a), a, out)).astype(a.dtype, copy=False)

    fn_class = type(
        name.capitalize() + "Fn",
        (Function,),
        {"forward": staticmethod(forward), "backward": staticmethod(backward)},
    )

    def public(input: Tensor) -> Tensor:
        return fn_class.apply(input)

    public.__name__ = public.__qualname__ = name
    public.__doc__ = f"Elementwise {what}."
    return fn_class, public


TanFn, tan = _unary("tan")
AsinFn, asin = _unary("asin")
AcosFn, acos = _unary("acos")
AtanFn, atan = _unary("atan")
SinhFn, sinh = _unary("sinh")
CoshFn, cosh = _unary("cosh")
AsinhFn, asinh = _unary("asinh")
AcoshFn, acosh = _unary("acosh")
AtanhFn, atanh = _unary("atanh")
Exp2Fn, exp2 = _unary("exp2")
SincFn, sinc = _unary("sinc")
Deg2radFn, deg2rad = _unary("deg2rad")
Rad2degFn, rad2deg = _unary("rad2deg")
arcsin, arccos, arctan = asin, acos, atan
arcsinh, arccosh, arctanh = asinh, acosh, atanh


def _logit_grad(m: Any, a: Any, out: Any) -> Any:
    return 1 / (a * (1 - a))


_UNARY["logit"] = (lambda a: xp(a).log(a / (1 - a)), _logit_grad, "log(p / (1 - p))")
LogitFn, _logit = _unary("logit")


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """log(input / (1 - input)); with `eps`, input is first clamped to [eps, 1 - eps].

    Example:
        >>> import pyfastdl as fd
        >>> fd.logit(fd.tensor([0.5])).item()
        0.0
    """
    if eps is not None:
        input = clamp(input, eps, 1 - eps)
    return _logit(input)


# name -> (forward: the array function's name, derivatives (da, db)(m, a, b, out), what it
# computes)
_BINARY = {
    "atan2": (
        "arctan2",
        lambda m, a, b, out: (b / (a * a + b * b), -a / (a * a + b * b)),
        "arctangent of input / other, in the quadrant of (other, input)",
    ),
    "hypot": (
        "hypot",
        lambda m, a, b, out: (a / out, b / out),
        "sqrt(input ** 2 + other ** 2)",
    ),
    "logaddexp": (
        "logaddexp",
        lambda m, a, b, out: (m.exp(a - out), m.exp(b - out)),
        "log(exp(input) + exp(other)), without overflow",
    ),
    "logaddexp2": (
        "logaddexp2",
        lambda m, a, b, out: (m.exp2(a - out), m.exp2(b - out)),
        "log2(2 ** input + 2 ** other), without overflow",
    ),
}


def _binary(name: str) -> tuple:
    fname, df, what = _BINARY[name]

    def f(a: Any, b: Any) -> Any:
        return getattr(xp2(a, b), fname)(a, b)

    def forward(ctx, a, b):
        a, b = operands(a, b)
        # Python scalars stay scalars (weak in numpy's promotion): float32 stays float32
        a = _float(a) if hasattr(a, "dtype") else float(a)
        b = _float(b) if hasattr(b, "dtype") else float(b)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = f(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            da, db = df(xp(out), a, b, out)
        ga = unbroadcast(g * da, a.shape, a.dtype) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(g * db, b.shape, b.dtype) if ctx.needs_input_grad[1] else None
        return ga, gb

    fn_class = type(
        name.capitalize() + "Fn",
        (Function,),
        {"forward": staticmethod(forward), "backward": staticmethod(backward)},
    )

    def public(input: Any, other: Any) -> Tensor:
        return fn_class.apply(input, other)

    public.__name__ = public.__qualname__ = name
    public.__doc__ = f"Elementwise {what} (broadcasting)."
    return fn_class, public


Atan2Fn, atan2 = _binary("atan2")
HypotFn, hypot = _binary("hypot")
LogaddexpFn, logaddexp = _binary("logaddexp")
Logaddexp2Fn, logaddexp2 = _binary("logaddexp2")
arctan2 = atan2

"""Reference GELU kernels, exact and tanh approximation, forward and backward (elementwise).

  approximate='none'  y = x Phi(x),  Phi(x) = erfc(-x / sqrt 2) / 2      (= (1 + erf(x / sqrt 2)) / 2)
                      dy/dx = Phi(x) + x phi(x),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
  approximate='tanh'  y = x (1 + tanh(u)) / 2 = x / (1 + exp(-2u)),  u = sqrt(2 / pi) (x + 0.044715 x^3)
                      dy/dx = s + 2 x s (1 - s) sqrt(2 / pi) (1 + 3 * 0.044715 x^2),  s = 1 / (1 + exp(-2u))
The erfc and sigmoid forms are the same functions as the 1 + erf / 1 + tanh ones, written so that
nothing cancels in the negative tail (there 1 + erf loses every digit even in float64). x, y,
grad_y, grad_x have one shape (any); the math runs in float64, results are cast to the outputs'
dtype. At x = +-inf the limits are taken: gelu(-inf) = 0, gelu(+inf) = inf, gelu'(-inf) = 0,
gelu'(+inf) = 1 (the formulas give inf * 0 there; PyTorch returns NaN for some of them).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...arrays import xp as xp_of

__all__ = ["gelu_backward", "gelu_forward"]

APPROXIMATIONS = ("none", "tanh")
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _check(approximate: str) -> None:
    if approximate not in APPROXIMATIONS:
        raise ValueError(f"[gelu] approximate must be 'none' or 'tanh', got {approximate!r}")


def _erfc(xp: Any, x: Any) -> Any:
    if xp.__name__ == "numpy":
        return xp.vectorize(math.erfc, otypes=[x.dtype])(x) if x.size else x.copy()
    import cupyx.scipy.special

    return cupyx.scipy.special.erfc(x)


def _normal_cdf(xp: Any, x: Any) -> Any:
    return 0.5 * _erfc(xp, -x / math.sqrt(2.0))


def _tanh_sigmoid(xp: Any, x: Any) -> tuple[Any, Any]:
    """s = 1 / (1 + e) and e = exp(-2u) of the tanh form (e capped: no overflow warning)."""
    u = _SQRT_2_OVER_PI * (x + 0.044715 * x**3)
    e = xp.exp(xp.minimum(-2.0 * u, 700.0))
    return 1.0 / (1.0 + e), e


def _at_infinities(xp: Any, x: Any, value: Any, at_minus_inf: float, at_plus_inf: float) -> Any:
    """value, with its limits at x = -inf and +inf put in: there the products above are
    inf * 0 (x Phi(x), x phi(x)) or inf * tiny (the tanh form's capped exponential), which the
    limits, not IEEE arithmetic, define."""
    value = xp.where(x == -xp.inf, at_minus_inf, value)
    return xp.where(x == xp.inf, at_plus_inf, value)


def gelu_forward(x: Any, y: Any, approximate: str = "none") -> None:
    """y = gelu(x); gelu(-inf) = 0, gelu(+inf) = +inf (the limits), NaN stays NaN."""
    _check(approximate)
    xp = xp_of(x)
    x64 = x.astype(xp.float64)
    with np.errstate(invalid="ignore"):  # -inf * 0, replaced by the limit
        if approximate == "tanh":
            value = x64 * _tanh_sigmoid(xp, x64)[0]
        else:
            value = x64 * _normal_cdf(xp, x64)
    y[...] = _at_infinities(xp, x64, value, 0.0, xp.inf)


def gelu_backward(x: Any, grad_y: Any, grad_x: Any, approximate: str = "none") -> None:
    """grad_x = grad_y * gelu'(x); gelu'(-inf) = 0, gelu'(+inf) = 1 (the limits)."""
    _check(approximate)
    xp = xp_of(x)
    x64 = x.astype(xp.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # +-inf * 0, replaced by the limits
        if approximate == "tanh":
            s, e = _tanh_sigmoid(xp, x64)
            d = s + 2.0 * x64 * s * (e * s) * _SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * x64**2)
        else:
            d = _normal_cdf(xp, x64) + x64 * xp.exp(-0.5 * x64 * x64) / math.sqrt(2.0 * math.pi)
    grad_x[...] = grad_y.astype(xp.float64) * _at_infinities(xp, x64, d, 0.0, 1.0)


KERNELS = {
    "gelu_forward": gelu_forward,
    "gelu_backward": gelu_backward,
}

"""Differentiable special functions the distributions need: lgamma, digamma, erfinv.

NumPy only (no SciPy). Each is computed in float64 and returned in the input's dtype:
- lgamma: ``math.lgamma`` elementwise (exact to float64); d/dx lgamma = digamma.
- digamma and trigamma: the recurrences psi(x) = psi(x + 1) - 1/x and
  psi'(x) = psi'(x + 1) + 1/x^2 lift x to >= 10, where the asymptotic series (Abramowitz & Stegun
  6.3.18, 6.4.12), cut after the x^-12 / x^-13 term, is accurate to about 1e-15; x < 0 goes
  through the reflection formulas. d/dx digamma = trigamma (trigamma itself is not differentiable).
- erfinv: a rational first guess refined by Newton's method on ``math.erf``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..arrays import is_gpu, to_gpu, to_host, xp
from ..autograd import Function
from ..ops._util import unbroadcast
from ..tensor import Tensor, _is_numpy

__all__ = [
    "digamma",
    "erfinv",
    "gammainc",
    "lgamma",
    "standard_gamma",
    "trigamma_array",
]

_lgamma = np.vectorize(math.lgamma, otypes=[np.float64])
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _on_host(fn: Callable) -> Callable:
    """`fn` (NumPy math: ``math.lgamma`` through np.vectorize, series loops that test convergence
    on the host) on host copies of GPU arguments, its results moved back to their device. The
    special functions are not a hot path (a distribution's log_prob / entropy / sampling)."""

    @functools.wraps(fn)
    def run(*args: Any) -> Any:
        gpu = next((a for a in args if is_gpu(a)), None)
        if gpu is None:
            return fn(*args)
        out = fn(*(a.get() if is_gpu(a) else a for a in args))
        op = fn.__name__
        return tuple(to_gpu(o, op) for o in out) if isinstance(out, tuple) else to_gpu(out, op)

    return run


def _f64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


@_on_host
def lgamma_array(a: np.ndarray) -> np.ndarray:
    x = _f64(a)
    return (_lgamma(x) if x.size else x.copy()).astype(a.dtype, copy=False)


@_on_host
def digamma_array(a: np.ndarray) -> np.ndarray:
    x = _f64(a).copy()
    neg = x < 0
    # reflection: psi(x) = psi(1 - x) - pi / tan(pi x)
    reflect = np.where(neg, -np.pi / np.tan(np.pi * np.where(neg, x, 0.5)), 0.0)
    x = np.where(neg, 1 - x, x)
    out = np.zeros_like(x)
    for _ in range(10):
        small = x < 10
        if not small.any():
            break
        out -= np.where(small, 1 / np.where(small, x, 1.0), 0.0)
        x = np.where(small, x + 1, x)
    x2 = 1 / (x * x)
    series = x2 * (1 / 12 - x2 * (1 / 120 - x2 * (1 / 252 - x2 * (1 / 240 - x2 * (1 / 132)))))
    out += np.log(x) - 0.5 / x - series + reflect
    return out.astype(a.dtype, copy=False)


@_on_host
def trigamma_array(a: np.ndarray) -> np.ndarray:
    """psi'(x), the derivative of digamma, on arrays."""
    x = _f64(a).copy()
    neg = x < 0
    # reflection: psi'(1 - x) + psi'(x) = pi^2 / sin^2(pi x)
    reflect = np.where(neg, (np.pi / np.sin(np.pi * np.where(neg, x, 0.5))) ** 2, 0.0)
    x = np.where(neg, 1 - x, x)
    out = np.zeros_like(x)
    for _ in range(10):
        small = x < 10
        if not small.any():
            break
        out += np.where(small, 1 / np.where(small, x * x, 1.0), 0.0)
        x = np.where(small, x + 1, x)
    z = 1 / x
    z2 = z * z
    series = (
        z + z2 / 2 + z * z2 * (1 / 6 - z2 * (1 / 30 - z2 * (1 / 42 - z2 * (1 / 30 - z2 * 5 / 66))))
    )
    out += series
    out = np.where(neg, reflect - out, out)
    return out.astype(a.dtype, copy=False)


@_on_host
def erfinv_array(a: np.ndarray) -> np.ndarray:
    y = _f64(a)
    # first guess (Winitzki's approximation), then Newton steps on erf(x) - y
    w = np.log1p(-np.minimum(y * y, 1.0 - 1e-300))
    k = 0.147
    t = 2 / (np.pi * k) + w / 2
    x = np.sign(y) * np.sqrt(np.sqrt(t * t - w / k) - t)
    for _ in range(3):
        x = x - (_erf(x) - y) / (2 / math.sqrt(math.pi) * np.exp(-x * x)) if x.size else x
    x = np.where(np.abs(y) == 1, np.sign(y) * np.inf, x)
    x = np.where(np.abs(y) > 1, np.nan, x)
    return x.astype(a.dtype, copy=False)


class LgammaFn(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return lgamma_array(x)

    @staticmethod
    def backward(ctx, g):
        return g * digamma_array(ctx.saved_tensors[0])


class DigammaFn(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return digamma_array(x)

    @staticmethod
    def backward(ctx, g):
        return g * trigamma_array(ctx.saved_tensors[0])


class ErfinvFn(Function):
    @staticmethod
    def forward(ctx, x):
        out = erfinv_array(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved_tensors[0]
        return g * (math.sqrt(math.pi) / 2) * xp(y).exp(y * y)


def _float(x: Any) -> Tensor:
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float64))  # host data
    if x.dtype.kind != "f":
        x = Tensor(x.array.astype(np.float64))
    return x


def lgamma(input: Tensor) -> Tensor:
    """log |Gamma(input)|, elementwise.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.distributions._special import lgamma
        >>> round(lgamma(fd.tensor([5.0])).item(), 6)  # log(4!)
        3.178054
    """
    return LgammaFn.apply(_float(input))


def digamma(input: Tensor) -> Tensor:
    """psi(input) = d/dx log Gamma(x), elementwise."""
    return DigammaFn.apply(_float(input))


def erfinv(input: Tensor) -> Tensor:
    """The inverse of erf on (-1, 1) (+-inf at +-1, NaN outside)."""
    return ErfinvFn.apply(_float(input))


@_on_host
def gammainc_and_dalpha(alpha: np.ndarray, x: np.ndarray) -> tuple:
    """(P, dP/dalpha) for the regularized lower incomplete gamma P(alpha, x), in float64.

    The series P = x^a e^-x / Gamma(a + 1) * sum_n t_n, t_n = x^n / ((a + 1)...(a + n)), has
    positive terms (stable) and converges once a + n > x, after about max(0, x - a) + a few
    sqrt(x) terms. Its derivative in a: d log t_n / da = -h_n with h_n = sum_{k<=n} 1 / (a + k),
    so dP/da = pref * ((log x - psi(a + 1)) * S - sum_n t_n h_n).
    """
    a, x = np.broadcast_arrays(_f64(alpha), _f64(x))
    safe_x = np.where(x > 0, x, 1.0)
    with np.errstate(all="ignore"):
        log_pref = a * np.log(safe_x) - safe_x - lgamma_array(a + 1)
        t = np.ones_like(a)
        h = np.zeros_like(a)
        s = np.ones_like(a)
        sh = np.zeros_like(a)
        for n in range(1, 100000):
            t = t * safe_x / (a + n)
            h = h + 1 / (a + n)
            s = s + t
            sh = sh + t * h
            if n > 4 and ((t <= 1e-17 * s) | ~np.isfinite(t)).all():
                break
        pref = np.exp(log_pref)
        p = pref * s
        dp = pref * ((np.log(safe_x) - digamma_array(a + 1)) * s - sh)
    p = np.where(x > 0, np.minimum(p, 1.0), 0.0)
    dp = np.where(x > 0, dp, 0.0)
    return p, dp


@_on_host
def gamma_log_density(alpha: np.ndarray, x: np.ndarray) -> np.ndarray:
    """log of the Gamma(alpha, 1) density at x > 0, in float64."""
    a, x = _f64(alpha), _f64(x)
    return (a - 1) * np.log(x) - x - lgamma_array(a)


class StandardGammaFn(Function):
    """Gamma(alpha, 1) draws with implicit reparameterisation gradients (Figurnov et al. 2018):
    x = F^-1(u; alpha) for a fixed uniform u, so dx/dalpha = -(dF/dalpha) / f(x; alpha)."""

    @staticmethod
    def forward(ctx, alpha, rng, shape):
        # drawn on the host (pyfastdl's generator), then moved to alpha's device
        a = np.broadcast_to(to_host(alpha).astype(np.float64), shape)
        x = np.maximum(rng.standard_gamma(a), np.finfo(alpha.dtype).tiny)
        if not _is_numpy(alpha):
            x = to_gpu(x, "standard_gamma")
        ctx.save_for_backward(alpha, x)
        return x.astype(alpha.dtype)

    @staticmethod
    def backward(ctx, g):
        alpha, x = ctx.saved_tensors
        m = xp(x)
        a = m.broadcast_to(alpha.astype(np.float64), x.shape)
        _, dp = gammainc_and_dalpha(a, x)
        dx = -dp / m.exp(gamma_log_density(a, x))
        grad = (g * dx).astype(alpha.dtype)
        return unbroadcast(grad, alpha.shape), None, None


class GammaincFn(Function):
    """P(alpha, x); dP/dx is the Gamma(alpha, 1) density, dP/dalpha from the series."""

    @staticmethod
    def forward(ctx, alpha, x):
        p, dp = gammainc_and_dalpha(alpha, x)
        ctx.save_for_backward(alpha, x, dp)
        dtype = np.result_type(alpha.dtype, x.dtype)
        return p.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        alpha, x, dp = ctx.saved_tensors
        m = xp(x)
        with np.errstate(all="ignore"):
            dens = m.where(x > 0, m.exp(gamma_log_density(alpha, m.where(x > 0, x, 1.0))), 0.0)
        return (
            unbroadcast((g * dp).astype(alpha.dtype), alpha.shape),
            unbroadcast((g * dens).astype(x.dtype), x.shape),
        )


def standard_gamma(concentration: Tensor, shape: tuple, rng: np.random.Generator) -> Tensor:
    """Gamma(concentration, 1) draws of `shape` (broadcast from concentration's), clamped to the
    dtype's smallest normal number as PyTorch does; differentiable in concentration."""
    return StandardGammaFn.apply(concentration, rng, tuple(shape))


def gammainc(input: Tensor, other: Tensor) -> Tensor:
    """The regularized lower incomplete gamma function P(input, other), differentiable in both."""
    return GammaincFn.apply(input, other)

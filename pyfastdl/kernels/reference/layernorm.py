"""Reference layer normalization kernels over the rows of an (M, N) array.

Each of the M rows (x viewed as (M, N), N = prod(normalized_shape)) is normalized on its own:
  forward   mean = sum(x) / N, var = sum((x - mean)^2) / N (biased), rstd = 1 / sqrt(var + eps)
            y = (x - mean) * rstd * weight + bias      (weight None: 1, bias None: 0; both (N,))
  backward  xhat = (x - mean) * rstd, gw = grad_y * weight
            grad_x = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))      (means over the row)
            grad_weight = sum over rows of grad_y * xhat, grad_bias = sum over rows of grad_y
            (mean is the forward's mean rounded to its dtype: it is refined to
            mean + sum(x - mean) / N, which restores the digits its rounding lost)
Sums run in float64 (two passes: the mean, then the squared deviations) and results are cast to
the outputs' dtype. Outputs given as None (grad_x, grad_weight, grad_bias) are skipped. A row of
N = 0 values has mean 0 and rstd 1 / sqrt(eps).
"""

from __future__ import annotations

from typing import Any

from ...arrays import xp as xp_of

__all__ = ["layer_norm_backward", "layer_norm_forward"]


def _or(v: Any, value: float, n: int, xp: Any) -> Any:
    return xp.full(n, value, xp.float64) if v is None else v.astype(xp.float64)


def layer_norm_forward(
    x: Any, weight: Any, bias: Any, y: Any, mean: Any, rstd: Any, eps: float = 1e-5
) -> None:
    """y = (x - mean) * rstd * weight + bias per row of (M, N) x; writes mean and rstd (M,)."""
    xp = xp_of(x)
    n = x.shape[1]
    x64 = x.astype(xp.float64)
    m = x64.sum(axis=1) / max(n, 1)
    centered = x64 - m[:, None]
    v = (centered * centered).sum(axis=1) / max(n, 1)
    r = 1.0 / xp.sqrt(v + eps)
    mean[...] = m
    rstd[...] = r
    y[...] = centered * r[:, None] * _or(weight, 1.0, n, xp) + _or(bias, 0.0, n, xp)


def layer_norm_backward(
    x: Any,
    grad_y: Any,
    mean: Any,
    rstd: Any,
    weight: Any,
    grad_x: Any,
    grad_weight: Any,
    grad_bias: Any,
) -> None:
    """grad_x, grad_weight and grad_bias of layer_norm_forward; None outputs are skipped."""
    xp = xp_of(x)
    n = x.shape[1]
    g = grad_y.astype(xp.float64)
    centered = x.astype(xp.float64) - mean.astype(xp.float64)[:, None]
    if n:  # mean was rounded to its dtype: restore the digits it lost (where that is finite:
        # an infinite x would turn every centered value of its row into inf - inf)
        delta = centered.mean(axis=1, keepdims=True)
        centered -= xp.where(xp.isfinite(delta), delta, 0.0)
    xhat = centered * rstd.astype(xp.float64)[:, None]
    if grad_weight is not None:
        grad_weight[...] = (g * xhat).sum(axis=0)
    if grad_bias is not None:
        grad_bias[...] = g.sum(axis=0)
    if grad_x is None or n == 0:
        return
    gw = g * _or(weight, 1.0, n, xp)
    a = gw.mean(axis=1, keepdims=True)
    # mean(gw * xhat) as rstd * mean(gw * (x - mean)): the same number, but an infinite rstd
    # then gives +-inf, not the NaN of a sum of infinities of both signs
    b = rstd.astype(xp.float64)[:, None] * (gw * centered).mean(axis=1, keepdims=True)
    grad_x[...] = rstd.astype(xp.float64)[:, None] * (gw - a - xhat * b)


KERNELS = {
    "layer_norm_forward": layer_norm_forward,
    "layer_norm_backward": layer_norm_backward,
}

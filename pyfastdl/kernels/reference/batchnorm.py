"""Reference batch normalization kernels over the channels (dim 1) of (N, C, *) arrays.

For each channel, over its M = N * prod(*) values:
  training  mean = sum(x) / M, var = sum((x - mean)^2) / M (biased), invstd = 1 / sqrt(var + eps)
  eval      mean, invstd from running_mean and running_var
  y = (x - mean) * invstd * weight + bias   (weight None: 1, bias None: 0)
  backward  xhat = (x - mean) * invstd, grad_bias = sum(gy), grad_weight = sum(gy * xhat),
            training: grad_x = invstd * weight * (gy - grad_bias / M - xhat * grad_weight / M)
                      (mean is the batch mean the forward returned; it is refined to
                      mean + sum(x - mean) / M, which restores the digits its rounding lost)
            eval:     grad_x = invstd * weight * gy
Sums run in float64 (two passes: the mean, then the squared deviations) and results are cast to
the outputs' dtype. Outputs given as None (var, grad_x, grad_weight, grad_bias) are skipped.
"""

from __future__ import annotations

from typing import Any

from ...arrays import xp as xp_of

__all__ = ["batchnorm_backward", "batchnorm_forward_eval", "batchnorm_forward_train"]


def _axes(x: Any) -> tuple[int, ...]:
    """Every axis but the channels'."""
    return (0,) + tuple(range(2, x.ndim))


def _per_channel(v: Any, x: Any) -> Any:
    """A (C,) vector shaped to broadcast against (N, C, *) x."""
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


def _or(v: Any, value: float, x: Any) -> Any:
    xp = xp_of(x)
    return xp.full(x.shape[1], value, xp.float64) if v is None else v.astype(xp.float64)


def batchnorm_forward_train(
    x: Any, weight: Any, bias: Any, y: Any, mean: Any, var: Any, invstd: Any, eps: float = 1e-5
) -> None:
    """y from the batch statistics; writes mean, var (biased, optional) and invstd per channel."""
    xp = xp_of(x)
    if x.size == 0:  # no values: the statistics are undefined
        mean[...] = xp.nan
        invstd[...] = xp.nan
        if var is not None:
            var[...] = xp.nan
        return
    x64 = x.astype(xp.float64)
    m = x64.mean(axis=_axes(x))
    centered = x64 - _per_channel(m, x)
    v = (centered * centered).mean(axis=_axes(x))
    inv = 1.0 / xp.sqrt(v + eps)
    mean[...] = m
    invstd[...] = inv
    if var is not None:
        var[...] = v
    scale = inv * _or(weight, 1.0, x)
    y[...] = centered * _per_channel(scale, x) + _per_channel(_or(bias, 0.0, x), x)


def batchnorm_forward_eval(
    x: Any,
    running_mean: Any,
    running_var: Any,
    weight: Any,
    bias: Any,
    y: Any,
    eps: float = 1e-5,
) -> None:
    """y = (x - running_mean) / sqrt(running_var + eps) * weight + bias per channel."""
    xp = xp_of(x)
    scale = _or(weight, 1.0, x) / xp.sqrt(running_var.astype(xp.float64) + eps)
    centered = x.astype(xp.float64) - _per_channel(running_mean.astype(xp.float64), x)
    y[...] = centered * _per_channel(scale, x) + _per_channel(_or(bias, 0.0, x), x)


def batchnorm_backward(
    x: Any,
    grad_y: Any,
    mean: Any,
    invstd: Any,
    weight: Any,
    grad_x: Any,
    grad_weight: Any,
    grad_bias: Any,
    training: bool = True,
) -> None:
    """grad_x (training or eval formula), grad_weight and grad_bias; None outputs are skipped."""
    xp = xp_of(x)
    axes = _axes(x)
    inv = invstd.astype(xp.float64)
    g = grad_y.astype(xp.float64)
    centered = x.astype(xp.float64) - _per_channel(mean.astype(xp.float64), x)
    if training and x.size:
        # mean is the batch mean, rounded to its dtype: restore the digits it lost (where that
        # is finite: an infinite x would turn every centered value of its channel into inf - inf)
        delta = centered.mean(axis=axes)
        centered -= _per_channel(xp.where(xp.isfinite(delta), delta, 0.0), x)
    xhat = centered * _per_channel(inv, x)
    sum_g = g.sum(axis=axes)
    # sum(g * xhat) as invstd * sum(g * (x - mean)), as PyTorch forms it: the same number, but an
    # infinite invstd then gives +-inf, not the NaN of a sum of infinities of both signs
    sum_g_xhat = inv * (g * centered).sum(axis=axes)
    if grad_weight is not None:
        grad_weight[...] = sum_g_xhat
    if grad_bias is not None:
        grad_bias[...] = sum_g
    if grad_x is None:
        return
    scale = _per_channel(inv * _or(weight, 1.0, x), x)
    if not training:
        grad_x[...] = g * scale
        return
    m = x.size // x.shape[1] if x.shape[1] else 0
    if m == 0:
        return
    grad_x[...] = scale * (g - _per_channel(sum_g / m, x) - xhat * _per_channel(sum_g_xhat / m, x))


KERNELS = {
    "batchnorm_forward_train": batchnorm_forward_train,
    "batchnorm_forward_eval": batchnorm_forward_eval,
    "batchnorm_backward": batchnorm_backward,
}

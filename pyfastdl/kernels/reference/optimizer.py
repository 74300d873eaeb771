"""Reference optimizer updates: one SGD or Adam/AdamW step, in place (PyTorch's update rules).

  sgd_step   d = -g if maximize else g
             d = d + weight_decay * p                               (weight_decay != 0)
             buf = d                                      (momentum != 0, first_step)
             buf = momentum * buf + (1 - dampening) * d   (momentum != 0, later steps)
             d = d + momentum * buf if nesterov else buf  (momentum != 0)
             p = p - lr * d
  adam_step  d = -g if maximize else g
             p = p * (1 - lr * weight_decay)    (decoupled, AdamW; weight_decay != 0)
             d = d + weight_decay * p           (not decoupled, Adam; weight_decay != 0)
             m = m + (1 - beta1) * (d - m)
             v = beta2 * v + (1 - beta2) * d * d
             v_max = max(v_max, v), which then stands for v      (amsgrad)
             p = p - lr / (1 - beta1**step) * m / (sqrt(v) / sqrt(1 - beta2**step) + eps)
param, grad and the state arrays (momentum_buffer; exp_avg, exp_avg_sq, max_exp_avg_sq) have one
shape; momentum_buffer may be None when momentum == 0, max_exp_avg_sq when not amsgrad; with
first_step the momentum buffer's old values are not read. A term whose factor is 0 is skipped
(0 * inf would be NaN). The math runs in float64; results are cast to the arrays' dtype.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...arrays import xp as xp_of

__all__ = ["adam_step", "sgd_step"]


def _same_shape(op: str, param: Any, **arrays: Any) -> None:
    for name, a in arrays.items():
        if a is not None and a.shape != param.shape:
            raise ValueError(
                f"[{op}] {name} must have the shape of param {tuple(param.shape)}, "
                f"got {tuple(a.shape)}"
            )


def sgd_step(
    param: Any,
    grad: Any,
    momentum_buffer: Any,
    *,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
    first_step: bool = False,
) -> None:
    """One SGD step: param (and momentum_buffer) updated in place from grad."""
    _same_shape("sgd_step", param, grad=grad, momentum_buffer=momentum_buffer)
    if momentum != 0 and momentum_buffer is None:
        raise ValueError("[sgd_step] momentum_buffer must be an array when momentum != 0, got None")
    xp = xp_of(param)
    p = param.astype(xp.float64)
    d = grad.astype(xp.float64)
    with np.errstate(all="ignore"):  # inf and NaN pass through as in the native kernel
        if maximize:
            d = -d
        if weight_decay != 0:
            d = d + weight_decay * p
        if momentum != 0:
            if first_step:
                buf = d
            else:
                buf = momentum * momentum_buffer.astype(xp.float64) + (1 - dampening) * d
            momentum_buffer[...] = buf
            d = d + momentum * buf if nesterov else buf
        param[...] = p - lr * d


def adam_step(
    param: Any,
    grad: Any,
    exp_avg: Any,
    exp_avg_sq: Any,
    max_exp_avg_sq: Any,
    *,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
    step: float,
    decoupled: bool = False,
) -> None:
    """One Adam (decoupled=False) or AdamW (decoupled=True) step at step number `step` >= 1:
    param and the moments updated in place from grad."""
    _same_shape(
        "adam_step",
        param,
        grad=grad,
        exp_avg=exp_avg,
        exp_avg_sq=exp_avg_sq,
        max_exp_avg_sq=max_exp_avg_sq,
    )
    if not step >= 1 or not math.isfinite(step):
        raise ValueError(f"[adam_step] step must be >= 1, got {step:g}")
    if amsgrad and max_exp_avg_sq is None:
        raise ValueError(
            "[adam_step] max_exp_avg_sq must be an array when amsgrad is set, got None"
        )
    xp = xp_of(param)
    p = param.astype(xp.float64)
    d = grad.astype(xp.float64)
    with np.errstate(all="ignore"):
        if maximize:
            d = -d
        if weight_decay != 0:
            if decoupled:
                p = p * (1 - lr * weight_decay)
            else:
                d = d + weight_decay * p
        m = exp_avg.astype(xp.float64)
        m = m + (1 - beta1) * (d - m)
        v = beta2 * exp_avg_sq.astype(xp.float64) + (1 - beta2) * d * d
        exp_avg[...] = m
        exp_avg_sq[...] = v
        if amsgrad:
            v = xp.maximum(max_exp_avg_sq.astype(xp.float64), v)
            max_exp_avg_sq[...] = v
        denom = xp.sqrt(v) / math.sqrt(1 - beta2**step) + eps
        param[...] = p - lr / (1 - beta1**step) * (m / denom)


KERNELS = {
    "sgd_step": sgd_step,
    "adam_step": adam_step,
}

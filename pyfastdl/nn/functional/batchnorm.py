"""batch_norm: an autograd Function over the fused batch normalization kernels.

Training mode normalizes each channel (dim 1) of (N, C, *) input with its batch statistics and, when
running statistics are given, updates them in place (PyTorch's semantics: running_mean and the
UNBIASED running_var move by `momentum`); eval mode normalizes with the running statistics. The
kernels (``batchnorm_forward_train``, ``batchnorm_forward_eval``, ``batchnorm_backward``) are
looked up per call in the registry, so overrides and float64 (the NumPy reference) apply. Inputs
of more than 4 dims are viewed as (N, C, -1).
"""

from __future__ import annotations

import math
from typing import Any

from ... import kernels
from ...arrays import empty, xp
from ...autograd import Function
from ...tensor import Tensor
from ._args import check_float

__all__ = ["batch_norm"]

OP = "batch_norm"


def _as_nchw(a: Any) -> Any:
    """`a` as the kernels take it: (N, C), (N, C, L), (N, C, H, W); more dims folded into the last."""
    return a if a.ndim <= 4 else a.reshape(a.shape[0], a.shape[1], -1)


def _update_running(running: Any, batch: Any, momentum: float, correction: float) -> None:
    """running <- (1 - momentum) * running + momentum * batch * correction, in place (float64 math)."""
    m = xp(running)
    new = momentum * (batch.astype(m.float64) * correction) + (1.0 - momentum) * running.astype(
        m.float64
    )
    running[...] = new


class BatchNormFn(Function):
    """y = (x - mean) * invstd * weight + bias over the channels of x; grads for x, weight, bias."""

    @staticmethod
    def forward(ctx, x, weight, bias, *, running_mean, running_var, training, momentum, eps):
        x4 = _as_nchw(x)
        c = x.shape[1]
        y = empty(x4.shape, x.dtype, x)
        saving = any(ctx.needs_input_grad)
        if training:
            mean = empty((c,), x.dtype, x)
            invstd = empty((c,), x.dtype, x)
            var = None if running_var is None else empty((c,), x.dtype, x)
            kernels.for_array("batchnorm_forward_train", x4)(
                x4, weight, bias, y, mean, var, invstd, eps
            )
            m = x.size // c if c else 0
            if m > 0 and running_mean is not None:
                _update_running(running_mean, mean, momentum, 1.0)
                _update_running(running_var, var, momentum, m / (m - 1) if m > 1 else 1.0)
        else:
            kernels.for_array("batchnorm_forward_eval", x4)(
                x4, running_mean, running_var, weight, bias, y, eps
            )
            if saving:  # the statistics as they are now (a later training step may move them)
                mean = running_mean.copy()
                invstd = (1.0 / xp(x).sqrt(running_var.astype(xp(x).float64) + eps)).astype(x.dtype)
        if saving:
            ctx.save_for_backward(x4, weight, mean, invstd)
            ctx.training = training
            ctx.shape = x.shape
        # the very arrays, not reshaped views: autograd copies a gradient that is a view
        return y if x4 is x else y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        x4, weight, mean, invstd = ctx.saved_tensors
        g4 = g.reshape(x4.shape)
        if g4.dtype != x4.dtype:
            g4 = g4.astype(x4.dtype)
        need_x, need_w, need_b = ctx.needs_input_grad
        c = x4.shape[1]
        gx = empty(x4.shape, x4.dtype, x4) if need_x else None
        gw = empty((c,), x4.dtype, x4) if need_w else None
        gb = empty((c,), x4.dtype, x4) if need_b else None
        kernels.for_array("batchnorm_backward", x4)(
            x4, g4, mean, invstd, weight, gx, gw, gb, ctx.training
        )
        if gx is not None and gx.shape != ctx.shape:
            gx = gx.reshape(ctx.shape)
        return gx, gw, gb


def _channel_tensor(t: Any, name: str, x: Tensor) -> Any:
    """The array of an optional per-channel tensor, checked against the input."""
    if t is None:
        return None
    if not isinstance(t, Tensor):
        raise TypeError(f"[{OP}] {name} must be a Tensor or None, got {type(t).__name__}")
    a = t.array
    c = x.shape[1]
    if tuple(a.shape) != (c,):
        raise ValueError(
            f"[{OP}] {name} must have one value per channel: expected shape ({c},), "
            f"got {tuple(a.shape)}"
        )
    if a.dtype != x.dtype:
        raise TypeError(f"[{OP}] {name} must have the input's dtype {x.dtype}, got {a.dtype}")
    return a


def check_args(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    training: bool,
    momentum: Any,
    eps: Any,
    op: str = OP,
) -> tuple[Any, Any]:
    """Checks batch_norm's arguments (named errors); returns the running statistics' arrays."""
    if not isinstance(input, Tensor):
        raise TypeError(f"[{op}] input must be a Tensor, got {type(input).__name__}")
    x = input.array
    check_float(x, op)
    if x.ndim < 2:
        raise ValueError(
            f"[{op}] input must have at least 2 dims (N, C, ...), got shape {tuple(x.shape)}"
        )
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"[{op}] running_mean and running_var must be given together (or neither)")
    if not training and running_mean is None:
        raise ValueError(f"[{op}] running_mean and running_var are required when training=False")
    rm = _channel_tensor(running_mean, "running_mean", input)
    rv = _channel_tensor(running_var, "running_var", input)
    _channel_tensor(weight, "weight", input)
    _channel_tensor(bias, "bias", input)
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
        raise TypeError(f"[{op}] momentum must be a number, got {momentum!r}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise TypeError(f"[{op}] eps must be a number, got {eps!r}")
    if training and not eps > 0:
        raise ValueError(f"[{op}] eps must be positive during training, got {eps}")
    if not eps >= 0:
        raise ValueError(f"[{op}] eps must be non-negative, got {eps}")
    return rm, rv


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalization over dim 1 of (N, C, *) input (PyTorch's ``F.batch_norm``).

    Training: batch statistics; running_mean and running_var (when given) are updated in place
    with `momentum` (the variance unbiased). Eval: the running statistics. Gradients flow to
    input, weight and bias. As in PyTorch, `eps` must be > 0 when training and >= 0 in eval
    (ValueError otherwise).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> x = fd.tensor([[1.0, 10.0], [3.0, 30.0]])
        >>> rm, rv = fd.zeros(2), fd.ones(2)
        >>> y = F.batch_norm(x, rm, rv, training=True)
        >>> [[round(v, 4) for v in row] for row in y.tolist()]
        [[-1.0, -1.0], [1.0, 1.0]]
        >>> [round(v, 4) for v in rm.tolist()], [round(v, 4) for v in rv.tolist()]
        ([0.2, 2.0], [1.1, 20.9])
    """
    rm, rv = check_args(input, running_mean, running_var, weight, bias, training, momentum, eps)
    x = input.array
    if training and x.shape[0] * math.prod(x.shape[2:]) == 1:
        raise ValueError(
            f"[{OP}] expected more than 1 value per channel when training, got input size "
            f"{tuple(x.shape)}"
        )
    return BatchNormFn.apply(
        input,
        weight,
        bias,
        running_mean=rm,
        running_var=rv,
        training=bool(training),
        momentum=float(momentum),
        eps=float(eps),
    )

"""group_norm, instance_norm, rms_norm and local_response_norm (PyTorch's names and numerics).

group_norm and instance_norm (with the input's statistics) normalize rows of the input viewed
as (N, G, C/G * spatial) or (N, C, spatial): that is layer normalization over the last dim, so
they run the layernorm kernels (``F.layer_norm`` without an affine), then scale and shift per
channel. instance_norm with running statistics is batch_norm in eval mode. rms_norm and
local_response_norm compose differentiable ops (square, mean or a windowed sum, rsqrt or pow).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...ops.elementwise import add, div, mul, pow, rsqrt
from ...ops.reduction import mean
from ...ops.shape import reshape
from ...tensor import Tensor
from ._args import check_float, tensor_arg
from .batchnorm import _update_running, batch_norm
from .layernorm import layer_norm, normalized_shape_arg
from .padding import pad

__all__ = ["group_norm", "instance_norm", "local_response_norm", "rms_norm"]


def _number(value: Any, name: str, op: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"[{op}] {name} must be a number, got {value!r}")
    return float(value)


def _channel_param(t: Any, name: str, input: Tensor, op: str) -> None:
    """An optional per-channel tensor: shape (C,), the input's dtype."""
    if t is None:
        return
    tensor_arg(t, op, name)
    c = input.shape[1]
    if tuple(t.shape) != (c,):
        raise ValueError(f"[{op}] {name} must have shape ({c},) (one per channel), got {t.shape}")
    if t.array.dtype != input.array.dtype:
        raise TypeError(
            f"[{op}] {name} must have the input's dtype {input.array.dtype}, got {t.array.dtype}"
        )


def _affine(y: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """y * weight + bias, weight and bias (C,) broadcast over dim 1 of y (N, C, *)."""
    shape = (1, y.shape[1]) + (1,) * (y.ndim - 2)
    if weight is not None:
        y = mul(y, reshape(weight, shape))
    if bias is not None:
        y = add(y, reshape(bias, shape))
    return y


def _channels_input(input: Any, op: str, min_dims: int) -> Tensor:
    """A float (N, C, *) Tensor of at least `min_dims` dims."""
    input = tensor_arg(input, op)
    check_float(input.array, op)
    if input.ndim < min_dims:
        raise ValueError(
            f"[{op}] input must have at least {min_dims} dims (N, C, *), got {input.shape}"
        )
    return input


def _normalized_rows(input: Tensor, rows: int, eps: float) -> Tensor:
    """input viewed as (N, rows, -1), each row shifted to mean 0 and scaled to variance 1."""
    n = input.shape[0]
    x = reshape(input, (n, rows, -1))
    return reshape(layer_norm(x, (x.shape[2],), eps=eps), input.shape)


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Group normalization: the C channels of (N, C, *) input split into `num_groups` groups, each
    group of each sample normalized by its own mean and (biased) variance, then scaled by
    `weight` and shifted by `bias` per channel.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> x = fd.tensor([[[1.0], [3.0], [10.0], [30.0]]])
        >>> [round(v, 4) for v in F.group_norm(x, 2, eps=0.0).flatten().tolist()]
        [-1.0, 1.0, -1.0, 1.0]
    """
    op = "group_norm"
    input = _channels_input(input, op, 2)
    if isinstance(num_groups, bool) or not isinstance(num_groups, (int, np.integer)):
        raise TypeError(f"[{op}] num_groups must be an int, got {num_groups!r}")
    c = input.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise ValueError(
            f"[{op}] expected the number of channels in input ({c}) to be divisible by "
            f"num_groups, got num_groups={num_groups}"
        )
    _channel_param(weight, "weight", input, op)
    _channel_param(bias, "bias", input, op)
    eps = _number(eps, "eps", op)
    if input.size == 0:
        return _affine(mul(input, 1.0), weight, bias)
    return _affine(_normalized_rows(input, int(num_groups), eps), weight, bias)


def _update_instance_running(
    x: Any, running_mean: Tensor | None, running_var: Tensor | None, momentum: float
) -> None:
    """PyTorch's running statistics of instance norm: the batch's mean of the per-instance means
    and of the per-instance unbiased variances, blended in with `momentum`, in place."""
    n, c = x.shape[:2]
    rows = x.reshape(n, c, -1).astype(np.float64)
    m = rows.shape[2]
    if running_mean is not None:
        _update_running(running_mean.array, rows.mean(axis=2).mean(axis=0), momentum, 1.0)
    if running_var is not None:
        var = rows.var(axis=2, ddof=1) if m > 1 else rows.var(axis=2)
        _update_running(running_var.array, var.mean(axis=0), momentum, 1.0)


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Instance normalization: each channel of each sample of (N, C, *) input normalized by its
    own mean and (biased) variance, then scaled by `weight` and shifted by `bias` per channel.

    With ``use_input_stats=True`` the running statistics (when given) are updated in place with
    `momentum` (the variance unbiased); with ``use_input_stats=False`` they normalize the input.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> x = fd.tensor([[[1.0, 3.0], [10.0, 30.0]]])
        >>> F.instance_norm(x, eps=0.0).tolist()
        [[[-1.0, 1.0], [-1.0, 1.0]]]
    """
    op = "instance_norm"
    input = _channels_input(input, op, 3)
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        _channel_param(t, name, input, op)
    _channel_param(weight, "weight", input, op)
    _channel_param(bias, "bias", input, op)
    momentum = _number(momentum, "momentum", op)
    eps = _number(eps, "eps", op)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError(
                f"[{op}] running_mean and running_var must be given when use_input_stats=False"
            )
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    if math.prod(input.shape[2:]) <= 1:
        raise ValueError(
            f"[{op}] expected more than 1 spatial element when training, got input size "
            f"{input.shape}"
        )
    if running_mean is not None or running_var is not None:
        _update_instance_running(input.array, running_mean, running_var, momentum)
    if input.size == 0:
        return _affine(mul(input, 1.0), weight, bias)
    return _affine(_normalized_rows(input, input.shape[1], eps), weight, bias)


def local_response_norm(
    input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> Tensor:
    """Local response normalization across channels of (N, C, *) input:
    ``x / (k + alpha / size * sum of x^2 over `size` neighbouring channels) ** beta``, the window
    covering channels c - size // 2 .. c + (size - 1) // 2 (zeros past the edges).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> x = fd.tensor([[[2.0], [1.0]]])
        >>> F.local_response_norm(x, 1, alpha=1.0, beta=1.0, k=3.0).flatten().tolist()
        [0.2857142984867096, 0.25]
    """
    op = "local_response_norm"
    input = _channels_input(input, op, 3)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"[{op}] size must be a positive int, got {size!r}")
    alpha, beta, k = (_number(v, n, op) for v, n in ((alpha, "alpha"), (beta, "beta"), (k, "k")))
    if input.size == 0:
        return mul(input, 1.0)
    n, c = input.shape[:2]
    sq = reshape(mul(input, input), (n, c, -1))
    # zero channels before and after, then the sum of `size` shifted channel slices
    padded = pad(sq, (0, 0, size // 2, (size - 1) // 2))
    window = padded[:, 0:c]
    for i in range(1, size):
        window = add(window, padded[:, i : i + c])
    scale = pow(add(mul(window, alpha / size), k), beta)
    return div(input, reshape(scale, input.shape))


def rms_norm(
    input: Tensor,
    normalized_shape: Any,
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """Root-mean-square normalization over the last dims (``normalized_shape``):
    ``x / sqrt(mean(x^2) + eps) * weight``; eps defaults to the machine epsilon of the dtype.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.rms_norm(fd.tensor([[3.0, 4.0, 0.0, 0.0]]), (4,), eps=0.0).tolist()
        [[1.2000000476837158, 1.600000023841858, 0.0, 0.0]]
    """
    op = "rms_norm"
    input = tensor_arg(input, op)
    check_float(input.array, op)
    shape = normalized_shape_arg(normalized_shape, op)
    k = len(shape)
    if input.ndim < k or input.shape[input.ndim - k :] != shape:
        raise ValueError(
            f"[{op}] normalized_shape {shape} does not match the last dims of input of shape "
            f"{input.shape}"
        )
    if weight is not None:
        tensor_arg(weight, op, "weight")
        if weight.shape != shape:
            raise ValueError(
                f"[{op}] weight must have the shape normalized_shape {shape}, got {weight.shape}"
            )
    eps = float(np.finfo(input.array.dtype).eps) if eps is None else _number(eps, "eps", op)
    dims = tuple(range(input.ndim - k, input.ndim))
    y = mul(input, rsqrt(add(mean(mul(input, input), dims, keepdim=True), eps)))
    return y if weight is None else mul(y, weight)

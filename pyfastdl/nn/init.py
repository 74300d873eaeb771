"""Weight initialisation (PyTorch's ``nn.init``): every function fills a tensor in place and returns it.

Samples come from pyfastdl's default generator (``pyfastdl.manual_seed`` makes them
reproducible) or from the ``generator=`` given; they are drawn in float64 and rounded to the
tensor's dtype. No graph is recorded.

Fan-in and fan-out of a weight of shape (out, in, *kernel) are ``in * prod(kernel)`` and
``out * prod(kernel)``. Xavier/Glorot keeps the variance of activations and gradients equal:
std = gain * sqrt(2 / (fan_in + fan_out)). Kaiming/He keeps the variance through ReLU-like
layers: std = gain / sqrt(fan), with gain = sqrt(2 / (1 + a^2)) for leaky ReLU of slope a.
A uniform distribution on [-b, b] has std b / sqrt(3).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.nn import init
    >>> w = fd.empty(64, 32)
    >>> _ = init.kaiming_uniform_(w, nonlinearity="relu")
    >>> bool(abs(w.array).max() <= (6 / 32) ** 0.5)
    True
"""

from __future__ import annotations

import math
import warnings
from statistics import NormalDist
from typing import Any

import numpy as np

from ..arrays import to_gpu
from ..random import Generator, numpy_rng
from ..tensor import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "dirac_",
    "eye_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "sparse_",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]


def _check(tensor: Any, op: str) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"[{op}] expected a Tensor, got {type(tensor).__name__}")
    return tensor


def _fill(tensor: Tensor, values: Any) -> Tensor:
    """Writes host `values` into the tensor's array in place (casting to its dtype), on the
    tensor's device: the samples are drawn on the host (the generator's stream is the same for
    every device), cast, then copied over once."""
    arr = tensor.array
    if type(arr) is not np.ndarray:
        values = to_gpu(np.asarray(values, dtype=arr.dtype), "init")
    arr[...] = values
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (scales the std of Xavier/Kaiming init).

    Example:
        >>> from pyfastdl.nn import init
        >>> round(init.calculate_gain("relu"), 4)
        1.4142
    """
    linear_fns = [
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
    ]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"[calculate_gain] negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"[calculate_gain] unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel)."""
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(
            "[init] fan in and fan out can not be computed for tensor with fewer than "
            f"2 dimensions, got shape {tuple(shape)}"
        )
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower() if isinstance(mode, str) else mode
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"[init] mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(
    tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Generator | None = None
) -> Tensor:
    """Fills `tensor` with samples of U(a, b)."""
    _check(tensor, "uniform_")
    if a > b:
        raise ValueError(f"[uniform_] expects a <= b, got a={a}, b={b}")
    return _fill(tensor, numpy_rng(generator).uniform(a, b, tensor.shape))


def normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None
) -> Tensor:
    """Fills `tensor` with samples of N(mean, std^2)."""
    _check(tensor, "normal_")
    if std < 0:
        raise ValueError(f"[normal_] expects std >= 0.0, got std={std}")
    return _fill(tensor, numpy_rng(generator).normal(mean, std, tensor.shape))


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: Generator | None = None,
) -> Tensor:
    """Fills `tensor` with N(mean, std^2) conditioned on [a, b] (bounds in absolute values)."""
    _check(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"[trunc_normal_] expects a < b, got a={a}, b={b}")
    if std <= 0:
        raise ValueError(f"[trunc_normal_] expects std > 0, got std={std}")
    rng = numpy_rng(generator)
    out = rng.normal(mean, std, tensor.shape)
    # Rejection: redraw the samples outside [a, b]; exact, and fast when [a, b] holds most mass.
    bad = (out < a) | (out > b)
    for _ in range(16):
        n = int(bad.sum())
        if n == 0:
            break
        out[bad] = rng.normal(mean, std, n)
        bad = (out < a) | (out > b)
    if bad.any():
        # [a, b] far in a tail: the inverse CDF of uniform samples on [cdf(a), cdf(b)].
        dist = NormalDist(mean, std)
        lo, hi = dist.cdf(a), dist.cdf(b)
        u = np.clip(rng.uniform(lo, hi, int(bad.sum())), np.nextafter(0, 1), np.nextafter(1, 0))
        out[bad] = np.clip([dist.inv_cdf(float(p)) for p in u], a, b)
    return _fill(tensor, out)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fills `tensor` with `val`."""
    _check(tensor, "constant_")
    return _fill(tensor, val)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fills a 2-d `tensor` with the identity matrix (ones on the diagonal)."""
    _check(tensor, "eye_")
    if tensor.ndim != 2:
        raise ValueError(
            f"[eye_] only tensors with 2 dimensions are supported, got shape {tuple(tensor.shape)}"
        )
    return _fill(tensor, np.eye(*tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fills a 3-, 4- or 5-d conv weight with the Dirac delta: the conv is the identity.

    In each of the `groups`, output channel d takes input channel d at the kernel's center
    (for the first min(out_channels // groups, in_channels) channels), zeros elsewhere.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.nn import init
        >>> init.dirac_(fd.empty(2, 2, 3)).tolist()[1]
        [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    _check(tensor, "dirac_")
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(
            "[dirac_] only tensors with 3, 4, or 5 dimensions are supported, got shape "
            f"{tuple(tensor.shape)}"
        )
    shape = tensor.shape
    if groups <= 0 or shape[0] % groups != 0:
        raise ValueError(f"[dirac_] dim 0 ({shape[0]}) must be divisible by groups ({groups})")
    per_group = shape[0] // groups
    out = np.zeros(shape)
    center = tuple(k // 2 for k in shape[2:])
    for g in range(groups):
        for d in range(min(per_group, shape[1])):
            out[(g * per_group + d, d, *center)] = 1
    return _fill(tensor, out)


def sparse_(
    tensor: Tensor, sparsity: float, std: float = 0.01, generator: Generator | None = None
) -> Tensor:
    """Fills a 2-d `tensor` with N(0, std^2) samples, then zeros ceil(sparsity * rows) random
    entries of each column.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.nn import init
        >>> w = init.sparse_(fd.empty(10, 3), sparsity=0.3)
        >>> [int((w.array[:, j] == 0).sum()) for j in range(3)]
        [3, 3, 3]
    """
    _check(tensor, "sparse_")
    if tensor.ndim != 2:
        raise ValueError(
            f"[sparse_] only tensors with 2 dimensions are supported, got shape "
            f"{tuple(tensor.shape)}"
        )
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    rng = numpy_rng(generator)
    out = rng.normal(0.0, std, (rows, cols))
    for col in range(cols):
        out[rng.permutation(rows)[:num_zeros], col] = 0
    return _fill(tensor, out)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fills `tensor` (viewed as rows x rest) with a (semi-)orthogonal matrix times `gain`."""
    _check(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(
            "[orthogonal_] only tensors with 2 or more dimensions are supported, got "
            f"shape {tuple(tensor.shape)}"
        )
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = numpy_rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))  # makes the decomposition unique: uniform over orthogonal matrices
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


def _zero_element(tensor: Tensor) -> bool:
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=3)
        return True
    return False


def xavier_uniform_(
    tensor: Tensor, gain: float = 1.0, generator: Generator | None = None
) -> Tensor:
    """Glorot uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    _check(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if fan_in + fan_out == 0:
        return tensor
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    _check(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if fan_in + fan_out == 0:
        return tensor
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Generator | None = None,
) -> Tensor:
    """He uniform: U(-b, b) with b = sqrt(3) * gain / sqrt(fan) (fan_in or fan_out, per `mode`)."""
    _check(tensor, "kaiming_uniform_")
    if _zero_element(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Generator | None = None,
) -> Tensor:
    """He normal: N(0, std^2) with std = gain / sqrt(fan) (fan_in or fan_out, per `mode`)."""
    _check(tensor, "kaiming_normal_")
    if _zero_element(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)

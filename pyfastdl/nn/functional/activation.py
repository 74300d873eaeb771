"""The elementwise activations under PyTorch's functional names.

Each one is a Function of ``pyfastdl.ops.activation`` (GELU runs the activation family's kernels);
here they get the ``F.relu(input, inplace=False)`` signatures of ``torch.nn.functional``. The
piecewise ones PyTorch adds (hardswish, hardsigmoid, celu, threshold, the shrinks, prelu) are
Functions of this module, with PyTorch's gradients at the kinks; selu, glu and tanhshrink compose.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...arrays import to_gpu, xp
from ...autograd import Function
from ...ops import activation as _act
from ...ops._util import norm_dim, unbroadcast
from ...ops.elementwise import mul, sub
from ...ops.shape import chunk, reshape
from ...random import numpy_rng
from ...tensor import Tensor
from ._args import check_float, tensor_arg

__all__ = [
    "celu",
    "celu_",
    "elu",
    "elu_",
    "gelu",
    "glu",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "hardtanh_",
    "leaky_relu",
    "leaky_relu_",
    "logsigmoid",
    "mish",
    "prelu",
    "relu",
    "relu6",
    "relu_",
    "rrelu",
    "rrelu_",
    "selu",
    "selu_",
    "sigmoid",
    "silu",
    "softplus",
    "softshrink",
    "softsign",
    "tanh",
    "tanhshrink",
    "threshold",
    "threshold_",
]


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(input, 0)."""
    return _act.relu(input, inplace)


def relu_(input: Tensor) -> Tensor:
    """relu in place."""
    return _act.relu(input, True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return _act.relu6(input, inplace)


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    return _act.hardtanh(input, min_val, max_val, inplace)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return _act.hardtanh(input, min_val, max_val, True)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    return _act.leaky_relu(input, negative_slope, inplace)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return _act.leaky_relu(input, negative_slope, True)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _act.elu(input, alpha, inplace)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return _act.elu(input, alpha, True)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    return _act.gelu(input, approximate)


def sigmoid(input: Tensor) -> Tensor:
    return _act.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    return _act.tanh(input)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    return _act.silu(input, inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return _act.softplus(input, beta, threshold)


def softsign(input: Tensor) -> Tensor:
    return _act.softsign(input)


def logsigmoid(input: Tensor) -> Tensor:
    return _act.logsigmoid(input)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    return _act.mish(input, inplace)


# ------------------------------------------------------------------ PyTorch's further activations
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class HardswishFn(Function):
    """x * relu6(x + 3) / 6; the gradient is 0 up to -3, x / 3 + 1/2 inside (-3, 3), then 1."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * xp(x).clip(x + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx, g):
        x = ctx.saved_tensors[0]
        where = xp(x).where
        return where(x <= -3, 0, where(x < 3, g * (x / 3 + 0.5), g)).astype(g.dtype)


class HardsigmoidFn(Function):
    """relu6(x + 3) / 6; the gradient is 1/6 strictly inside (-3, 3), 0 elsewhere."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward((x > -3) & (x < 3))
        return xp(x).clip(x + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved_tensors[0] / 6


class CeluFn(Function):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""

    @staticmethod
    def forward(ctx, x, alpha):
        pos = x > 0
        m = xp(x)
        out = m.where(pos, x, alpha * m.expm1(m.minimum(x, 0) / alpha))
        ctx.save_for_backward(pos, out)
        ctx.alpha = alpha
        return out

    @staticmethod
    def backward(ctx, g):
        pos, out = ctx.saved_tensors
        # for x <= 0: d/dx = exp(x / alpha) = out / alpha + 1
        return xp(g).where(pos, g, g * (out / ctx.alpha + 1)), None


class ThresholdFn(Function):
    """x where x > threshold, else value; the gradient passes where x > threshold."""

    @staticmethod
    def forward(ctx, x, threshold, value):
        keep = x > threshold
        ctx.save_for_backward(keep)
        return xp(x).where(keep, x, x.dtype.type(value))

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved_tensors[0], None, None


class ShrinkFn(Function):
    """hardshrink (x where |x| > lambd, else 0) or softshrink (x -+ lambd there, else 0)."""

    @staticmethod
    def forward(ctx, x, lambd, soft):
        keep = (x > lambd) | (x < -lambd)
        ctx.save_for_backward(keep)
        m = xp(x)
        if soft:
            return m.where(keep, x - m.sign(x) * x.dtype.type(lambd), 0).astype(x.dtype)
        return m.where(keep, x, 0).astype(x.dtype)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved_tensors[0], None, None


class PreluFn(Function):
    """x where x > 0, else weight * x; weight broadcasts against x (one value per channel)."""

    @staticmethod
    def forward(ctx, x, w):
        pos = x > 0
        ctx.save_for_backward(x, w, pos)
        return xp(x).where(pos, x, w * x)

    @staticmethod
    def backward(ctx, g):
        x, w, pos = ctx.saved_tensors
        where = xp(g).where
        gx = where(pos, g, g * w) if ctx.needs_input_grad[0] else None
        gw = None
        if ctx.needs_input_grad[1]:
            gw = unbroadcast(where(pos, 0, g * x), w.shape, w.dtype)
        return gx, gw


def _float_input(input: Any, op: str) -> Tensor:
    input = tensor_arg(input, op)
    check_float(input.array, op)
    return input


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.hardswish(fd.tensor([-4.0, 0.0, 1.5, 4.0])).tolist()
        [-0.0, 0.0, 1.125, 4.0]
    """
    out = HardswishFn.apply(_float_input(input, "hardswish"))
    return _act._maybe_inplace(input, out, inplace, "hardswish")


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6."""
    out = HardsigmoidFn.apply(_float_input(input, "hardsigmoid"))
    return _act._maybe_inplace(input, out, inplace, "hardsigmoid")


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with SELU's constants (alpha ~ 1.6733, scale ~ 1.0507)."""
    out = mul(_act.elu(_float_input(input, "selu"), SELU_ALPHA), SELU_SCALE)
    return _act._maybe_inplace(input, out, inplace, "selu")


def selu_(input: Tensor) -> Tensor:
    return selu(input, True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    input = _float_input(input, "celu")
    if alpha == 0:
        raise ValueError("[celu] alpha cannot be 0")
    return _act._maybe_inplace(input, CeluFn.apply(input, float(alpha)), inplace, "celu")


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return celu(input, alpha, True)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.threshold(fd.tensor([0.5, 2.0]), 1.0, -1.0).tolist()
        [-1.0, 2.0]
    """
    return _threshold(input, threshold, value, inplace)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return _threshold(input, threshold, value, True)


def _threshold(input: Tensor, th: float, value: float, inplace: bool) -> Tensor:
    input = tensor_arg(input, "threshold")
    return _act._maybe_inplace(input, ThresholdFn.apply(input, th, value), inplace, "threshold")


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0."""
    return ShrinkFn.apply(_float_input(input, "hardshrink"), float(lambd), False)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd where x > lambd, x + lambd where x < -lambd, else 0 (lambd >= 0)."""
    if lambd < 0:
        raise ValueError(f"[softshrink] lambd must be greater or equal to 0, but found {lambd}")
    return ShrinkFn.apply(_float_input(input, "softshrink"), float(lambd), True)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    input = _float_input(input, "tanhshrink")
    return sub(input, _act.tanh(input))


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b), a and b the two halves of input along `dim`.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.glu(fd.tensor([[2.0, 0.0]])).tolist()
        [[1.0]]
    """
    op = "glu"
    input = _float_input(input, op)
    if input.ndim == 0:
        raise ValueError(f"[{op}] glu does not support scalars because halving size must be even")
    d = norm_dim(dim, input.ndim, op)
    if input.shape[d] % 2:
        raise ValueError(
            f"[{op}] Halving dimension must be even, but dimension {d} is size {input.shape[d]}"
        )
    a, b = chunk(input, 2, d)
    return mul(a, _act.sigmoid(b))


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x where x > 0, else weight * x; weight holds 1 value or one per channel (dim 1).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.prelu(fd.tensor([-2.0, 3.0]), fd.tensor([0.25])).tolist()
        [-0.5, 3.0]
    """
    op = "prelu"
    input = _float_input(input, op)
    weight = tensor_arg(weight, op, "weight")
    if weight.ndim > 1:
        raise ValueError(f"[{op}] weight must be 0-d or 1-d, got shape {weight.shape}")
    if weight.array.dtype != input.array.dtype:
        raise TypeError(
            f"[{op}] weight must have the input's dtype {input.array.dtype}, got "
            f"{weight.array.dtype}"
        )
    n = weight.numel()
    channels = input.shape[1] if input.ndim >= 2 else 1
    if n != 1 and n != channels:
        raise ValueError(
            f"[{op}] Mismatch of parameter numbers and input channel size. Found parameter "
            f"numbers = {n} and channel size = {channels}."
        )
    if n == 1:
        shape: tuple = ()
    else:
        shape = (channels,) + (1,) * (input.ndim - 2)
    return PreluFn.apply(input, reshape(weight, shape))


def rrelu(
    input: Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
) -> Tensor:
    """Randomized leaky ReLU: x where x > 0, else a * x with a ~ U(lower, upper) drawn per
    element from the default generator in training, a = (lower + upper) / 2 in eval.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.rrelu(fd.tensor([-2.0, 3.0]), 0.25, 0.75).tolist()
        [-1.0, 3.0]
    """
    op = "rrelu"
    input = _float_input(input, op)
    if lower > upper:
        raise ValueError(
            f"[{op}] lower bound should be less than or equal to the upper bound, got "
            f"lower={lower}, upper={upper}"
        )
    if not training:
        out = _act.leaky_relu(input, (lower + upper) / 2)
    else:
        x = input.array
        slopes = numpy_rng().uniform(lower, upper, x.shape).astype(x.dtype)
        m = xp(x)
        if m is not np:  # drawn on the host (the generator's stream), then moved
            slopes = to_gpu(slopes, op)
        out = mul(input, Tensor(m.where(x > 0, x.dtype.type(1), slopes)))
    return _act._maybe_inplace(input, out, inplace, op)


def rrelu_(
    input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False
) -> Tensor:
    return rrelu(input, lower, upper, training, True)

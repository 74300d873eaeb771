"""pyfastdl.nn.functional: PyTorch's ``torch.nn.functional`` API (imported as ``F``).

Names, signatures, defaults and results follow PyTorch. The heavy ops run fused kernels from the
registry (``pyfastdl.kernels``): ``linear`` is one gemm with the bias in its epilogue;
``softmax``, ``log_softmax`` and ``cross_entropy`` are single-pass, numerically stable row
kernels. The elementwise activations are those of ``pyfastdl.ops``.

pyfastdl's one extension is :func:`linear_act`, a Linear layer and its activation in one gemm.

Example:
    >>> import pyfastdl as fd
    >>> import pyfastdl.nn.functional as F
    >>> logits = fd.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], requires_grad=True)
    >>> loss = F.cross_entropy(logits, fd.tensor([0, 2]))
    >>> loss.backward()
    >>> round(loss.item(), 4), logits.grad.shape
    (0.1755, (2, 3))
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .. import ops as _ops
from ..autograd import Function
from ..dtypes import int64
from ..ops import activation as _act
from ..ops._util import norm_dim, xp
from ..random import numpy_rng
from ..tensor import Tensor
from ._functional_linear import FUSED_ACTIVATIONS, Linear, check_linear
from ._functional_loss import (
    L1,
    BinaryCrossEntropy,
    BinaryCrossEntropyWithLogits,
    KlDiv,
    Mse,
    PointwiseLoss,
    SmoothL1,
    Spec,
)
from ._functional_softmax import (
    REDUCTIONS,
    CrossEntropy,
    LogSoftmax,
    NllLoss,
    SoftCrossEntropy,
    Softmax,
    check_float,
    check_reduction,
)

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "dropout1d",
    "dropout2d",
    "elu",
    "elu_",
    "gelu",
    "hardtanh",
    "hardtanh_",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "leaky_relu",
    "leaky_relu_",
    "linear",
    "linear_act",
    "log_softmax",
    "logsigmoid",
    "mish",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "relu",
    "relu6",
    "relu_",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softmin",
    "softplus",
    "softsign",
    "tanh",
]


def _tensor(x: Any, op: str, name: str = "input") -> Tensor:
    if isinstance(x, Tensor):
        return x
    raise TypeError(f"[{op}] {name} must be a Tensor, got {type(x).__name__}")


def _optional(x: Any, op: str, name: str) -> Tensor | None:
    return None if x is None else _tensor(x, op, name)


def _legacy_reduction(size_average: Any, reduce: Any, reduction: str) -> str:
    """PyTorch's mapping of the deprecated size_average/reduce arguments to `reduction`."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


# ------------------------------------------------------------------------------------- linear
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias over any leading dims of input (one gemm, bias in its epilogue).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.linear(fd.ones(2, 4), fd.ones(3, 4), fd.zeros(3)).tolist()
        [[4.0, 4.0, 4.0], [4.0, 4.0, 4.0]]
    """
    return linear_act(input, weight, bias, "none")


def linear_act(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, activation: str = "relu"
) -> Tensor:
    """act(linear(input, weight, bias)) in one gemm: the activation runs in its epilogue.

    `activation` is one of 'none', 'relu', 'sigmoid', 'tanh' (those whose derivative follows
    from their output, so the pre-activation is never stored). A pyfastdl extension, used by
    ``nn.Sequential`` to fuse Linear followed by one of these activations.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.linear_act(fd.tensor([[1.0, -2.0]]), fd.eye(2), None, "relu").tolist()
        [[1.0, 0.0]]
    """
    op = "linear" if activation == "none" else "linear_act"
    input, weight = _tensor(input, op), _tensor(weight, op, "weight")
    bias = _optional(bias, op, "bias")
    if activation not in FUSED_ACTIVATIONS:
        raise ValueError(
            f"[linear_act] activation must be one of {', '.join(FUSED_ACTIVATIONS)}; "
            f"got {activation!r}"
        )
    check_linear(input.array, weight.array, None if bias is None else bias.array, op)
    return Linear.apply(input, weight, bias, activation=activation)


# -------------------------------------------------------------------------------- activations
# The elementwise activations live in pyfastdl.ops (one Function each); these are PyTorch's names.
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


# ---------------------------------------------------------------------------- softmax family
def _softmax_dim(op: str, ndim: int, dim: Any, stacklevel: int) -> int:
    if dim is None:
        # PyTorch's legacy choice, with its warning.
        warnings.warn(
            f"[{op}] implicit dimension choice for {op} has been deprecated. Change the "
            "call to include dim=X as an argument.",
            UserWarning,
            stacklevel=stacklevel,
        )
        dim = 0 if ndim in (0, 1, 3) else 1
    return norm_dim(dim, ndim, op)


def _row_op(fn: type, op: str, input: Tensor, dim: Any, dtype: Any) -> Tensor:
    input = _tensor(input, op)
    if dtype is not None:
        input = input.to(dtype)
    check_float(input.array, op)
    d = _softmax_dim(op, input.ndim, dim, 4)
    return fn.apply(input, d)


def softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    """exp(input) / sum(exp(input)) along `dim` (fused, stable kernel).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.softmax(fd.tensor([[0.0, 0.0]]), dim=1).tolist()
        [[0.5, 0.5]]
    """
    return _row_op(Softmax, "softmax", input, dim, dtype)


def log_softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    """input - logsumexp(input) along `dim` (fused, stable kernel)."""
    return _row_op(LogSoftmax, "log_softmax", input, dim, dtype)


def softmin(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    """softmax(-input) along `dim`."""
    input = _tensor(input, "softmin")
    if dtype is not None:
        input = input.to(dtype)
    return _row_op(Softmax, "softmin", _ops.neg(input), dim, None)


# ----------------------------------------------------------------------------------- dropout
class _MaskMul(Function):
    """input * mask (the mask is a constant array)."""

    @staticmethod
    def forward(ctx, x, mask):
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx, g):
        return g * ctx.mask, None


def _dropout(
    input: Tensor, p: float, training: bool, inplace: bool, op: str, mask_shape: Any
) -> Tensor:
    input = _tensor(input, op)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"[{op}] dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    check_float(input.array, op)
    x = input.array
    # float32 uniforms (2^-24 resolution) are twice as fast to draw as float64 ones; the mask
    # holds 0 or 1 / (1 - p) in one pass.
    u = numpy_rng().random(mask_shape(x.shape), dtype=np.float32)
    scale = x.dtype.type(1.0 / (1.0 - p) if p < 1.0 else 0.0)
    mask = np.where(u >= np.float32(p), scale, x.dtype.type(0.0))
    if type(x) is not np.ndarray:
        mask = xp(x).asarray(mask)
    out = _MaskMul.apply(input, mask)
    if not inplace:
        return out
    from ..ops.inplace import rebind

    return rebind(input, out, op)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zeroes each element with probability p and scales the rest by 1 / (1 - p) (inverted
    dropout); the mask comes from pyfastdl's default generator (``pyfastdl.manual_seed``).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.dropout(fd.ones(4), p=0.5, training=False).tolist()
        [1.0, 1.0, 1.0, 1.0]
    """
    return _dropout(input, p, training, inplace, "dropout", lambda s: s)


def _channel_mask(op: str, spatial: int):
    def shape(s: tuple) -> tuple:
        if len(s) not in (spatial + 1, spatial + 2):
            raise ValueError(
                f"[{op}] expected a {spatial + 1}-d (unbatched) or {spatial + 2}-d "
                f"(batched) input, got shape {s}"
            )
        return s[: len(s) - spatial] + (1,) * spatial

    return shape


def dropout1d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Zeroes whole channels of (N, C, L) or (C, L) input with probability p."""
    return _dropout(input, p, training, inplace, "dropout1d", _channel_mask("dropout1d", 1))


def dropout2d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Zeroes whole channels of (N, C, H, W) or (C, H, W) input with probability p."""
    return _dropout(input, p, training, inplace, "dropout2d", _channel_mask("dropout2d", 2))


# ------------------------------------------------------------------------------------ losses
def _pointwise(
    spec: Spec, input: Any, target: Any, weight: Any, reduction: str, allowed: tuple = REDUCTIONS
) -> Tensor:
    input = _tensor(input, spec.name)
    target = _tensor(target, spec.name, "target")
    check_reduction(reduction, spec.name, allowed)
    return PointwiseLoss.apply(
        input, target, _optional(weight, spec.name, "weight"), spec=spec, reduction=reduction
    )


def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Mean squared error: reduce((input - target)^2).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.mse_loss(fd.tensor([1.0, 2.0]), fd.tensor([1.0, 4.0])).item()
        2.0
    """
    return _pointwise(
        Mse(), input, target, None, _legacy_reduction(size_average, reduce, reduction)
    )


def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Mean absolute error: reduce(|input - target|)."""
    return _pointwise(L1(), input, target, None, _legacy_reduction(size_average, reduce, reduction))


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target)."""
    if beta < 0:
        raise ValueError(f"[smooth_l1_loss] beta must be non-negative, got {beta}")
    return _pointwise(
        SmoothL1(beta, huber=False),
        input,
        target,
        None,
        _legacy_reduction(size_average, reduce, reduction),
    )


def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (d = input - target)."""
    if delta <= 0:
        raise ValueError(f"[huber_loss] delta must be positive, got {delta}")
    return _pointwise(SmoothL1(delta, huber=True), input, target, weight, reduction)


def _check_same_shape(op: str, input: Tensor, target: Tensor) -> None:
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"[{op}] target size {tuple(target.shape)} must be the same as input size "
            f"{tuple(input.shape)}"
        )


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """-w (t log(x) + (1 - t) log(1 - x)) for probabilities x, logs clamped at -100 as in PyTorch.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> round(F.binary_cross_entropy(fd.tensor([0.5]), fd.tensor([1.0])).item(), 4)
        0.6931
    """
    op = "binary_cross_entropy"
    input, target = _tensor(input, op), _tensor(target, op, "target")
    _check_same_shape(op, input, target)
    x = input.array
    if x.size and not bool(((x >= 0) & (x <= 1)).all()):
        raise ValueError(f"[{op}] all elements of input should be between 0 and 1")
    return _pointwise(
        BinaryCrossEntropy(),
        input,
        target,
        weight,
        _legacy_reduction(size_average, reduce, reduction),
    )


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """binary_cross_entropy(sigmoid(input), target), computed stably from the logits.

    `pos_weight` multiplies the positive term (broadcast along the last dim, one per class).
    """
    op = "binary_cross_entropy_with_logits"
    input, target = _tensor(input, op), _tensor(target, op, "target")
    _check_same_shape(op, input, target)
    pw = None
    if pos_weight is not None:
        pw = _tensor(pos_weight, op, "pos_weight").array.astype(input.dtype, copy=False)
        try:
            np.broadcast_shapes(pw.shape, tuple(input.shape))
        except ValueError:
            raise ValueError(
                f"[{op}] pos_weight of shape {tuple(pw.shape)} does not broadcast to "
                f"the input's shape {tuple(input.shape)}"
            ) from None
    return _pointwise(
        BinaryCrossEntropyWithLogits(pw),
        input,
        target,
        weight,
        _legacy_reduction(size_average, reduce, reduction),
    )


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """KL(target || exp(input)) pointwise: target (log(target) - input), input being log-probs.

    reduction 'batchmean' (sum / batch size) is the mathematical KL divergence; 'mean' divides by
    the number of elements, as in PyTorch (with its warning).
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction == "mean":
        warnings.warn(
            "[kl_div] reduction: 'mean' divides the total loss by both the batch size "
            "and the support size. 'batchmean' divides only by the batch size, and "
            "aligns with the KL div math definition.",
            UserWarning,
            stacklevel=2,
        )
    return _pointwise(
        KlDiv(log_target), input, target, None, reduction, REDUCTIONS + ("batchmean",)
    )


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy of logits `input` against class indices or class probabilities.

    input (C,), (N, C) or (N, C, d1, ...); target: class indices of shape (), (N,) or
    (N, d1, ...), or probabilities with the input's shape. 'mean' divides by the summed weight
    of the non-ignored targets (by N for probabilities), as in PyTorch; `label_smoothing` mixes
    the target with the uniform distribution. Runs the fused log-softmax + NLL kernel.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> round(F.cross_entropy(fd.zeros(2, 4), fd.tensor([1, 3])).item(), 4)
        1.3863
    """
    op = "cross_entropy"
    input, target = _tensor(input, op), _tensor(target, op, "target")
    weight = _optional(weight, op, "weight")
    reduction = check_reduction(_legacy_reduction(size_average, reduce, reduction), op)
    check_float(input.array, op)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"[{op}] label_smoothing must be between 0.0 and 1.0, got {label_smoothing}"
        )
    c = input.shape[1] if input.ndim > 1 else (input.shape[0] if input.ndim else 0)
    if weight is not None and tuple(weight.shape) != (c,):
        raise ValueError(
            f"[{op}] weight must have one value per class: expected shape ({c},), "
            f"got {tuple(weight.shape)}"
        )
    w = None if weight is None else weight.array
    if target.dtype.kind == "f":
        if tuple(target.shape) != tuple(input.shape):
            raise ValueError(
                f"[{op}] class-probability target must have the input's shape "
                f"{tuple(input.shape)}, got {tuple(target.shape)}"
            )
        return SoftCrossEntropy.apply(input, target, w, float(label_smoothing), reduction)
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"[{op}] target must hold class indices (int64) or class probabilities "
            f"(float), got {target.dtype}"
        )
    return CrossEntropy.apply(
        input, target, w, int(ignore_index), float(label_smoothing), reduction
    )


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood: -weight[t] * input[i, t] for log-probabilities `input`.

    Shapes and the 'mean' reduction are those of :func:`cross_entropy` with class indices.
    """
    op = "nll_loss"
    input, target = _tensor(input, op), _tensor(target, op, "target")
    reduction = check_reduction(_legacy_reduction(size_average, reduce, reduction), op)
    check_float(input.array, op)
    if target.dtype.kind not in "iu":
        raise TypeError(f"[{op}] target must hold class indices (int64), got {target.dtype}")
    w = None if weight is None else _tensor(weight, op, "weight").array
    return NllLoss.apply(input, target, w, int(ignore_index), reduction)


# ------------------------------------------------------------------------------------ one_hot
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding of class indices: shape (*tensor.shape, num_classes).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.one_hot(fd.tensor([0, 2]), 3).tolist()
        [[1, 0, 0], [0, 0, 1]]
    """
    op = "one_hot"
    t = _tensor(tensor, op, "tensor").array
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"[{op}] one_hot is only applicable to index tensors (int64), got {t.dtype}"
        )
    m = xp(t)
    if t.size and int(t.min()) < 0:
        raise ValueError(f"[{op}] class values must be non-negative, got {int(t.min())}")
    if num_classes == -1:
        if t.size == 0:
            raise ValueError(
                f"[{op}] can not infer the total number of classes from an empty "
                "tensor; pass num_classes"
            )
        num_classes = int(t.max()) + 1
    if num_classes < 0:
        raise ValueError(f"[{op}] num_classes must be -1 or non-negative, got {num_classes}")
    if t.size and int(t.max()) >= num_classes:
        raise ValueError(
            f"[{op}] class values must be smaller than num_classes {num_classes}, "
            f"got {int(t.max())}"
        )
    out = (t[..., None] == m.arange(num_classes)).astype(int64)
    return Tensor(out)


# The CNN families: each private module lists its public functions in __all__.
from . import (  # noqa: E402
    _functional_attention,
    _functional_conv,
    _functional_norm,
    _functional_pool,
    _functional_rnn,
    _functional_sparse,
)
from ._functional_attention import *  # noqa: E402,F403
from ._functional_conv import *  # noqa: E402,F403
from ._functional_norm import *  # noqa: E402,F403
from ._functional_pool import *  # noqa: E402,F403
from ._functional_rnn import *  # noqa: E402,F403
from ._functional_sparse import *  # noqa: E402,F403

__all__ += (
    _functional_conv.__all__
    + _functional_pool.__all__
    + _functional_norm.__all__
    + _functional_attention.__all__
    + _functional_rnn.__all__
    + _functional_sparse.__all__
)

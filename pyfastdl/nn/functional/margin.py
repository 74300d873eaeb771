"""Margin and embedding losses, composed of differentiable ops (PyTorch's formulas).

soft_margin_loss: log(1 + exp(-y x)); multilabel_soft_margin_loss: the mean over classes of
-(y log sigmoid(x) + (1 - y) log sigmoid(-x)); margin_ranking_loss: max(0, -y (x1 - x2) + margin);
hinge_embedding_loss: x where y = 1, max(0, margin - x) where y = -1; cosine_embedding_loss:
1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1; triplet_margin_loss:
max(0, d(a, p) - d(a, n) + margin) with d the p-norm of (x1 - x2 + eps) over the last dim;
multi_margin_loss: sum over i != y of max(0, margin - x[y] + x[i])^p / C.

Example:
    >>> import pyfastdl as fd
    >>> import pyfastdl.nn.functional as F
    >>> x1, x2 = fd.tensor([1.0, 0.0]), fd.tensor([0.0, 1.0])
    >>> F.margin_ranking_loss(x1, x2, fd.tensor([1.0, 1.0])).item()
    0.5
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ... import ops
from ...arrays import xp
from ...tensor import Tensor
from ._args import check_float, check_reduction, legacy_reduction, optional_tensor_arg, tensor_arg
from .distance import pairwise_distance
from .loss import reduce_loss

__all__ = [
    "cosine_embedding_loss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "multi_margin_loss",
    "multilabel_soft_margin_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]


def _args(op: str, size_average: Any, reduce: Any, reduction: str, *tensors: tuple) -> str:
    """Checks the (name, tensor) pairs and returns the reduction (legacy flags mapped)."""
    for name, t in tensors:
        tensor_arg(t, op, name)
    check_float(tensors[0][1].array, op, tensors[0][0])
    return check_reduction(legacy_reduction(size_average, reduce, reduction), op)


def _pair_args(
    op: str, size_average: Any, reduce: Any, reduction: str, input1: Any, input2: Any, target: Any
) -> str:
    """:func:`_args` for the losses of two inputs and a target (ranking, cosine embedding)."""
    named = (("input1", input1), ("input2", input2), ("target", target))
    return _args(op, size_average, reduce, reduction, *named)


def _like(t: Tensor, ref: Tensor) -> Tensor:
    """`t` in the dtype of `ref` (targets may come as integers)."""
    return t if t.dtype == ref.dtype else ops.cast(t, ref.dtype)


def soft_margin_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Two-class logistic loss log(1 + exp(-target * input)), targets in {1, -1}."""
    op = "soft_margin_loss"
    reduction = _args(op, size_average, reduce, reduction, ("input", input), ("target", target))
    return reduce_loss(-ops.logsigmoid(_like(target, input) * input), reduction)


def multilabel_soft_margin_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Multi-label one-versus-all logistic loss, averaged over the C classes (last dim)."""
    op = "multilabel_soft_margin_loss"
    reduction = _args(op, size_average, reduce, reduction, ("input", input), ("target", target))
    weight = optional_tensor_arg(weight, op, "weight")
    if input.ndim == 0:
        raise ValueError(f"[{op}] input must have at least 1 dimension (the classes), got 0")
    t = _like(target, input)
    loss = -(t * ops.logsigmoid(input) + (1 - t) * ops.logsigmoid(-input))
    if weight is not None:
        loss = loss * _like(weight, input)
    loss = loss.sum(dim=input.ndim - 1) / input.shape[-1]
    return reduce_loss(loss, reduction)


def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0.0,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """max(0, -target * (input1 - input2) + margin), targets in {1, -1}."""
    op = "margin_ranking_loss"
    reduction = _pair_args(op, size_average, reduce, reduction, input1, input2, target)
    if not input1.ndim == input2.ndim == target.ndim:
        raise ValueError(
            f"[{op}] all input tensors should have the same number of dimensions, got input1 "
            f"{tuple(input1.shape)}, input2 {tuple(input2.shape)}, target {tuple(target.shape)}"
        )
    try:
        np.broadcast_shapes(input1.shape, input2.shape, target.shape)
    except ValueError:
        raise ValueError(
            f"[{op}] input1 {tuple(input1.shape)}, input2 {tuple(input2.shape)} and target "
            f"{tuple(target.shape)} do not broadcast together"
        ) from None
    loss = ops.clamp_min(-_like(target, input1) * (input1 - input2) + margin, 0)
    return reduce_loss(loss, reduction)


def hinge_embedding_loss(
    input: Tensor,
    target: Tensor,
    margin: float = 1.0,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """input where target is 1, max(0, margin - input) where target is -1 (summed if neither)."""
    op = "hinge_embedding_loss"
    reduction = _args(op, size_average, reduce, reduction, ("input", input), ("target", target))
    margin_part = ops.where(target != 1, ops.clamp_min(margin - input, 0), 0.0)
    self_part = ops.where(target != -1, input, 0.0)
    return reduce_loss(margin_part + self_part, reduction)


def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0.0,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where target is -1."""
    op = "cosine_embedding_loss"
    reduction = _pair_args(op, size_average, reduce, reduction, input1, input2, target)
    if target.ndim > 1:
        raise ValueError(f"[{op}] 0D or 1D target tensor expected, multi-target not supported")
    want = target.ndim + 1
    if input1.ndim != want or input2.ndim != want:
        raise ValueError(
            f"[{op}] {target.ndim}D target tensor expects {want}D input tensors, but found "
            f"inputs with sizes {tuple(input1.shape)} and {tuple(input2.shape)}"
        )
    eps = 1e-12  # PyTorch's EPSILON, added to both squared magnitudes
    dim = input1.ndim - 1
    prod = (input1 * input2).sum(dim=dim)
    mag = ((input1 * input1).sum(dim=dim) + eps) * ((input2 * input2).sum(dim=dim) + eps)
    cos = prod / ops.sqrt(mag)
    pos = ops.where(target == 1, 1 - cos, 0.0)
    neg = ops.where(target == -1, ops.clamp_min(cos - margin, 0), 0.0)
    return reduce_loss(pos + neg, reduction)


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """max(0, d(anchor, positive) - d(anchor, negative) + margin), d the pairwise p-distance.

    With ``swap``, d(anchor, negative) is replaced by
    min(d(anchor, negative), d(positive, negative)).
    """
    op = "triplet_margin_loss"
    distance = lambda x1, x2: pairwise_distance(x1, x2, p, eps)  # noqa: E731
    legacy = (size_average, reduce, reduction)
    return _triplet(op, anchor, positive, negative, distance, margin, swap, legacy)


def triplet_margin_with_distance_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    distance_function: Callable | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """max(0, d(anchor, positive) - d(anchor, negative) + margin) for a distance function d
    (default: ``pairwise_distance``); ``swap`` as in :func:`triplet_margin_loss`."""
    op = "triplet_margin_with_distance_loss"
    distance = pairwise_distance if distance_function is None else distance_function
    legacy = (None, None, reduction)
    return _triplet(op, anchor, positive, negative, distance, margin, swap, legacy)


def _triplet(
    op: str,
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    distance: Callable,
    margin: float,
    swap: bool,
    legacy: tuple,
) -> Tensor:
    """Checks the three tensors and the margin; `legacy` is (size_average, reduce, reduction)."""
    named = (("anchor", anchor), ("positive", positive), ("negative", negative))
    reduction = _args(op, *legacy, *named)
    if margin <= 0:
        raise ValueError(f"[{op}] margin must be greater than 0, got {margin}")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise ValueError(
            f"[{op}] the anchor, positive, and negative tensors are expected to have the same "
            f"number of dimensions, but got: anchor {anchor.ndim}D, positive {positive.ndim}D, "
            f"and negative {negative.ndim}D inputs"
        )
    d_pos = distance(anchor, positive)
    d_neg = distance(anchor, negative)
    if swap:
        d_neg = ops.minimum(d_neg, distance(positive, negative))
    return reduce_loss(ops.clamp_min(margin + d_pos - d_neg, 0), reduction)


def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Multi-class hinge loss: sum over i != y of w[y] max(0, margin - x[y] + x[i])^p / C."""
    op = "multi_margin_loss"
    reduction = _args(op, size_average, reduce, reduction, ("input", input), ("target", target))
    weight = optional_tensor_arg(weight, op, "weight")
    if p not in (1, 2):
        raise ValueError(f"[{op}] only p == 1 and p == 2 supported, got {p}")
    if weight is not None and weight.ndim != 1:
        raise ValueError(f"[{op}] weight must be one-dimensional, got shape {tuple(weight.shape)}")
    if input.ndim not in (1, 2) or target.ndim != input.ndim - 1:
        raise ValueError(
            f"[{op}] expected input (N, C) with target (N,), or input (C,) with target (), got "
            f"input {tuple(input.shape)} and target {tuple(target.shape)}"
        )
    if target.dtype.kind not in "iu":
        raise TypeError(f"[{op}] target must hold integer class indices, got {target.dtype}")
    x = input if input.ndim == 2 else input.unsqueeze(0)
    y = target.reshape(-1)
    n, c = x.shape
    if y.shape[0] != n:
        raise ValueError(f"[{op}] expected a target of {n} entries, got {tuple(target.shape)}")
    idx = y.array
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= c):
        raise IndexError(f"[{op}] target out of range: every entry must be in [0, {c - 1}]")
    index = y.reshape(n, 1)
    z = ops.clamp_min(margin - ops.gather(x, 1, index) + x, 0)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * ops.index_select(_like(weight, x), 0, y).reshape(n, 1)
    is_target = Tensor(xp(idx).arange(c)[None, :] == idx[:, None])  # skips i == y
    loss = ops.where(is_target, 0.0, z).sum(dim=1) / c
    if input.ndim == 1:
        loss = loss.reshape(())
    return reduce_loss(loss, reduction)

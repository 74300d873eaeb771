"""Negative log-likelihood losses of a Poisson and a Gaussian target, composed of ops.

poisson_nll_loss: exp(x) - t x (``log_input``) or x - t log(x + eps); ``full`` adds Stirling's
approximation t log t - t + 0.5 log(2 pi t) where t > 1. gaussian_nll_loss:
0.5 (log(max(var, eps)) + (x - t)^2 / max(var, eps)) (+ 0.5 log(2 pi) with ``full``); the
clamp is applied to the values only, the gradient flows to var unclamped, as in PyTorch.

Example:
    >>> import pyfastdl as fd
    >>> import pyfastdl.nn.functional as F
    >>> F.poisson_nll_loss(fd.tensor([0.0, 0.0]), fd.tensor([1.0, 2.0])).item()
    1.0
"""

from __future__ import annotations

import math
from typing import Any

from ... import ops
from ...tensor import Tensor
from ._args import check_float, check_reduction, legacy_reduction, tensor_arg
from .loss import reduce_loss

__all__ = ["gaussian_nll_loss", "poisson_nll_loss"]


def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average: Any = None,
    eps: float = 1e-8,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Poisson negative log-likelihood of `target` given the rate `input` (or its log)."""
    op = "poisson_nll_loss"
    input, target = tensor_arg(input, op), tensor_arg(target, op, "target")
    check_float(input.array, op)
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction), op)
    if target.dtype != input.dtype:
        target = ops.cast(target, input.dtype)
    if log_input:
        loss = ops.exp(input) - target * input
    else:
        loss = input - target * ops.log(input + eps)
    if full:
        # where() keeps log() finite where the term is masked out (PyTorch's gradient for the
        # target is NaN at target 0 there, this one is 0).
        big = target.detach().array > 1
        safe = ops.where(Tensor(big), target, 2.0)
        stirling = safe * ops.log(safe) - safe + 0.5 * ops.log(2 * math.pi * safe)
        loss = loss + ops.where(Tensor(big), stirling, 0.0)
    return reduce_loss(loss, reduction)


def _gaussian_var(input: Tensor, var: Any, op: str) -> Tensor:
    """var as a Tensor that broadcasts against input (PyTorch's homoscedastic cases)."""
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"[{op}] var has negative entry/entries")
        return ops.cast(Tensor(input.array * 0 + var), input.dtype)
    var = tensor_arg(var, op, "var")
    if var.array.size and bool((var.array < 0).any()):
        raise ValueError(f"[{op}] var has negative entry/entries")
    vs, xs = tuple(var.shape), tuple(input.shape)
    if vs == xs:
        return var
    if xs[:-1] == vs:
        return var.unsqueeze(-1)
    if len(vs) == len(xs) and sum(v for x, v in zip(xs, vs) if x != v) == 1:
        return var
    raise ValueError(f"[{op}] var is of incorrect size: {vs} for an input of size {xs}")


def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var: Any,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """Gaussian negative log-likelihood of `target` with mean `input` and variance `var`.

    var has input's shape, or one dimension fewer, or a last dim (or one other dim) of 1
    (one variance shared there); a float is one variance for all.
    """
    op = "gaussian_nll_loss"
    input, target = tensor_arg(input, op), tensor_arg(target, op, "target")
    check_float(input.array, op)
    var = _gaussian_var(input, var, op)
    check_reduction(reduction, op)
    # max(var, eps) in value, identity in gradient (PyTorch clamps under no_grad).
    var = var + (ops.clamp_min(var.detach(), eps) - var.detach())
    d = input - target
    loss = 0.5 * (ops.log(var) + d * d / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce_loss(loss, reduction)

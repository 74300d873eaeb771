"""Batch normalization with statistics over the whole global batch: every rank's samples.

Forward (training): each rank computes per channel its count, mean and sum of squared deviations
(M2, in float64); one all_gather brings everyone's three numbers per channel, and Chan's parallel
merge gives the global mean and biased variance -- exact even when the ranks' means differ
widely, unlike E[x^2] - E[x]^2. The input is then normalized by the eval-mode kernel with those
statistics.

Backward: with x_hat = (x - mean) * invstd and M the global count, the input's gradient is

    dx = weight * invstd * (dy - sum(dy) / M - x_hat * sum(dy * x_hat) / M)

where both sums run over every rank's samples: one all_reduce of 2C numbers. The weight and bias
gradients are this rank's sums (sum(dy * x_hat), sum(dy)); DistributedDataParallel averages them
across the ranks with the other gradients. Summing (not averaging) dy across ranks is what makes
the averaged gradients equal those of one process on the whole batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import kernels
from ..arrays import empty
from ..autograd import Function
from .groups import ProcessGroup

__all__ = ["SyncBatchNormFn", "merge_statistics"]


def merge_statistics(counts: Any, means: Any, m2s: Any) -> tuple[Any, Any, Any]:
    """Chan et al.'s merge of per-rank (count, mean, M2) rows into the total count, the mean and
    the biased variance, per channel. Inputs are (ranks, C) float64 arrays (counts (ranks, 1))."""
    total = counts.sum(axis=0)
    mean = (counts * means).sum(axis=0) / total
    # M2 = sum_r [M2_r + n_r (mean_r - mean)^2]
    m2 = (m2s + counts * (means - mean) ** 2).sum(axis=0)
    return total, mean, m2 / total


def _gather_statistics(pg: ProcessGroup, x3: Any) -> tuple[float, Any, Any]:
    """(global count, mean, biased variance) per channel of (N, C, L) host array `x3`."""
    n_local = x3.shape[0] * x3.shape[2]
    local = x3.astype(np.float64)
    mean = local.mean(axis=(0, 2))
    m2 = ((local - mean[None, :, None]) ** 2).sum(axis=(0, 2))
    c = x3.shape[1]
    send = np.concatenate([[float(n_local)], mean, m2])
    recv = np.empty((pg.size(), send.size), np.float64)
    pg.allgather(send, recv, wait="SyncBatchNorm")
    counts = recv[:, :1]
    total, mean, var = merge_statistics(counts, recv[:, 1 : 1 + c], recv[:, 1 + c :])
    return float(total[0]), mean, var


class SyncBatchNormFn(Function):
    """Training-mode batch normalization of (N, C, *) input over the ranks of `group`."""

    @staticmethod
    def forward(ctx, x, weight, bias, *, running_mean, running_var, momentum, eps, group):
        if not isinstance(x, np.ndarray):
            raise TypeError("[SyncBatchNorm] GPU tensors need the NCCL backend (not yet available)")
        x3 = x.reshape(x.shape[0], x.shape[1], -1)
        total, mean, var = _gather_statistics(group, x3)
        if total <= 1:
            raise ValueError(
                f"[SyncBatchNorm] expected more than 1 value per channel across the ranks when "
                f"training, got {int(total)}"
            )
        if running_mean is not None:
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean
            running_var[...] = (1 - momentum) * running_var + momentum * var * total / (total - 1)
        mean_x = mean.astype(x.dtype)
        var_x = var.astype(x.dtype)
        y = empty(x3.shape, x.dtype, x)
        kernels.for_array("batchnorm_forward_eval", x3)(x3, mean_x, var_x, weight, bias, y, eps)
        ctx.save_for_backward(x3, weight)
        ctx.mean, ctx.invstd, ctx.total, ctx.group = mean, 1.0 / np.sqrt(var + eps), total, group
        ctx.shape = x.shape
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        x3, weight = ctx.saved_tensors
        g3 = g.reshape(x3.shape).astype(np.float64)
        x_hat = (x3.astype(np.float64) - ctx.mean[None, :, None]) * ctx.invstd[None, :, None]
        sum_dy = g3.sum(axis=(0, 2))
        sum_dy_xhat = (g3 * x_hat).sum(axis=(0, 2))
        both = np.concatenate([sum_dy, sum_dy_xhat])
        ctx.group.allreduce(both, "sum", wait="SyncBatchNorm backward")
        c = x3.shape[1]
        mean_dy = both[:c] / ctx.total
        mean_dy_xhat = both[c:] / ctx.total
        scale = ctx.invstd if weight is None else ctx.invstd * weight
        gx = scale[None, :, None] * (
            g3 - mean_dy[None, :, None] - x_hat * mean_dy_xhat[None, :, None]
        )
        dtype = x3.dtype
        gw = sum_dy_xhat.astype(dtype) if weight is not None else None
        gb = sum_dy.astype(dtype) if ctx.needs_input_grad[2] else None
        return gx.astype(dtype).reshape(ctx.shape), gw, gb

"""max_unpool1d and max_unpool2d: the partial inverse of max pooling.

Each input value goes to its max-pool index (the flat position in its output plane; every other
position is 0); the backward gathers the gradient from the same positions. The output size is
PyTorch's default, (in - 1) * stride - 2 * padding + kernel_size per dim, or `output_size` when it
is given (within a stride of the default).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...arrays import xp
from ...autograd import Function
from ...tensor import Tensor
from ._args import check_float, tensor_arg
from .conv1d import single_tuple
from .conv2d import pair

__all__ = ["max_unpool1d", "max_unpool2d"]


class MaxUnpoolFn(Function):
    """(P, L) values scattered to their (P, L) flat indices in (P, size) planes."""

    @staticmethod
    def forward(ctx, x, indices, size):
        m = xp(x)
        rows = m.arange(x.shape[0])[:, None]
        out = m.zeros((x.shape[0], size), x.dtype)
        out[rows, indices] = x
        ctx.rows, ctx.indices = rows, indices
        return out

    @staticmethod
    def backward(ctx, g):
        return g[ctx.rows, ctx.indices], None, None


def _output_size(
    op: str, spatial: tuple, k: tuple, s: tuple, p: tuple, output_size: Any
) -> tuple[int, ...]:
    n = len(k)
    default = tuple((spatial[d] - 1) * s[d] + k[d] - 2 * p[d] for d in range(n))
    if output_size is None:
        return default
    size = tuple(int(v) for v in output_size)
    if len(size) == n + 2:
        size = size[2:]
    if len(size) != n:
        raise ValueError(
            f"[{op}] output_size should be a sequence containing {n} or {n + 2} elements, but "
            f"it has a length of {len(size)}"
        )
    for d in range(n):
        lo, hi = default[d] - s[d], default[d] + s[d]
        if not lo < size[d] < hi:
            raise ValueError(
                f"[{op}] invalid output_size {size} (dim {d} must be between {lo} and {hi})"
            )
    return size


def _unpool(
    op: str,
    input: Any,
    indices: Any,
    ntuple: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    output_size: Any,
) -> Tensor:
    """max_unpool of 1 or 2 spatial dims: `ntuple` reads a window argument as one int per dim
    (``single_tuple`` or ``pair``); stride defaults to kernel_size."""
    k = ntuple(kernel_size, "kernel_size", op, 1)
    s = k if stride is None else ntuple(stride, "stride", op, 1)
    p = ntuple(padding, "padding", op, 0)
    dims = len(k)
    input = tensor_arg(input, op)
    indices = tensor_arg(indices, op, "indices")
    check_float(input.array, op)
    if input.ndim not in (dims + 1, dims + 2):
        raise ValueError(
            f"[{op}] expected a {dims + 1}-d (unbatched) or {dims + 2}-d (batched) input, got "
            f"shape {input.shape}"
        )
    if indices.shape != input.shape or indices.array.dtype.kind not in "iu":
        raise ValueError(
            f"[{op}] indices must be an integer tensor of the input's shape {input.shape}, got "
            f"{indices.array.dtype} of shape {indices.shape}"
        )
    size = _output_size(op, input.shape[-dims:], k, s, p, output_size)
    plane = math.prod(size)
    idx = indices.array.astype(np.int64).reshape(-1, math.prod(input.shape[-dims:]))
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= plane):
        raise ValueError(
            f"[{op}] found an invalid max index: indices must lie in [0, {plane}) for the "
            f"output size {size}"
        )
    lead = input.shape[:-dims]
    out = MaxUnpoolFn.apply(input.reshape(-1, idx.shape[1]), idx, plane)
    return out.reshape(lead + size)


def max_unpool1d(
    input: Tensor,
    indices: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
) -> Tensor:
    """Puts each value of (N, C, L) or (C, L) input at its ``max_pool1d`` index, zeros elsewhere.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> y, i = F.max_pool1d(fd.tensor([[[1.0, 3.0, 4.0, 2.0]]]), 2, return_indices=True)
        >>> F.max_unpool1d(y, i, 2).tolist()
        [[[0.0, 3.0, 4.0, 0.0]]]
    """
    op = "max_unpool1d"
    return _unpool(op, input, indices, single_tuple, kernel_size, stride, padding, output_size)


def max_unpool2d(
    input: Tensor,
    indices: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
) -> Tensor:
    """Puts each value of (N, C, H, W) or (C, H, W) input at its ``max_pool2d`` index (the flat
    position h * W + w in its output plane), zeros elsewhere.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> y, i = F.max_pool2d(fd.tensor([[[[1.0, 2.0], [4.0, 3.0]]]]), 2, return_indices=True)
        >>> F.max_unpool2d(y, i, 2).tolist()
        [[[[0.0, 0.0], [4.0, 0.0]]]]
    """
    op = "max_unpool2d"
    return _unpool(op, input, indices, pair, kernel_size, stride, padding, output_size)

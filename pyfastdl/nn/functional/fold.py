"""unfold (im2col) and fold (col2im): sliding blocks of an image as columns, and back.

unfold turns (N, C, H, W) into (N, C * kH * kW, L), column l holding the block at output
position l = oh * OW + ow, row c * kH * kW + i * kW + j its element (c, oh * sH - pH + i * dH,
ow * sW - pW + j * dW) (zero outside the image). fold sums such columns back into an image, so
each is the other's backward. Both loop over the kH * kW kernel offsets, each a strided slice.
"""

from __future__ import annotations

from typing import Any

from ...arrays import xp
from ...autograd import Function
from ...shapes import conv2d_output_size
from ...tensor import Tensor
from ._args import check_float, tensor_arg
from .conv2d import pair

__all__ = ["fold", "unfold"]


def _blocks(size: tuple, k: tuple, d: tuple, p: tuple, s: tuple) -> tuple[int, int]:
    return tuple(conv2d_output_size(size[i], k[i], s[i], p[i], d[i]) for i in range(2))


def _offsets(k: tuple, d: tuple, s: tuple, blocks: tuple):
    """Each kernel offset (i, j) with the strided slices of the padded image it covers."""
    for i in range(k[0]):
        rows = slice(i * d[0], i * d[0] + s[0] * (blocks[0] - 1) + 1, s[0])
        for j in range(k[1]):
            yield i, j, rows, slice(j * d[1], j * d[1] + s[1] * (blocks[1] - 1) + 1, s[1])


def _im2col(x: Any, k: tuple, d: tuple, p: tuple, s: tuple) -> Any:
    """(N, C, H, W) -> (N, C * kH * kW, L)."""
    m = xp(x)
    n, c, h, w = x.shape
    blocks = _blocks((h, w), k, d, p, s)
    padded = m.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    cols = m.empty((n, c, k[0], k[1]) + blocks, x.dtype)
    for i, j, rows, cs in _offsets(k, d, s, blocks):
        cols[:, :, i, j] = padded[:, :, rows, cs]
    return cols.reshape(n, c * k[0] * k[1], -1)


def _col2im(cols: Any, size: tuple, k: tuple, d: tuple, p: tuple, s: tuple) -> Any:
    """(N, C * kH * kW, L) -> (N, C, H, W), overlapping blocks summed."""
    m = xp(cols)
    n = cols.shape[0]
    c = cols.shape[1] // (k[0] * k[1])
    blocks = _blocks(size, k, d, p, s)
    cols = cols.reshape((n, c, k[0], k[1]) + blocks)
    out = m.zeros((n, c, size[0] + 2 * p[0], size[1] + 2 * p[1]), cols.dtype)
    for i, j, rows, cs in _offsets(k, d, s, blocks):
        out[:, :, rows, cs] += cols[:, :, i, j]
    return out[:, :, p[0] : p[0] + size[0], p[1] : p[1] + size[1]].copy()


class UnfoldFn(Function):
    """im2col of (N, C, H, W) x; the backward is col2im."""

    @staticmethod
    def forward(ctx, x, k, d, p, s):
        ctx.params, ctx.size = (k, d, p, s), x.shape[2:]
        return _im2col(x, k, d, p, s)

    @staticmethod
    def backward(ctx, g):
        return _col2im(g, ctx.size, *ctx.params), None, None, None, None


class FoldFn(Function):
    """col2im of (N, C * kH * kW, L) columns into `size`; the backward is im2col."""

    @staticmethod
    def forward(ctx, cols, size, k, d, p, s):
        ctx.params = (k, d, p, s)
        return _col2im(cols, size, k, d, p, s)

    @staticmethod
    def backward(ctx, g):
        return _im2col(g, *ctx.params), None, None, None, None, None


def _params(op: str, kernel_size: Any, dilation: Any, padding: Any, stride: Any) -> tuple:
    return (
        pair(kernel_size, "kernel_size", op, 1),
        pair(dilation, "dilation", op, 1),
        pair(padding, "padding", op, 0),
        pair(stride, "stride", op, 1),
    )


def _float_tensor(input: Any, op: str, ranks: tuple, what: str) -> Tensor:
    input = tensor_arg(input, op)
    check_float(input.array, op)
    if input.ndim not in ranks:
        raise ValueError(f"[{op}] expected a {what} input, got shape {input.shape}")
    return input


def _apply_batched(fn: Any, input: Tensor, batched_ndim: int, *params: Any) -> Tensor:
    """fn.apply(input, *params) on batched input; unbatched input (one dim fewer) runs as a batch
    of one and comes back without the batch dim."""
    if input.ndim == batched_ndim:
        return fn.apply(input, *params)
    out = fn.apply(input.reshape((1,) + input.shape), *params)
    return out.reshape(out.shape[1:])


def unfold(
    input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
) -> Tensor:
    """Extracts the sliding kernel_size blocks of (N, C, H, W) or (C, H, W) input as the
    columns of (N, C * kH * kW, L) (or (C * kH * kW, L)).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.unfold(fd.arange(9.0).reshape(1, 1, 3, 3), 2).tolist()
        [[[0.0, 1.0, 3.0, 4.0], [1.0, 2.0, 4.0, 5.0], [3.0, 4.0, 6.0, 7.0], [4.0, 5.0, 7.0, 8.0]]]
    """
    op = "unfold"
    input = _float_tensor(input, op, (3, 4), "3-d (C, H, W) or 4-d (N, C, H, W)")
    k, d, p, s = _params(op, kernel_size, dilation, padding, stride)
    blocks = _blocks(input.shape[-2:], k, d, p, s)
    if min(blocks) < 1:
        raise ValueError(
            f"[{op}] kernel_size {k} with dilation {d} does not fit the padded input of size "
            f"{tuple(n + 2 * q for n, q in zip(input.shape[-2:], p))}"
        )
    return _apply_batched(UnfoldFn, input, 4, k, d, p, s)


def fold(
    input: Tensor,
    output_size: Any,
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
) -> Tensor:
    """Sums the columns of (N, C * kH * kW, L) (or (C * kH * kW, L)) input, each a block, into
    an (N, C, *output_size) image: the adjoint of :func:`unfold`.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.fold(fd.ones(1, 4, 4), (3, 3), 2).tolist()
        [[[[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]]]
    """
    op = "fold"
    input = _float_tensor(input, op, (2, 3), "2-d (C * kH * kW, L) or 3-d (N, C * kH * kW, L)")
    size = pair(output_size, "output_size", op, 1)
    k, d, p, s = _params(op, kernel_size, dilation, padding, stride)
    rows, length = input.shape[-2:]
    if rows % (k[0] * k[1]):
        raise ValueError(
            f"[{op}] expected size of input's dimension {input.ndim - 2} to be divisible by "
            f"the product of kernel_size {k}, but got {rows}"
        )
    blocks = _blocks(size, k, d, p, s)
    if min(blocks) < 1 or blocks[0] * blocks[1] != length:
        raise ValueError(
            f"[{op}] given output_size={size}, kernel_size={k}, dilation={d}, padding={p}, "
            f"stride={s}, expected size of input's dimension {input.ndim - 1} to match the "
            f"calculated number of sliding blocks {blocks[0]} * {blocks[1]} = "
            f"{blocks[0] * blocks[1]}, but got {length}"
        )
    return _apply_batched(FoldFn, input, 3, size, k, d, p, s)

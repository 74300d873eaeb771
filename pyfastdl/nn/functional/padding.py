"""pad: constant, reflect, replicate and circular padding of the last dims, with autograd.

The output is built by gathering source indices along each padded dim (reflect, replicate,
circular) or by writing the input into a filled array (constant); the backward scatters the
gradient back through the same indices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...arrays import xp
from ...autograd import Function
from ...tensor import Tensor
from ._args import tensor_arg

__all__ = ["pad"]

PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _source_index(m: Any, size: int, left: int, right: int, mode: str) -> Any:
    """For each output position along one dim, the input position it copies (non-constant modes)."""
    i = m.arange(-left, size + right)
    if mode == "reflect":
        period = 2 * (size - 1)
        i = m.abs(i) % period if period else m.zeros_like(i)
        return m.where(i >= size, period - i, i)
    if mode == "replicate":
        return m.clip(i, 0, size - 1)
    return i % size  # circular


class PadFn(Function):
    """Pads (or, constant mode with negative pads, crops) the dims in `pads`: ((axis, l, r), ...)."""

    @staticmethod
    def forward(ctx, x, pads, mode, value):
        m = xp(x)
        ctx.shape, ctx.pads, ctx.mode = x.shape, pads, mode
        if mode == "constant":
            shape = list(x.shape)
            src, dst = [slice(None)] * x.ndim, [slice(None)] * x.ndim
            for axis, left, right in pads:
                n = x.shape[axis]
                shape[axis] = n + left + right
                lo, hi = max(-left, 0), n - max(-right, 0)
                src[axis] = slice(lo, max(hi, lo))
                dst[axis] = slice(max(left, 0), max(left, 0) + max(hi - lo, 0))
            out = m.full(tuple(shape), value, x.dtype)
            out[tuple(dst)] = x[tuple(src)]
            ctx.slices = (tuple(src), tuple(dst))
            return out
        index = []
        out = x
        for axis, left, right in pads:
            idx = _source_index(m, x.shape[axis], left, right, mode)
            index.append(idx)
            out = m.take(out, idx, axis=axis)
        ctx.index = index
        return out

    @staticmethod
    def backward(ctx, g):
        m = xp(g)
        if ctx.mode == "constant":
            src, dst = ctx.slices
            gx = m.zeros(ctx.shape, g.dtype)
            gx[src] = g[dst]
            return gx, None, None, None
        for (axis, _, _), idx in reversed(list(zip(ctx.pads, ctx.index))):
            # Sum the output positions that copied each input position: one-hot along `axis`.
            onehot = (idx[:, None] == m.arange(ctx.shape[axis])[None, :]).astype(g.dtype)
            g = m.moveaxis(m.tensordot(g, onehot, axes=([axis], [0])), -1, axis)
        return g, None, None, None


def pad(input: Tensor, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pads `input` by `pad` = (left, right) of the last dim, then of the one before, and so on.

    `mode`: 'constant' (fill with `value`, default 0; negative pads crop), 'reflect' (mirror
    without repeating the edge), 'replicate' (repeat the edge), 'circular' (wrap around). The
    non-constant modes pad the last 1, 2 or 3 dims of an input with 1 or 2 more dims.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.pad(fd.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect").tolist()
        [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
    """
    op = "pad"
    input = tensor_arg(input, op, "input")
    if mode not in PAD_MODES:
        raise ValueError(
            f"[{op}] mode must be one of {', '.join(repr(m) for m in PAD_MODES)}, got {mode!r}"
        )
    if not isinstance(pad, (tuple, list)) or any(
        isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in pad
    ):
        raise TypeError(f"[{op}] pad must be a tuple of ints, got {pad!r}")
    if len(pad) % 2:
        raise ValueError(f"[{op}] pad must have an even length, got {len(pad)} values")
    k = len(pad) // 2
    nd = input.ndim
    if k > nd:
        raise ValueError(
            f"[{op}] pad pads {k} dims but the input has only {nd}: shape {input.shape}"
        )
    pads = tuple((nd - 1 - i, int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(k))
    if mode == "constant":
        for axis, left, right in pads:
            if input.shape[axis] + left + right < 0:
                raise ValueError(
                    f"[{op}] pad {tuple(pad)} would give dim {axis} of input shape "
                    f"{input.shape} a negative size"
                )
        fill = 0.0 if value is None else value
        return PadFn.apply(input, pads, mode, fill)
    if value not in (None, 0, 0.0):
        raise ValueError(f"[{op}] padding mode {mode!r} does not take a fill value")
    if not 1 <= k <= 3 or nd not in (k + 1, k + 2):
        raise ValueError(
            f"[{op}] mode {mode!r} pads the last 1, 2 or 3 dims of an input with 1 or 2 more "
            f"dims: got pad of length {len(pad)} for input shape {input.shape}"
        )
    for axis, left, right in pads:
        n = input.shape[axis]
        if left < 0 or right < 0:
            raise ValueError(f"[{op}] mode {mode!r} needs non-negative pads, got {tuple(pad)}")
        if mode == "reflect" and max(left, right) >= max(n, 1):
            raise ValueError(
                f"[{op}] reflect padding must be smaller than the padded dim: pad {tuple(pad)}, "
                f"dim {axis} of input shape {input.shape} has size {n}"
            )
        if mode == "replicate" and n == 0 and left + right > 0:
            raise ValueError(f"[{op}] replicate padding of an empty dim {axis} ({input.shape})")
        if mode == "circular" and max(left, right) > n:
            raise ValueError(
                f"[{op}] circular padding must not exceed the padded dim: pad {tuple(pad)}, "
                f"dim {axis} of input shape {input.shape} has size {n}"
            )
    return PadFn.apply(input, pads, mode, 0.0)

"""Matrix products with autograd: matmul (``@``), mm, bmm, dot, mv, outer.

matmul follows torch.matmul: 1-d operands gain a dim that is dropped again from the result,
leading (batch) dims broadcast. Every product runs through ``ops._gemm.gemm`` on 2-d or 3-d views:
transposed operands are passed as ``.swapaxes`` views (the kernel reads any strides), never
copied. For C = A B the backward is dA = dC B^T and dB = A^T dC, each reduced over the batch dims
that broadcasting added.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..arrays import xp
from ..autograd import Function
from ..tensor import Tensor
from ._gemm import gemm
from ._util import unbroadcast
from .elementwise import mul
from .shape import unsqueeze

__all__ = ["bmm", "dot", "inner", "matmul", "mm", "mv", "outer"]


def _flat(a: Any, shape: tuple) -> Any | None:
    """a.reshape(shape) when that is a view (no copy), else None."""
    if type(a) is not np.ndarray:  # a GPU array: a view for certain when C-contiguous
        return a.reshape(shape) if a.flags.c_contiguous else None
    try:
        return a.reshape(shape, copy=False)
    except ValueError:
        return None


def _product(a: Any, b: Any) -> Any:
    """a @ b for operands of at least 2 dims with broadcast batch dims, through gemm."""
    m, k = a.shape[-2], a.shape[-1]
    n = b.shape[-1]
    if k != b.shape[-2]:
        raise ValueError(
            f"[matmul] shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be "
            f"multiplied ({k} != {b.shape[-2]})"
        )
    if a.ndim == 2 and b.ndim == 2:
        batch: tuple = ()
    else:
        try:
            batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(
                f"[matmul] batch dims of {tuple(a.shape)} and {tuple(b.shape)} do not broadcast"
            ) from None
    out_shape = batch + (m, n)
    if a.dtype.kind not in "f":
        # integer products: no native kernel
        return xp(a).matmul(a, b)
    if m == 0 or n == 0 or k == 0 or 0 in batch:
        return xp(a).zeros(out_shape, a.dtype)
    if not batch:
        return gemm(a, b)
    if b.ndim == 2:
        # (..., M, K) @ (K, N): one 2-d product when the leading dims of a fold into M
        a2 = _flat(a, (-1, k))
        if a2 is not None:
            return gemm(a2, b).reshape(out_shape)
    nb = 1
    for s in batch:
        nb *= s
    a3 = _batched(a, batch, nb)
    b3 = _batched(b, batch, nb)
    return gemm(a3, b3).reshape(out_shape)


def _batched(x: Any, batch: tuple, nb: int) -> Any:
    """x as a 2-d operand (shared by every batch entry) or a (nb, rows, cols) 3-d one."""
    if x.ndim == 2:
        return x
    if x.shape[:-2] != batch:
        x = xp(x).broadcast_to(x, batch + x.shape[-2:])
    x3 = _flat(x, (nb,) + x.shape[-2:])
    return x3 if x3 is not None else xp(x).ascontiguousarray(x).reshape((nb,) + x.shape[-2:])


def _t(x: Any) -> Any:
    return x.swapaxes(-1, -2)


class MatmulFn(Function):
    @staticmethod
    def forward(ctx, a, b):
        if a.dtype != b.dtype:
            raise TypeError(
                f"[matmul] expected both operands to have the same dtype, got "
                f"{a.dtype} and {b.dtype}"
            )
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(
                f"[matmul] both operands need at least 1 dim, got shapes "
                f"{tuple(a.shape)} and {tuple(b.shape)}"
            )
        a_shape, b_shape = a.shape, b.shape
        if a.ndim == 1:
            a = a.reshape(1, -1)
        if b.ndim == 1:
            b = b.reshape(-1, 1)
        try:
            out = _product(a, b)
        except ValueError as e:
            if a_shape != a.shape or b_shape != b.shape:
                raise ValueError(
                    f"[matmul] shapes {tuple(a_shape)} and {tuple(b_shape)} cannot "
                    f"be multiplied ({a_shape[-1]} != "
                    f"{b_shape[0] if len(b_shape) == 1 else b_shape[-2]})"
                ) from None
            raise e from None
        ctx.save_for_backward(
            a if ctx.needs_input_grad[1] else None, b if ctx.needs_input_grad[0] else None
        )
        ctx.shapes = (a_shape, b_shape)
        ctx.out_shape = out.shape
        if len(a_shape) == 1:
            out = out.squeeze(-2)
        if len(b_shape) == 1:
            out = out.squeeze(-1)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        a_shape, b_shape = ctx.shapes
        g = g.reshape(ctx.out_shape)
        ga = gb = None
        if b is not None:  # dA = dC B^T
            ga = _product(g, _t(b))
            ga = unbroadcast(ga, _two_d(a_shape, True))
            if ga.shape != a_shape:
                ga = ga.reshape(a_shape)
        if a is not None:  # dB = A^T dC
            if len(b_shape) <= 2 and a.ndim > 2:
                k, n = a.shape[-1], g.shape[-1]
                a2 = _flat(a, (-1, k))
                g2 = _flat(g, (-1, n))
                if a2 is not None and g2 is not None:
                    gb = gemm(_t(a2), g2)
            if gb is None:
                gb = unbroadcast(_product(_t(a), g), _two_d(b_shape, False))
            if gb.shape != b_shape:
                gb = gb.reshape(b_shape)
        return ga, gb


def _two_d(shape: tuple, left: bool) -> tuple:
    """The shape a 1-d operand was given inside matmul: (1, K) on the left, (K, 1) on the right."""
    if len(shape) != 1:
        return shape
    return (1, shape[0]) if left else (shape[0], 1)


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with torch.matmul's rules for 1-d and batched (broadcast) operands.

    Example:
        >>> import pyfastdl as fd
        >>> (fd.ones(5, 2, 3) @ fd.ones(3, 4)).shape
        (5, 2, 4)
    """
    if not isinstance(other, Tensor) or not isinstance(input, Tensor):
        raise TypeError(
            f"[matmul] expected Tensors, got {type(input).__name__} and {type(other).__name__}"
        )
    return MatmulFn.apply(input, other)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Product of two 2-d tensors (no broadcasting)."""
    if input.array.ndim != 2 or mat2.array.ndim != 2:
        raise ValueError(
            f"[mm] expected 2-d tensors, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}"
        )
    return MatmulFn.apply(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched product of (B, N, M) and (B, M, P) tensors (no broadcasting)."""
    if input.array.ndim != 3 or mat2.array.ndim != 3:
        raise ValueError(
            f"[bmm] expected 3-d tensors, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}"
        )
    if input.shape[0] != mat2.shape[0]:
        raise ValueError(f"[bmm] batch sizes differ: {tuple(input.shape)} and {tuple(mat2.shape)}")
    return MatmulFn.apply(input, mat2)


def dot(input: Tensor, other: Tensor) -> Tensor:
    """Inner product of two 1-d tensors of the same length (a 0-d tensor)."""
    if input.array.ndim != 1 or other.array.ndim != 1:
        raise ValueError(
            f"[dot] expected 1-d tensors, got shapes {tuple(input.shape)} and {tuple(other.shape)}"
        )
    if input.shape != other.shape:
        raise ValueError(
            f"[dot] tensors must have the same length, got {input.shape[0]} and {other.shape[0]}"
        )
    return MatmulFn.apply(input, other)


inner = dot


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Product of a 2-d tensor and a 1-d tensor."""
    if input.array.ndim != 2 or vec.array.ndim != 1:
        raise ValueError(
            f"[mv] expected a 2-d and a 1-d tensor, got shapes {tuple(input.shape)} "
            f"and {tuple(vec.shape)}"
        )
    return MatmulFn.apply(input, vec)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """input[i] * vec2[j] for two 1-d tensors."""
    if input.array.ndim != 1 or vec2.array.ndim != 1:
        raise ValueError("[outer] expected two 1-d tensors")
    return mul(unsqueeze(input, 1), unsqueeze(vec2, 0))

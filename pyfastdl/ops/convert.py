"""dtype and device changes with autograd (``Tensor.to`` / ``.float()`` / ``.cuda()``), and clone.

A cast between floating dtypes is differentiable (the gradient is cast back); casts to integer
or bool types cut the graph, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function
from ..dtypes import check_dtype
from ..tensor import Tensor
from ._util import wrap, xp

__all__ = ["cast", "clone", "to_device"]


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.dtype), None


def cast(input: Tensor, dtype: Any) -> Tensor:
    """`input` converted to `dtype` (itself when it already has it).

    Example:
        >>> import pyfastdl as fd
        >>> fd.ops.cast(fd.tensor([1.5]), fd.float64).dtype
        dtype('float64')
    """
    dt = check_dtype(dtype, "to")
    a = input.array
    if a.dtype == dt:
        return input
    if dt.kind not in "fc":
        return wrap(a.astype(dt))
    return Cast.apply(input, dt)


class ToDevice(Function):
    @staticmethod
    def forward(ctx, a, kind):
        ctx.kind = "cpu" if type(a) is np.ndarray else "cuda"
        return _move(a, kind)

    @staticmethod
    def backward(ctx, g):
        return _move(g, ctx.kind), None


def _move(a: Any, kind: str) -> Any:
    if kind == "cpu":
        return a if type(a) is np.ndarray else a.get()
    if type(a) is not np.ndarray:
        return a
    try:
        import cupy
    except ImportError:
        raise RuntimeError(
            "[to] CUDA is not available: install CuPy and build pyfastdl with CUDA "
            "to use device='cuda'"
        ) from None
    return cupy.asarray(a)


def to_device(input: Tensor, device: str) -> Tensor:
    """`input` on `device` ('cpu' or 'cuda'); differentiable (the gradient moves back)."""
    if device not in ("cpu", "cuda"):
        raise RuntimeError(f"[to] expected device 'cpu' or 'cuda', got {device!r}")
    if (device == "cpu") == (type(input.array) is np.ndarray):
        return input
    return ToDevice.apply(input, device)


class Clone(Function):
    @staticmethod
    def forward(ctx, a):
        return (
            xp(a).array(a, copy=True, order="K") if type(a) is not np.ndarray else a.copy(order="K")
        )

    @staticmethod
    def backward(ctx, g):
        return g


def clone(input: Tensor) -> Tensor:
    """A copy of `input` with its own memory; gradients flow back to `input`."""
    return Clone.apply(input)

"""dtype and device changes with autograd (``Tensor.to`` / ``.float()`` / ``.cuda()``), and clone.

A cast between floating dtypes is differentiable (the gradient is cast back); casts to integer
or bool types cut the graph, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..arrays import to_gpu, to_host, xp
from ..autograd import Function
from ..dtypes import check_dtype
from ..tensor import (
    CHANNELS_LAST_ORDER,
    Tensor,
    contiguous_format,
    memory_format,
    preserve_format,
)
from ..tensor import device as _device
from ._util import wrap

__all__ = ["cast", "clone", "to_device"]  # and Tensor.to, a method only


class LayoutFn(Function):
    """A copy of the array with its elements in memory in `order` (outermost dim first)."""

    @staticmethod
    def forward(ctx, a, order):
        m = xp(a)
        if order is None:
            return m.ascontiguousarray(a)
        inverse = tuple(int(i) for i in np.argsort(order))
        return m.ascontiguousarray(a.transpose(order)).transpose(inverse)

    @staticmethod
    def backward(ctx, g):
        return g, None


def with_memory_format(input: Tensor, fmt: Any, op: str) -> Tensor:
    """`input` laid out as `fmt` (itself when it already is): contiguous_format is C order,
    channels_last stores a 4-d (N, C, H, W) tensor as N, H, W, C (5-d: channels_last_3d)."""
    if not isinstance(fmt, memory_format):
        raise TypeError(
            f"[{op}] memory_format must be a pyfastdl memory format, got {type(fmt).__name__}"
        )
    if fmt is preserve_format or input.is_contiguous(fmt):
        return input
    if fmt is contiguous_format:
        return LayoutFn.apply(input, None)
    order = CHANNELS_LAST_ORDER[fmt]
    if input.array.ndim != len(order):
        raise RuntimeError(
            f"[{op}] required rank {len(order)} tensor to use {fmt!r} format, got "
            f"{input.array.ndim} dims"
        )
    return LayoutFn.apply(input, order)


class CastFn(Function):
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
    return CastFn.apply(input, dt)


class ToDeviceFn(Function):
    @staticmethod
    def forward(ctx, a, device):
        ctx.back = _device("cpu") if isinstance(a, np.ndarray) else _device("cuda", a.device.id)
        return _move(a, device)

    @staticmethod
    def backward(ctx, g):
        return _move(g, ctx.back), None


def _move(a: Any, device: _device) -> Any:
    """Array `a` on `device` (the move to the GPU through ``arrays.to_gpu``: a clear error
    without CuPy or a GPU)."""
    if device.type == "cpu":
        return to_host(a)
    return to_gpu(a, "to", device.index)


def to_device(input: Tensor, device: Any) -> Tensor:
    """`input` on `device` ('cpu', 'cuda', 'cuda:N' or a device), itself when it is there;
    differentiable (the gradient moves back)."""
    d = _device(device)
    if d.type == "cpu":
        if isinstance(input.array, np.ndarray):
            return input
    elif not isinstance(input.array, np.ndarray) and (
        d.index is None or d.index == input.get_device()
    ):
        return input
    return ToDeviceFn.apply(input, d)


class CloneFn(Function):
    @staticmethod
    def forward(ctx, a):
        return (
            xp(a).array(a, copy=True, order="K") if type(a) is not np.ndarray else a.copy(order="K")
        )

    @staticmethod
    def backward(ctx, g):
        return g


def clone(input: Tensor, *, memory_format: Any = preserve_format) -> Tensor:
    """A copy of `input` with its own memory (in the same layout, or `memory_format`); gradients
    flow back to `input`."""
    out = CloneFn.apply(input)
    if memory_format is not preserve_format:
        out = with_memory_format(out, memory_format, "clone")
    return out


def to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """Returns a tensor on another device and/or of another dtype (self when nothing changes):
    ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other_tensor)`` (its device and
    dtype), with keywords ``device``, ``dtype``, ``non_blocking`` (accepted; copies are
    synchronous), ``copy`` (a new tensor even when nothing changes) and ``memory_format``. A
    device is 'cpu', 'cuda', 'cuda:N', an index (GPU N) or a device object (``torch.device``
    too); without CuPy or a GPU, moving to 'cuda' raises ``[to] CUDA is not available: ...``.

    Example:
        >>> import pyfastdl as fd
        >>> x = fd.ones(2)
        >>> x.to("cpu") is x, x.to("cpu", fd.float64).dtype, x.to(x, copy=True) is x
        (True, dtype('float64'), False)
    """
    dev = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    copy = kwargs.pop("copy", False)
    fmt = kwargs.pop("memory_format", preserve_format)
    if kwargs:
        raise TypeError(f"[to] unexpected arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dev, dtype = a.device, a.dtype
        elif isinstance(a, (int, np.integer)) and not isinstance(a, bool):
            dev = _device(a)  # an index: that GPU
        elif isinstance(a, _device) or type(a).__name__ == "device":  # torch.device too
            dev = a
        elif isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda"):
            dev = a
        elif isinstance(a, str) and not _is_dtype_name(a):
            raise RuntimeError(
                f"[to] unknown device or dtype '{a}': expected a device ('cpu', 'cuda', "
                "'cuda:0') or a dtype"
            )
        else:
            dtype = a
    out = self
    if dtype is not None:
        out = cast(out, check_dtype(dtype, "to"))
    if dev is not None:
        out = to_device(out, dev)
    if fmt is not preserve_format:
        out = with_memory_format(out, fmt, "to")
    if copy and out is self:
        out = clone(self)
    return out


def _is_dtype_name(name: str) -> bool:
    """Whether `name` names a dtype ('float32', 'float', 'int64', ...)."""
    try:
        check_dtype(name, "to")
    except TypeError:
        return False
    return True

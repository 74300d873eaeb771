"""nn.functional: max/avg/adaptive pooling, pixel_shuffle/unshuffle, interpolate.

Each op is one autograd Function over the kernels of the pooling family (``kernels.get`` per
call, so overrides and float64 -- the NumPy reference -- apply). Inputs are NCHW (N, C, H, W) or
unbatched (C, H, W), as in PyTorch; parameters are checked once here, with the messages of the
reference's geometry helpers.

Which kernels are native: max/avg pooling forward and backward, adaptive average and max
pooling (adaptive max's backward is the max-pool scatter). The upsampling kernels run as
vectorised NumPy references (gathers and two small matrix products per plane, on par with
PyTorch's CPU kernels); pixel (un)shuffle is a reshape + transpose copy, no kernel.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from ... import kernels
from ...arrays import empty, xp
from ...autograd import Function, is_grad_enabled
from ...ops.shape import reshape, transpose
from ...shapes import (
    pool2d_geometry,
    pool2d_params,
    upsample_output_size,
)
from ...tensor import Tensor
from ._args import check_float, tensor_arg

__all__ = [
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "adaptive_max_pool2d_with_indices",
    "avg_pool2d",
    "channel_shuffle",
    "interpolate",
    "max_pool2d",
    "max_pool2d_with_indices",
    "pixel_shuffle",
    "pixel_unshuffle",
]


def _image(input: Any, op: str, spatial: tuple = ("H", "W")) -> Tensor:
    """A float (C, *spatial) or (N, C, *spatial) Tensor with non-zero C and spatial sizes
    (PyTorch's rule); the 1-d pools pass spatial ("L",)."""
    input = tensor_arg(input, op)
    check_float(input.array, op)
    shape = tuple(input.shape)
    n = len(spatial)
    if len(shape) not in (n + 1, n + 2) or 0 in shape[-n - 1 :]:
        dims = ", ".join(("C",) + spatial)
        nonzero = ", ".join(("C",) + spatial[:-1]) + f" and {spatial[-1]}"
        raise ValueError(
            f"[{op}] expected a {n + 1}-d ({dims}) or {n + 2}-d (N, {dims}) input with non-zero "
            f"{nonzero}, got shape {shape}"
        )
    return input


def _batched(a: Any) -> Any:
    """A 4-d view of a (C, H, W) or (N, C, H, W) array."""
    return a if a.ndim == 4 else a.reshape((1,) + a.shape)


def _like(a4: Any, ndim: int) -> Any:
    """A 4-d result back in the input's rank (drops the batch dim of unbatched inputs)."""
    return a4 if ndim == 4 else a4.reshape(a4.shape[1:])


# -------------------------------------------------------------------------------- max pool
class MaxPool2dFn(Function):
    """max_pool2d; `indices` (int64, or None when neither returned nor needed) is filled."""

    @staticmethod
    def forward(ctx, x, indices, params):
        x4 = _batched(x)
        k, s, p, d, out_hw, ceil_mode = params
        out = empty(x4.shape[:2] + out_hw, x.dtype, x)
        kernels.for_array("max_pool2d_forward", x4)(x4, out, indices, k, s, p, d, ceil_mode)
        ctx.indices, ctx.shape = indices, x.shape
        return _like(out, x.ndim)

    @staticmethod
    def backward(ctx, g):
        g4 = _batched(g)
        gx = empty(g4.shape[:2] + tuple(ctx.shape[-2:]), g4.dtype, g4)
        kernels.for_array("max_pool2d_backward", g4)(g4, ctx.indices, gx)
        return _like(gx, len(ctx.shape)), None


def max_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """2-d max pooling over (N, C, H, W) or (C, H, W) input.

    The window of output (oh, ow) starts at (oh * stride - padding) and takes every `dilation`-th
    element of a kernel_size window; padding (at most half the kernel) never wins. With
    ``return_indices`` also returns the int64 flat index h * W + w of each maximum in its plane.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> x = fd.tensor([[[[1.0, 2.0], [4.0, 3.0]]]])
        >>> y, i = F.max_pool2d(x, 2, return_indices=True)
        >>> y.tolist(), i.tolist()
        ([[[[4.0]]]], [[[[2]]]])
    """
    op = "max_pool2d"
    input = _image(input, op)
    k, s, p, d, out_hw = pool2d_geometry(
        op, tuple(input.shape), kernel_size, stride, padding, dilation, ceil_mode
    )
    x = input.array
    shape4 = _batched(x).shape[:2] + out_hw
    need = return_indices or (input.requires_grad and is_grad_enabled())
    indices = empty(shape4, np.int64, x) if need else None
    out = MaxPool2dFn.apply(input, indices, params=(k, s, p, d, out_hw, bool(ceil_mode)))
    if return_indices:
        return out, Tensor(_like(indices, x.ndim))
    return out


def max_pool2d_with_indices(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = True,
) -> Any:
    """max_pool2d that returns (output, indices)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# -------------------------------------------------------------------------------- avg pool
class AvgPool2dFn(Function):
    @staticmethod
    def forward(ctx, x, params):
        x4 = _batched(x)
        k, s, p, out_hw, ceil_mode, count_include_pad, divisor = params
        out = empty(x4.shape[:2] + out_hw, x.dtype, x)
        kernels.for_array("avg_pool2d_forward", x4)(
            x4, out, k, s, p, ceil_mode, count_include_pad, divisor
        )
        ctx.params, ctx.shape = params, x.shape
        return _like(out, x.ndim)

    @staticmethod
    def backward(ctx, g):
        k, s, p, _, ceil_mode, count_include_pad, divisor = ctx.params
        g4 = _batched(g)
        gx = empty(g4.shape[:2] + tuple(ctx.shape[-2:]), g4.dtype, g4)
        kernels.for_array("avg_pool2d_backward", g4)(
            g4, gx, k, s, p, ceil_mode, count_include_pad, divisor
        )
        return _like(gx, len(ctx.shape)), None


def _divisor(value: Any, op: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"[{op}] divisor_override must be an int or None, got {value!r}")
    if value == 0:
        raise ValueError(f"[{op}] divisor_override must be non-zero, got 0")
    return operator.index(value)


def avg_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """2-d average pooling over (N, C, H, W) or (C, H, W) input.

    Each window's sum is divided by `divisor_override` if given, else by the window's size
    counting the zero padding (``count_include_pad``) or only the input elements.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.avg_pool2d(fd.tensor([[[[1.0, 2.0], [4.0, 3.0]]]]), 2).tolist()
        [[[[2.5]]]]
    """
    op = "avg_pool2d"
    input = _image(input, op)
    divisor = _divisor(divisor_override, op)
    k, s, p, _, out_hw = pool2d_geometry(
        op, tuple(input.shape), kernel_size, stride, padding, 1, ceil_mode
    )
    params = (k, s, p, out_hw, bool(ceil_mode), bool(count_include_pad), divisor)
    return AvgPool2dFn.apply(input, params=params)


# ---------------------------------------------------------------------------- adaptive pool
def _adaptive_size(output_size: Any, shape: tuple, op: str) -> tuple[int, int]:
    """(OH, OW) from an int or a pair whose None entries keep the input's size."""
    items = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    if len(items) != 2:
        raise ValueError(f"[{op}] output_size must be an int or a pair, got {output_size!r}")
    sizes = []
    for item, size in zip(items, shape[-2:]):
        if item is None:
            sizes.append(int(size))
            continue
        if isinstance(item, bool) or not isinstance(item, (int, np.integer)):
            raise TypeError(f"[{op}] output_size must hold ints or None, got {output_size!r}")
        if item < 1:
            raise ValueError(f"[{op}] output_size must be positive, got {output_size!r}")
        sizes.append(int(item))
    return sizes[0], sizes[1]


class AdaptiveAvgPool2dFn(Function):
    @staticmethod
    def forward(ctx, x, out_hw):
        x4 = _batched(x)
        out = empty(x4.shape[:2] + out_hw, x.dtype, x)
        kernels.for_array("adaptive_avg_pool2d_forward", x4)(x4, out)
        ctx.shape = x.shape
        return _like(out, x.ndim)

    @staticmethod
    def backward(ctx, g):
        g4 = _batched(g)
        gx = empty(g4.shape[:2] + tuple(ctx.shape[-2:]), g4.dtype, g4)
        kernels.for_array("adaptive_avg_pool2d_backward", g4)(g4, gx)
        return _like(gx, len(ctx.shape)), None


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average over adaptive windows: output (oh, ow) averages rows floor(oh*H/OH) to
    ceil((oh+1)*H/OH) and the same for columns. `output_size` entries of None keep the input's.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.adaptive_avg_pool2d(fd.ones(1, 3, 5, 7), 1).shape
        (1, 3, 1, 1)
    """
    op = "adaptive_avg_pool2d"
    input = _image(input, op)
    return AdaptiveAvgPool2dFn.apply(input, _adaptive_size(output_size, tuple(input.shape), op))


class AdaptiveMaxPool2dFn(MaxPool2dFn):
    """adaptive_max_pool2d; the backward is max_pool2d's (a scatter through the argmax indices)."""

    @staticmethod
    def forward(ctx, x, indices):
        x4 = _batched(x)
        out = empty(indices.shape, x.dtype, x)
        kernels.for_array("adaptive_max_pool2d_forward", x4)(x4, out, indices)
        ctx.indices, ctx.shape = indices, x.shape
        return _like(out, x.ndim)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max over the adaptive windows of :func:`adaptive_avg_pool2d`; with ``return_indices``
    also the int64 flat index h * W + w of each maximum.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.adaptive_max_pool2d(fd.tensor([[[1.0, 5.0], [2.0, 3.0]]]), 1).tolist()
        [[[5.0]]]
    """
    op = "adaptive_max_pool2d"
    input = _image(input, op)
    x = input.array
    out_hw = _adaptive_size(output_size, tuple(input.shape), op)
    indices = empty(_batched(x).shape[:2] + out_hw, np.int64, x)
    out = AdaptiveMaxPool2dFn.apply(input, indices)
    if return_indices:
        return out, Tensor(_like(indices, x.ndim))
    return out


def adaptive_max_pool2d_with_indices(
    input: Tensor, output_size: Any, return_indices: bool = True
) -> Any:
    """adaptive_max_pool2d that returns (output, indices)."""
    return adaptive_max_pool2d(input, output_size, True)


# ---------------------------------------------------------------------------- pixel shuffle
def _shuffle(a: Any, r: int) -> Any:
    """(*, C * r * r, H, W) -> (*, C, H * r, W * r): channel c * r * r + i * r + j goes to
    sub-pixel (i, j) of the r x r block."""
    *b, c, h, w = a.shape
    nb = len(b)
    y = a.reshape(*b, c // (r * r), r, r, h, w)
    y = y.transpose(*range(nb), nb, nb + 3, nb + 1, nb + 4, nb + 2)
    return xp(a).ascontiguousarray(y).reshape(*b, c // (r * r), h * r, w * r)


def _unshuffle(a: Any, r: int) -> Any:
    """The inverse of :func:`_shuffle`: (*, C, H * r, W * r) -> (*, C * r * r, H, W)."""
    *b, c, hr, wr = a.shape
    nb = len(b)
    y = a.reshape(*b, c, hr // r, r, wr // r, r)
    y = y.transpose(*range(nb), nb, nb + 2, nb + 4, nb + 1, nb + 3)
    return xp(a).ascontiguousarray(y).reshape(*b, c * r * r, hr // r, wr // r)


class PixelShuffleFn(Function):
    @staticmethod
    def forward(ctx, x, r, inverse):
        ctx.r, ctx.inverse = r, inverse
        return _unshuffle(x, r) if inverse else _shuffle(x, r)

    @staticmethod
    def backward(ctx, g):
        return (_shuffle(g, ctx.r) if ctx.inverse else _unshuffle(g, ctx.r)), None, None


def _factor(value: Any, op: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"[{op}] {name} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"[{op}] {name} must be a positive int, got {value}")
    return operator.index(value)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r), r = upscale_factor (sub-pixel convolution's
    rearrangement).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.pixel_shuffle(fd.arange(4.0).reshape(1, 4, 1, 1), 2).tolist()
        [[[[0.0, 1.0], [2.0, 3.0]]]]
    """
    op = "pixel_shuffle"
    input = tensor_arg(input, op)
    r = _factor(upscale_factor, op, "upscale_factor")
    shape = tuple(input.shape)
    if len(shape) < 3:
        raise ValueError(f"[{op}] input must have at least 3 dims (*, C, H, W), got shape {shape}")
    if shape[-3] % (r * r):
        raise ValueError(
            f"[{op}] the number of input channels ({shape[-3]}) must be divisible by "
            f"upscale_factor^2 = {r * r}"
        )
    return PixelShuffleFn.apply(input, r, False)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W), the inverse of :func:`pixel_shuffle`
    (the invertible "squeeze" that trades resolution for channels).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.pixel_unshuffle(fd.arange(4.0).reshape(1, 1, 2, 2), 2).flatten().tolist()
        [0.0, 1.0, 2.0, 3.0]
    """
    op = "pixel_unshuffle"
    input = tensor_arg(input, op)
    r = _factor(downscale_factor, op, "downscale_factor")
    shape = tuple(input.shape)
    if len(shape) < 3:
        raise ValueError(f"[{op}] input must have at least 3 dims (*, C, H, W), got shape {shape}")
    if shape[-2] % r or shape[-1] % r:
        raise ValueError(
            f"[{op}] the height and width ({shape[-2]}, {shape[-1]}) must be divisible by "
            f"downscale_factor = {r}"
        )
    return PixelShuffleFn.apply(input, r, True)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """Interleaves the channels of (N, C, *) input: (N, g, C/g, *) -> (N, C/g, g, *) -> (N, C, *)
    (ShuffleNet's mixing of grouped-convolution outputs).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.channel_shuffle(fd.arange(4.0).reshape(1, 4, 1), 2).flatten().tolist()
        [0.0, 2.0, 1.0, 3.0]
    """
    op = "channel_shuffle"
    input = tensor_arg(input, op)
    g = _factor(groups, op, "groups")
    shape = tuple(input.shape)
    if len(shape) < 3:
        raise ValueError(f"[{op}] input must have at least 3 dims (N, C, *), got shape {shape}")
    if shape[1] % g:
        raise ValueError(
            f"[{op}] the number of channels ({shape[1]}) must be divisible by groups = {g}"
        )
    split = reshape(input, (shape[0], g, shape[1] // g) + shape[2:])
    return reshape(transpose(split, 1, 2), shape)


# ------------------------------------------------------------------------------ interpolate
_MODES = {"nearest": 0, "nearest-exact": 0, "linear": 1, "bilinear": 2}


class Upsample2dFn(Function):
    """Nearest or bilinear resampling of (N, C, H, W) arrays to (N, C, OH, OW)."""

    @staticmethod
    def forward(ctx, x, mode, out_hw, scales, align_corners):
        out = empty(x.shape[:2] + out_hw, x.dtype, x)
        ctx.args = (mode, scales, align_corners, x.shape)
        if mode == "bilinear":
            kernels.for_array("upsample_bilinear2d_forward", x)(x, out, align_corners, *scales)
        else:
            kernels.for_array("upsample_nearest2d_forward", x)(
                x, out, *scales, mode == "nearest-exact"
            )
        return out

    @staticmethod
    def backward(ctx, g):
        mode, scales, align_corners, shape = ctx.args
        gx = empty(shape, g.dtype, g)
        if mode == "bilinear":
            kernels.for_array("upsample_bilinear2d_backward", g)(g, gx, align_corners, *scales)
        else:
            kernels.for_array("upsample_nearest2d_backward", g)(
                g, gx, *scales, mode == "nearest-exact"
            )
        return gx, None, None, None, None


def _per_dim(value: Any, n: int, op: str, name: str, kind: type) -> tuple:
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(items) != n:
        raise ValueError(f"[{op}] {name} must have {n} entries for {n} spatial dims, got {value!r}")
    for v in items:
        ok = isinstance(v, (int, np.integer)) if kind is int else isinstance(v, (int, float))
        if isinstance(v, bool) or not (ok or isinstance(v, np.number)):
            raise TypeError(f"[{op}] {name} must hold numbers, got {value!r}")
    return tuple(kind(v) for v in items)


def interpolate(
    input: Tensor,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resamples (N, C, L) or (N, C, H, W) input to `size` or by `scale_factor` (PyTorch's rules).

    Modes: 'nearest' and 'nearest-exact' (3-d or 4-d input), 'linear' (3-d), 'bilinear' (4-d),
    with ``align_corners`` for the linear modes. Given a scale factor, the output size is
    floor(size * scale_factor) and the source positions use the scale factor itself, unless
    ``recompute_scale_factor`` (then they use input size / output size).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.interpolate(fd.tensor([[[1.0, 2.0]]]), scale_factor=2).tolist()
        [[[1.0, 1.0, 2.0, 2.0]]]
    """
    op = "interpolate"
    input = tensor_arg(input, op)
    check_float(input.array, op)
    if mode not in _MODES:
        raise ValueError(
            f"[{op}] mode must be one of 'nearest', 'nearest-exact', 'linear', 'bilinear', "
            f"got {mode!r}"
        )
    shape = tuple(input.shape)
    if len(shape) not in (3, 4):
        raise ValueError(
            f"[{op}] expected a 3-d (N, C, L) or 4-d (N, C, H, W) input, got shape {shape}"
        )
    dims = len(shape) - 2
    if _MODES[mode] and _MODES[mode] != dims:
        raise ValueError(
            f"[{op}] got a {len(shape)}-d input, but mode {mode!r} needs a "
            f"{_MODES[mode] + 2}-d input"
        )
    if mode.startswith("nearest"):
        if align_corners is not None:
            raise ValueError(
                f"[{op}] align_corners can only be set with the linear modes, got mode {mode!r}"
            )
    align = bool(align_corners)
    if antialias:
        raise ValueError(f"[{op}] antialias=True is not supported")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"[{op}] exactly one of size and scale_factor must be given")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(
                f"[{op}] recompute_scale_factor is not meaningful with an explicit size"
            )
        out = _per_dim(size, dims, op, "size", int)
        scales: tuple = (None,) * dims
    else:
        factors = _per_dim(scale_factor, dims, op, "scale_factor", float)
        if any(not math.isfinite(f) or f <= 0 for f in factors):
            raise ValueError(
                f"[{op}] scale_factor must be positive and finite, got {scale_factor!r}"
            )
        out = tuple(upsample_output_size(n, f) for n, f in zip(shape[2:], factors))
        scales = (None,) * dims if recompute_scale_factor else factors
    if min(out) < 1 or 0 in shape:
        raise ValueError(
            f"[{op}] input and output sizes must be greater than 0: input {shape}, output "
            f"size {out}"
        )
    if dims == 1:  # a (N, C, L) signal is a (N, C, 1, L) image that keeps its height
        kmode = "bilinear" if mode == "linear" else mode
        n, c, length = shape
        y = Upsample2dFn.apply(
            input.reshape(n, c, 1, length), kmode, (1,) + out, (None,) + scales, align
        )
        return y.reshape(n, c, out[0])
    return Upsample2dFn.apply(input, mode, out, scales, align)


# The layers' constructors check their parameters with the same helpers.
check_pool_params = pool2d_params

"""nn.functional: conv2d, conv_transpose2d, pad.

Both convolutions run on three kernels of the registry (``conv2d_forward``,
``conv2d_backward_input``, ``conv2d_backward_weight``; see kernels/reference/_conv2d.py):

    conv2d            forward: conv2d_forward (bias in the kernel)
                      backward: dx = conv2d_backward_input(g, w), dw = conv2d_backward_weight(x, g),
                      db = sum of g over (N, H, W)
    conv_transpose2d  forward: y = conv2d_backward_input(x, w) (+ bias), y of the requested
                      size (output_padding makes it larger than conv2d's input would be)
                      backward: dx = conv2d_forward(g, w), dw = conv2d_backward_weight(g, x)

Arguments are checked once, here, with PyTorch's rules; the kernels get (h, w) pairs.
``padding='same'`` with an even (dilated) kernel pads one more row/column at the end, as PyTorch
does: that extra zero border goes through :func:`pad`.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ..autograd import Function
from ..kernels.reference._conv2d import conv2d_output_size
from ..ops._gemm import empty
from ..ops._util import xp
from ..ops.shape import reshape
from ..tensor import Tensor
from ._functional_softmax import kernel

__all__ = ["conv2d", "conv2d_act", "conv_transpose2d", "pad"]

PAD_MODES = ("constant", "reflect", "replicate", "circular")


# ------------------------------------------------------------------------------ argument checks
def _int(value: Any, name: str, op: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"[{op}] {name} must be an int or a pair of ints, got {value!r}")
    return operator.index(value)


def pair(value: Any, name: str, op: str, minimum: int) -> tuple[int, int]:
    """`value` (an int, or a sequence of 1 or 2 ints) as an (h, w) pair, each >= minimum."""
    if type(value) is int and value >= minimum:  # the common case first: a plain int
        return (value, value)
    if isinstance(value, (tuple, list)):
        if len(value) not in (1, 2):
            raise ValueError(f"[{op}] {name} must be an int or a pair of ints, got {value!r}")
        values = tuple(_int(v, name, op) for v in value)
        p = values * 2 if len(values) == 1 else values
    else:
        p = (_int(value, name, op),) * 2
    if min(p) < minimum:
        what = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"[{op}] {name} must be {what}, got {value!r}")
    return p  # type: ignore[return-value]


def _groups(groups: Any, op: str) -> int:
    if type(groups) is int and groups >= 1:
        return groups
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)):
        raise TypeError(f"[{op}] groups must be an int, got {groups!r}")
    if groups < 1:
        raise ValueError(f"[{op}] groups must be positive, got {groups}")
    return int(groups)


def _tensor(x: Any, op: str, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"[{op}] {name} must be a Tensor, got {type(x).__name__}")
    return x


def _check_operands(input: Any, weight: Any, bias: Any, op: str, layout: str) -> None:
    """Types, ranks and dtypes of input (3 or 4 dims), weight (4 dims) and bias (1 dim)."""
    _tensor(input, op, "input")
    _tensor(weight, op, "weight")
    if bias is not None:
        _tensor(bias, op, "bias")
    if weight.ndim != 4:
        raise ValueError(f"[{op}] weight must have 4 dims {layout}, got shape {weight.shape}")
    if input.ndim not in (3, 4):
        raise ValueError(
            f"[{op}] input must have 3 dims (C, H, W) or 4 dims (N, C, H, W), got shape "
            f"{input.shape}"
        )
    dt = weight.array.dtype
    if input.array.dtype.kind != "f" or input.array.dtype != dt:
        raise TypeError(
            f"[{op}] input and weight must be floating-point of one dtype, got input "
            f"{input.array.dtype} and weight {dt}"
        )
    if bias is not None and bias.array.dtype != dt:
        raise TypeError(f"[{op}] bias must have the weight's dtype {dt}, got {bias.array.dtype}")


def _check_bias(bias: Any, channels: int, op: str) -> None:
    if bias is not None and bias.shape != (channels,):
        raise ValueError(f"[{op}] bias must have shape ({channels},), got {bias.shape}")


def _batched(input: Tensor) -> tuple[Tensor, bool]:
    """(N, C, H, W) input; True if it was unbatched (C, H, W)."""
    if input.ndim == 3:
        return reshape(input, (1,) + input.shape), True
    return input, False


def _unbatched(out: Tensor, was_unbatched: bool) -> Tensor:
    return reshape(out, out.shape[1:]) if was_unbatched else out


# -------------------------------------------------------------------------------------- conv2d
def _channel_sums(g):
    """Sum of g (N, C, H, W) over N, H, W: the bias gradient. NumPy's einsum streams the array
    once with vector accumulators (2.7x faster than ``g.sum(axis=(0, 2, 3))`` on 64x64x32x32)."""
    if isinstance(g, np.ndarray):
        return np.einsum("nchw->c", g)
    return g.sum(axis=(0, 2, 3))


def _contiguous_grad(g, dtype):
    """The output gradient as a C-contiguous array of `dtype`: a strided one (e.g. the broadcast
    gradient of a sum) is copied once here rather than once in each kernel that reads it."""
    return xp(g).ascontiguousarray(g, dtype=dtype)


class Conv2d(Function):
    """act(conv2d(x, w) + b) on (N, C, H, W) arrays; params are (h, w) pairs."""

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation, groups, activation="none"):
        n, _, h, w_ = x.shape
        kh, kw = w.shape[2:]
        oh = conv2d_output_size(h, kh, stride[0], padding[0], dilation[0])
        ow = conv2d_output_size(w_, kw, stride[1], padding[1], dilation[1])
        out = empty((n, w.shape[0], oh, ow), x.dtype, x)
        params = (stride, padding, dilation, groups)
        kernel("conv2d_forward", x)(x, w, b, out, *params, activation)
        ctx.save_for_backward(x, w, out if activation == "relu" else None)
        ctx.params = params
        ctx.has_bias = b is not None
        return out

    @staticmethod
    def backward(ctx, g):
        x, w, y = ctx.saved_tensors
        if y is not None:  # the ReLU mask's product is the one copy
            g = g.astype(x.dtype, copy=False) * (y > 0)
        else:
            g = _contiguous_grad(g, x.dtype)
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            dx = empty(x.shape, x.dtype, x)
            kernel("conv2d_backward_input", g)(g, w, dx, *ctx.params)
        if ctx.needs_input_grad[1]:
            dw = empty(w.shape, w.dtype, w)
            kernel("conv2d_backward_weight", x)(x, g, dw, *ctx.params)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = _channel_sums(g)
        return dx, dw, db


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation) of NCHW `input` with OIHW `weight` (O, C/groups, kH, kW).

    `padding` is an int, an (h, w) pair, 'valid' (none) or 'same' (output size = input size,
    stride 1 only). Unbatched (C, H, W) input gives unbatched output.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.conv2d(fd.ones(1, 1, 3, 3), fd.ones(1, 1, 2, 2)).tolist()
        [[[[4.0, 4.0], [4.0, 4.0]]]]
        >>> F.conv2d(fd.ones(2, 3, 8, 8), fd.ones(4, 3, 3, 3), padding="same").shape
        (2, 4, 8, 8)
    """
    return conv2d_act(input, weight, bias, stride, padding, dilation, groups, "none")


def conv2d_act(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    activation: str = "relu",
) -> Tensor:
    """act(conv2d(...)) with the activation ('none' or 'relu') in the kernel's GEMM epilogue.

    A pyfastdl extension (like ``linear_act``): the ReLU's derivative follows from the output,
    so the pre-activation is never stored.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.conv2d_act(fd.ones(1, 1, 2, 2), -fd.ones(1, 1, 1, 1)).tolist()
        [[[[0.0, 0.0], [0.0, 0.0]]]]
    """
    op = "conv2d"
    if activation not in ("none", "relu"):
        raise ValueError(f"[conv2d_act] activation must be 'none' or 'relu', got {activation!r}")
    _check_operands(input, weight, bias, op, "(O, C/groups, kH, kW)")
    s = pair(stride, "stride", op, 1)
    d = pair(dilation, "dilation", op, 1)
    groups = _groups(groups, op)
    out_ch, in_per_group, kh, kw = weight.shape
    channels = input.shape[-3]
    if out_ch % groups:
        raise ValueError(
            f"[{op}] groups={groups} must divide the out channels, got weight shape {weight.shape}"
        )
    if channels != in_per_group * groups:
        raise ValueError(
            f"[{op}] expected input with {in_per_group * groups} channels (weight shape "
            f"{weight.shape}, groups={groups}), got {channels} channels (input shape "
            f"{input.shape})"
        )
    _check_bias(bias, out_ch, op)
    input, was_unbatched = _batched(input)
    p, extra = _padding(padding, s, d, (kh, kw), op)
    if extra != (0, 0):  # 'same' with an even dilated kernel: one more row/col at the end
        input = pad(input, (0, extra[1], 0, extra[0]))
    h, w = input.shape[2:]
    oh = conv2d_output_size(h, kh, s[0], p[0], d[0])
    ow = conv2d_output_size(w, kw, s[1], p[1], d[1])
    if oh < 1 or ow < 1:
        raise ValueError(
            f"[{op}] kernel size {(kh, kw)} with dilation {d} is larger than the padded input "
            f"size {(h + 2 * p[0], w + 2 * p[1])}: the output would have size {(oh, ow)}"
        )
    out = Conv2d.apply(input, weight, bias, s, p, d, groups, activation=activation)
    return _unbatched(out, was_unbatched)


def _padding(padding: Any, stride: tuple, dilation: tuple, kernel_size: tuple, op: str):
    """(symmetric padding pair, extra rows/cols at the end) for an int, pair, 'same' or 'valid'."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding != "same":
            raise ValueError(
                f"[{op}] padding must be an int, a pair, 'same' or 'valid', got {padding!r}"
            )
        if stride != (1, 1):
            raise ValueError(f"[{op}] padding='same' is not supported for strided convolutions")
        total = [dl * (k - 1) for dl, k in zip(dilation, kernel_size)]
        left = (total[0] // 2, total[1] // 2)
        return left, (total[0] - 2 * left[0], total[1] - 2 * left[1])
    return pair(padding, "padding", op, 0), (0, 0)


# ---------------------------------------------------------------------------- conv_transpose2d
class ConvTranspose2d(Function):
    """conv_transpose2d(x, w) + b on (N, C_in, H, W) arrays, w (C_in, C_out/groups, kH, kW).

    The output (size `size`) is the input gradient of a conv2d whose output would have
    (OH, OW) = conv2d_output_size(size); that is (H, W) unless output_padding >= stride (allowed
    when smaller than the dilation), and then x is extended with zero rows/cols to (OH, OW).
    """

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation, groups, size):
        n, _, h, w_ = x.shape
        c_out = w.shape[1] * groups
        params = (stride, padding, dilation, groups)
        reach = tuple(
            conv2d_output_size(o, k, s, p, dl)
            for o, k, s, p, dl in zip(size, w.shape[2:], stride, padding, dilation)
        )
        if reach != (h, w_):
            ext = xp(x).zeros((n, x.shape[1]) + reach, x.dtype)
            ext[:, :, :h, :w_] = x
            x = ext
        out = empty((n, c_out) + tuple(size), x.dtype, x)
        kernel("conv2d_backward_input", x)(x, w, out, *params)
        if b is not None:
            out += b.reshape(1, -1, 1, 1)
        ctx.save_for_backward(x, w)
        ctx.params, ctx.in_size, ctx.has_bias = params, (h, w_), b is not None
        return out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        g = _contiguous_grad(g, x.dtype)
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            dx = empty(x.shape, x.dtype, x)
            kernel("conv2d_forward", g)(g, w, None, dx, *ctx.params, "none")
            h, w_ = ctx.in_size
            if dx.shape[2:] != (h, w_):
                dx = dx[:, :, :h, :w_].copy()
        if ctx.needs_input_grad[1]:
            dw = empty(w.shape, w.dtype, w)
            kernel("conv2d_backward_weight", g)(g, x, dw, *ctx.params)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = _channel_sums(g)
        return dx, dw, db


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """Transposed 2-D convolution (the gradient of conv2d with respect to its input).

    `weight` has shape (C_in, C_out/groups, kH, kW); the output has
    (H - 1) stride - 2 padding + dilation (kH - 1) + output_padding + 1 rows (likewise columns).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.conv_transpose2d(fd.ones(1, 1, 2, 2), fd.ones(1, 1, 2, 2), stride=2).shape
        (1, 1, 4, 4)
    """
    op = "conv_transpose2d"
    _check_operands(input, weight, bias, op, "(C_in, C_out/groups, kH, kW)")
    s = pair(stride, "stride", op, 1)
    d = pair(dilation, "dilation", op, 1)
    if isinstance(padding, str):
        raise ValueError(f"[{op}] padding must be an int or a pair of ints, got {padding!r}")
    p = pair(padding, "padding", op, 0)
    op_ = pair(output_padding, "output_padding", op, 0)
    groups = _groups(groups, op)
    in_ch, out_per_group, kh, kw = weight.shape
    if in_ch % groups:
        raise ValueError(
            f"[{op}] groups={groups} must divide the in channels, got weight shape {weight.shape}"
        )
    if input.shape[-3] != in_ch:
        raise ValueError(
            f"[{op}] expected input with {in_ch} channels (weight shape {weight.shape}), got "
            f"{input.shape[-3]} channels (input shape {input.shape})"
        )
    for i in range(2):
        if op_[i] >= s[i] and op_[i] >= d[i]:
            raise ValueError(
                f"[{op}] output_padding must be smaller than either stride or dilation, got "
                f"output_padding={op_}, stride={s}, dilation={d}"
            )
    _check_bias(bias, out_per_group * groups, op)
    input, was_unbatched = _batched(input)
    h, w = input.shape[2:]
    size = tuple(
        (n - 1) * st - 2 * pd + dl * (k - 1) + o + 1
        for n, st, pd, dl, k, o in zip((h, w), s, p, d, (kh, kw), op_)
    )
    if min(size) < 1:
        raise ValueError(
            f"[{op}] the output would have size {size} for input size {(h, w)}, kernel "
            f"{(kh, kw)}, stride {s}, padding {p}, dilation {d}, output_padding {op_}"
        )
    out = ConvTranspose2d.apply(input, weight, bias, s, p, d, groups, size)
    return _unbatched(out, was_unbatched)


# ----------------------------------------------------------------------------------------- pad
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


class Pad(Function):
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
    input = _tensor(input, op, "input")
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
        return Pad.apply(input, pads, mode, fill)
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
    return Pad.apply(input, pads, mode, 0.0)

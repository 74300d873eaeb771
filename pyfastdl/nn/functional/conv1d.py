"""conv1d and conv_transpose1d: the conv2d kernels on a height-1 view.

(N, C, L) input becomes (N, C, 1, L), the (O, C/groups, k) weight (O, C/groups, 1, k), and the
1-d stride, padding and dilation the width's, (1, s), (0, p), (1, d); the result drops its
height of 1 again. Gradients flow through the reshapes to the conv2d Functions.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ...ops.shape import reshape
from ...tensor import Tensor
from .conv2d import (
    _check_bias,
    _check_groups,
    _check_operands,
    _check_output_padding,
    _groups,
    check_minimum,
    conv2d,
    conv_transpose2d,
)

__all__ = ["conv1d", "conv_transpose1d"]


def single(value: Any, name: str, op: str, minimum: int) -> int:
    """`value` (an int or a sequence of one int) as an int >= minimum."""
    v = value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"[{op}] {name} must be an int or a tuple of one int, got {value!r}")
    check_minimum(v, minimum, name, op, value)
    return operator.index(v)


def single_tuple(value: Any, name: str, op: str, minimum: int) -> tuple[int]:
    """:func:`single` as a 1-tuple (the 1-d counterpart of conv2d's ``pair``)."""
    return (single(value, name, op, minimum),)


def _check_channels(channels: int, expected: int, weight: Tensor, groups: int, op: str) -> None:
    if channels != expected:
        raise ValueError(
            f"[{op}] expected input with {expected} channels (weight shape {weight.shape}, "
            f"groups={groups}), got {channels} channels"
        )


def _rows(t: Tensor) -> Tensor:
    """(..., L) -> (..., 1, L)."""
    return reshape(t, t.shape[:-1] + (1, t.shape[-1]))


def _unrow(t: Any) -> Any:
    """(..., 1, L) -> (..., L); each of a tuple of Tensors."""
    if isinstance(t, tuple):
        return tuple(_unrow(o) for o in t)
    return reshape(t, t.shape[:-2] + (t.shape[-1],))


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution (cross-correlation) of (N, C, L) or (C, L) `input` with weight
    (O, C/groups, k); `padding` is an int, 'valid' or 'same' (stride 1 only).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.conv1d(fd.tensor([[[1.0, 2.0, 3.0, 4.0]]]), fd.tensor([[[1.0, -1.0]]])).tolist()
        [[[-1.0, -1.0, -1.0]]]
    """
    op = "conv1d"
    _check_operands(input, weight, bias, op, "(O, C/groups, k)", ("L",))
    s = single(stride, "stride", op, 1)
    d = single(dilation, "dilation", op, 1)
    groups = _groups(groups, op)
    _check_groups(weight, groups, op, "out")
    _check_channels(input.shape[-2], weight.shape[1] * groups, weight, groups, op)
    _check_bias(bias, weight.shape[0], op)
    if isinstance(padding, str) and padding not in ("same", "valid"):
        raise ValueError(f"[{op}] padding must be an int, 'same' or 'valid', got {padding!r}")
    if padding == "same" and s != 1:
        raise ValueError(f"[{op}] padding='same' is not supported for strided convolutions")
    p: Any = padding if isinstance(padding, str) else (0, single(padding, "padding", op, 0))
    if not isinstance(padding, str):
        length = input.shape[-1] + 2 * p[1] - d * (weight.shape[-1] - 1)
        if length < 1:
            raise ValueError(
                f"[{op}] kernel size {weight.shape[-1]} with dilation {d} is larger than the "
                f"padded input length {input.shape[-1] + 2 * p[1]}"
            )
    out = conv2d(_rows(input), _rows(weight), bias, (1, s), p, (1, d), groups)
    return _unrow(out)


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """Transposed 1-D convolution (the gradient of conv1d with respect to its input); weight
    (C_in, C_out/groups, k); the output has (L - 1) stride - 2 padding + dilation (k - 1) +
    output_padding + 1 positions.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.conv_transpose1d(fd.ones(1, 1, 2), fd.ones(1, 1, 3), stride=2).tolist()
        [[[1.0, 1.0, 2.0, 1.0, 1.0]]]
    """
    op = "conv_transpose1d"
    _check_operands(input, weight, bias, op, "(C_in, C_out/groups, k)", ("L",))
    s = single(stride, "stride", op, 1)
    d = single(dilation, "dilation", op, 1)
    if isinstance(padding, str):
        raise ValueError(f"[{op}] padding must be an int, got {padding!r}")
    p = single(padding, "padding", op, 0)
    o = single(output_padding, "output_padding", op, 0)
    groups = _groups(groups, op)
    _check_groups(weight, groups, op, "in")
    _check_channels(input.shape[-2], weight.shape[0], weight, groups, op)
    _check_bias(bias, weight.shape[1] * groups, op)
    _check_output_padding(op, o, s, d)
    length = (input.shape[-1] - 1) * s - 2 * p + d * (weight.shape[-1] - 1) + o + 1
    if length < 1:
        raise ValueError(f"[{op}] the output would have length {length} for input {input.shape}")
    out = conv_transpose2d(
        _rows(input), _rows(weight), bias, (1, s), (0, p), (0, o), groups, (1, d)
    )
    return _unrow(out)

"""1-d pooling: max_pool1d, avg_pool1d, adaptive_avg_pool1d, adaptive_max_pool1d.

Each runs the pool2d kernels on a height-1 view of its (N, C, L) or (C, L) input (window (1, k),
stride (1, s), padding (0, p)); max pooling's flat indices h * L + l are then the 1-d ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...shapes import pool2d_geometry
from ...tensor import Tensor
from .conv1d import _rows, _unrow, single
from .pool2d import _image, adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_max_pool1d",
    "adaptive_max_pool1d_with_indices",
    "avg_pool1d",
    "max_pool1d",
    "max_pool1d_with_indices",
]


def _signal(input: Any, op: str) -> Tensor:
    """A float (C, L) or (N, C, L) Tensor with non-zero C and L, as (..., C, 1, L)."""
    return _rows(_image(input, op, ("L",)))


def _window(
    op: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool
) -> tuple:
    """The (1, k), (1, s), (0, p), (1, d) window of the 2-d kernels, checked against L."""
    k = single(kernel_size, "kernel_size", op, 1)
    s = k if stride is None or stride == [] or stride == () else single(stride, "stride", op, 1)
    p = single(padding, "padding", op, 0)
    d = single(dilation, "dilation", op, 1)
    if p > k // 2:
        raise ValueError(f"[{op}] padding should be at most half of kernel size, got {p} for {k}")
    pool2d_geometry(op, tuple(x.shape), (1, k), (1, s), (0, p), (1, d), ceil_mode)
    return (1, k), (1, s), (0, p), (1, d)


def max_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """1-d max pooling over (N, C, L) or (C, L) input; stride defaults to kernel_size; with
    ``return_indices`` also the int64 position of each maximum.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.max_pool1d(fd.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[3.0, 2.0]]]
    """
    op = "max_pool1d"
    x = _signal(input, op)
    k, s, p, d = _window(op, x, kernel_size, stride, padding, dilation, ceil_mode)
    return _unrow(max_pool2d(x, k, s, p, d, ceil_mode, return_indices))


def max_pool1d_with_indices(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = True,
) -> Any:
    """max_pool1d that returns (output, indices)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def avg_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """1-d average pooling over (N, C, L) or (C, L) input; stride defaults to kernel_size.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.avg_pool1d(fd.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[2.0, 1.0]]]
    """
    op = "avg_pool1d"
    x = _signal(input, op)
    k, s, p, _ = _window(op, x, kernel_size, stride, padding, 1, ceil_mode)
    return _unrow(avg_pool2d(x, k, s, p, ceil_mode, count_include_pad))


def _output_size(output_size: Any, op: str) -> int:
    v = output_size[0] if isinstance(output_size, (tuple, list)) and len(output_size) == 1 else None
    v = output_size if v is None and not isinstance(output_size, (tuple, list)) else v
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"[{op}] output_size must be an int or a tuple of one int, got {v!r}")
    if v < 1:
        raise ValueError(f"[{op}] output_size must be positive, got {output_size!r}")
    return int(v)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Average over adaptive windows: output l averages positions floor(l*L/OL) to
    ceil((l+1)*L/OL).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.adaptive_avg_pool1d(fd.tensor([[1.0, 2.0, 3.0, 6.0]]), 2).tolist()
        [[1.5, 4.5]]
    """
    op = "adaptive_avg_pool1d"
    x = _signal(input, op)
    return _unrow(adaptive_avg_pool2d(x, (1, _output_size(output_size, op))))


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max over the adaptive windows of :func:`adaptive_avg_pool1d`; with ``return_indices``
    also the int64 position of each maximum.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.adaptive_max_pool1d(fd.tensor([[1.0, 2.0, 3.0, 6.0]]), 2).tolist()
        [[2.0, 6.0]]
    """
    op = "adaptive_max_pool1d"
    x = _signal(input, op)
    out_size = (1, _output_size(output_size, op))
    return _unrow(adaptive_max_pool2d(x, out_size, return_indices))


def adaptive_max_pool1d_with_indices(
    input: Tensor, output_size: Any, return_indices: bool = True
) -> Any:
    """adaptive_max_pool1d that returns (output, indices)."""
    return adaptive_max_pool1d(input, output_size, True)

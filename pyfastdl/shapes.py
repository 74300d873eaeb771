"""Shape arithmetic shared by the reference kernels and the functional layer.

Output sizes of convolutions, pooling windows and upsampling, and the checks of their parameters:
the NumPy references (``kernels.reference``) and the autograd functions (``nn.functional``) both
import these, so a kernel and its caller can never disagree about a shape.

PyTorch's rules:
  conv2d:   out = floor((size + 2 pad - dil (kernel - 1) - 1) / stride) + 1
  pooling:  the same, with ceil instead of floor when ceil_mode is set, except that the last window
            must start inside the input or its left padding
  adaptive: window i spans [floor(i size / out), ceil((i + 1) size / out))
"""

from __future__ import annotations

import functools
import math
import operator
from typing import Any

import numpy as np

__all__ = [
    "adaptive_windows",
    "allocates",
    "conv2d_output_size",
    "named_size_error",
    "pair",
    "pool2d_geometry",
    "pool2d_params",
    "pool_output_size",
    "upsample_output_size",
]


def conv2d_output_size(size: int, kernel: int, stride: int, pad: int, dil: int) -> int:
    """OH (or OW) of a convolution: floor((size + 2 pad - dil (kernel - 1) - 1) / stride) + 1."""
    return (size + 2 * pad - dil * (kernel - 1) - 1) // stride + 1


def pair(value: Any, name: str, op: str) -> tuple[int, int]:
    """`value` (an int or a sequence of two ints) as an (h, w) pair of ints."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) == 1:
        items = items * 2
    if len(items) != 2 or any(
        isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in items
    ):
        raise TypeError(f"[{op}] {name} must be an int or a pair of ints, got {value!r}")
    return operator.index(items[0]), operator.index(items[1])


def pool_output_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """Output length of one pooled dim (PyTorch's rule, see the module docstring)."""
    span = size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = span // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def pool2d_params(
    op: str, kernel_size: Any, stride: Any, padding: Any, dilation: Any = 1
) -> tuple[tuple[int, int], ...]:
    """Checks pooling parameters; returns the (h, w) pairs k, s, p, d (stride None: k)."""
    k = pair(kernel_size, "kernel_size", op)
    no_stride = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    s = k if no_stride else pair(stride, "stride", op)
    p = pair(padding, "padding", op)
    d = pair(dilation, "dilation", op)
    for name, v in (("kernel_size", k), ("stride", s), ("dilation", d)):
        if min(v) < 1:
            raise ValueError(f"[{op}] {name} must be positive, got {v}")
    if min(p) < 0 or p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(
            f"[{op}] padding must be non-negative and at most half of kernel_size {k}, got {p}"
        )
    return k, s, p, d


def pool2d_geometry(
    op: str,
    shape: tuple,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any = 1,
    ceil_mode: bool = False,
) -> tuple[tuple[int, int], ...]:
    """Checks pooling parameters against a (..., H, W) shape; returns k, s, p, d, (OH, OW)."""
    k, s, p, d = pool2d_params(op, kernel_size, stride, padding, dilation)
    h, w = shape[-2:]
    out = tuple(
        pool_output_size(size, k[i], s[i], p[i], d[i], ceil_mode) for i, size in enumerate((h, w))
    )
    if min(out) < 1:
        raise ValueError(
            f"[{op}] output size is too small: input (H, W) = ({h}, {w}), kernel_size {k}, "
            f"stride {s}, padding {p}, dilation {d} give an output of {out}"
        )
    return k, s, p, d, out


def adaptive_windows(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of the `out` adaptive windows over `size`: floor(i*size/out), ceil(...)."""
    i = np.arange(out, dtype=np.int64)
    return i * size // out, -((-(i + 1) * size) // out)


def upsample_output_size(size: int, scale_factor: float) -> int:
    """PyTorch's output length for a scale factor: floor(size * scale_factor) in double."""
    return int(math.floor(float(size) * float(scale_factor)))


# ------------------------------------------------------------------ sizes past what fits
INT64_MAX = 2**63 - 1

# What NumPy and pybind11 say, unnamed, about sizes no array or C++ int can hold.
_SIZE_MESSAGES = (
    "array is too big",
    "Maximum allowed dimension exceeded",
    "maximum supported dimension",
    "too large to convert",
    "int too big",
    "cannot fit 'int' into an index-sized integer",
)


def _has_huge_int(values: Any) -> bool:
    for v in values:
        if isinstance(v, (tuple, list)):
            if _has_huge_int(v):
                return True
        elif (
            isinstance(v, int) and not isinstance(v, bool) and not -INT64_MAX - 1 <= v <= INT64_MAX
        ):
            return True
    return False


def named_size_error(op: str, error: BaseException, args: Any = ()) -> BaseException | None:
    """The named form of an unnamed error about a size that can't be allocated or represented:
    MemoryError for an allocation the machine refuses, OverflowError for a size past int64 (or an
    integer argument a C++ kernel can't take); None for anything else (re-raise it as it is).

    Example:
        >>> err = named_size_error("zeros", ValueError("array is too big; ..."))
        >>> type(err).__name__, str(err)[:48]
        ('OverflowError', '[zeros] the result is too large for an array (it')
    """
    message = str(error)
    if message.startswith("["):
        return None
    if isinstance(error, MemoryError):
        return MemoryError(f"[{op}] can't allocate the result: {message}")
    if isinstance(error, TypeError) and "incompatible function arguments" in message:
        if _has_huge_int(args):
            return OverflowError(f"[{op}] an integer argument is outside the int64 range")
        return None
    if isinstance(error, (ValueError, OverflowError)) and any(m in message for m in _SIZE_MESSAGES):
        return OverflowError(
            f"[{op}] the result is too large for an array (its byte size passes int64): {message}"
        )
    return None


def allocates(op: str) -> Any:
    """Decorator: a function that allocates an array reports impossible sizes by name."""

    def wrap(fn: Any) -> Any:
        @functools.wraps(fn)
        def named(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except (MemoryError, ValueError, OverflowError, TypeError) as e:
                err = named_size_error(op, e, args)
                if err is None:
                    raise
                raise err from None

        return named

    return wrap

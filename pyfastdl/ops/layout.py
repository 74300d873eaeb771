"""Rearranging elements, with autograd: roll, rot90, fliplr/flipud, repeat_interleave,
tensor_split (hsplit, vsplit, dsplit), meshgrid, ravel, select, diff, take_along_dim, unfold,
atleast_1d/2d/3d.

Each one is a permutation, a repetition or a slicing of the input, so the backward rolls back,
sums the repeats (through ``index_select``) or pastes the pieces together (through ``split``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..arrays import to_host, xp
from ..autograd import Function
from ..tensor import Tensor
from ._util import as_array, norm_dim, on_device_of, wrap
from .elementwise import sub
from .indexing import gather, getitem, index_select
from .shape import SplitFn, cat, expand, flip, reshape, transpose

__all__ = [
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "diff",
    "dsplit",
    "fliplr",
    "flipud",
    "hsplit",
    "meshgrid",
    "ravel",
    "repeat_interleave",
    "roll",
    "rot90",
    "select",
    "take_along_dim",
    "tensor_split",
    "vsplit",
]  # and unfold, a Tensor method only (as in PyTorch)


class RollFn(Function):
    @staticmethod
    def forward(ctx, a, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return xp(a).roll(a, shifts, dims)

    @staticmethod
    def backward(ctx, g):
        return xp(g).roll(g, tuple(-s for s in ctx.shifts), ctx.dims), None, None


def _ints(v: Any) -> tuple:
    return tuple(int(x) for x in v) if isinstance(v, (list, tuple)) else (int(v),)


def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """`input` rolled by `shifts` along `dims`: elements pushed past the end come back at the
    start. Without `dims` the flattened tensor is rolled and the shape restored.

    Example:
        >>> import pyfastdl as fd
        >>> fd.roll(fd.tensor([1, 2, 3, 4]), 1).tolist()
        [4, 1, 2, 3]
    """
    shifts = _ints(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(
                f"[roll] without dims, shifts must be a single int, got {len(shifts)} shifts"
            )
        return reshape(RollFn.apply(reshape(input, -1), shifts, (0,)), *input.array.shape)
    dims = _ints(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(
            f"[roll] shifts and dims must align: got {len(shifts)} shifts and {len(dims)} dims"
        )
    nd = input.array.ndim
    return RollFn.apply(input, shifts, tuple(norm_dim(d, nd, "roll") for d in dims))


def repeat_interleave(
    input: Tensor, repeats: Any = None, dim: int | None = None, *, output_size: int | None = None
) -> Tensor:
    """Repeats each element (each slice along `dim`; without `dim`, of the flattened input)
    `repeats` times, an int or one count per element. ``repeat_interleave(counts)`` alone gives
    ``[0]*counts[0] + [1]*counts[1] + ...``.

    Example:
        >>> import pyfastdl as fd
        >>> fd.tensor([1, 2]).repeat_interleave(2).tolist()
        [1, 1, 2, 2]
    """
    if repeats is None:
        counts = input.array
        if counts.ndim > 1 or counts.dtype.kind not in "iu":
            raise RuntimeError("[repeat_interleave] repeats must be a 0-d or 1-d integer tensor")
        # the counts decide the output's size: read on the host (CuPy's repeat wants them there)
        host = to_host(counts).reshape(-1)
        return wrap(xp(counts).asarray(np.repeat(np.arange(host.size), host)))
    if dim is None:
        input, d = reshape(input, -1), 0
    else:
        d = norm_dim(dim, input.array.ndim, "repeat_interleave")
        if input.array.ndim == 0:
            input = reshape(input, 1)
    n = input.array.shape[d]
    r = as_array(repeats)
    if r.dtype.kind not in "iu":
        raise TypeError(f"[repeat_interleave] repeats must be integers, got {r.dtype}")
    if r.ndim > 1 or (r.ndim == 1 and r.size not in (1, n)):
        raise RuntimeError(
            f"[repeat_interleave] repeats must have the same size as input along dim ({n}), "
            f"got shape {tuple(r.shape)}"
        )
    r = to_host(r)  # the counts decide the output's size: read on the host
    if (r < 0).any():
        raise RuntimeError("[repeat_interleave] repeats can not be negative")
    index = np.repeat(np.arange(n), r.reshape(-1) if r.size != 1 else int(r.reshape(-1)[0]))
    if output_size is not None and output_size != index.size:
        raise RuntimeError(
            f"[repeat_interleave] output_size {output_size} does not match the {index.size} "
            "repeated elements"
        )
    return index_select(input, d, Tensor(xp(input.array).asarray(index)))


def tensor_split(input: Tensor, indices_or_sections: Any, dim: int = 0) -> tuple:
    """Views of `input` along `dim`: `sections` (an int) nearly equal pieces, the first ones one
    larger, or the pieces between the listed `indices`.

    Example:
        >>> import pyfastdl as fd
        >>> [p.tolist() for p in fd.tensor_split(fd.arange(5), 3)]
        [[0, 1], [2, 3], [4]]
    """
    a = input.array
    if a.ndim == 0:
        raise RuntimeError("[tensor_split] expected at least a 1-dimensional tensor")
    d = norm_dim(dim, a.ndim, "tensor_split")
    n = a.shape[d]
    s = indices_or_sections
    if isinstance(s, Tensor):
        s = s.tolist()
    if isinstance(s, (list, tuple)):
        bounds = [min(max(int(i) + (n if i < 0 else 0), 0), n) for i in s]
    else:
        if int(s) <= 0:
            raise RuntimeError(f"[tensor_split] number of sections must be larger than 0, got {s}")
        q, r = divmod(n, int(s))
        sizes = [q + 1] * r + [q] * (int(s) - r)
        bounds = [int(b) for b in np.cumsum(sizes)[:-1]]
    return SplitFn.apply(input, bounds, d)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple:
    """Coordinate grids from 1-d tensors: with indexing 'ij' output i varies along dim i; with
    'xy' the first two dims are swapped (Cartesian order).

    Example:
        >>> import pyfastdl as fd
        >>> x, y = fd.meshgrid(fd.tensor([1, 2]), fd.tensor([3, 4, 5]), indexing="xy")
        >>> x.shape
        (3, 2)
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"[meshgrid] indexing must be 'ij' or 'xy', got {indexing!r}")
    if not tensors:
        raise RuntimeError("[meshgrid] expects a non-empty list of tensors")
    for t in tensors:
        if not isinstance(t, Tensor) or t.array.ndim > 1:
            raise RuntimeError("[meshgrid] expects each input to be a 0-d or 1-d tensor")
    sizes = [t.array.size for t in tensors]
    axes = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        axes[0], axes[1] = 1, 0
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for t, ax in zip(tensors, axes):
        shape = [1] * len(tensors)
        shape[ax] = -1
        out.append(expand(reshape(t, *shape), *sizes))
    return tuple(out)


def rot90(input: Tensor, k: int = 1, dims: Any = (0, 1)) -> Tensor:
    """`input` rotated by 90 degrees `k` times, from the first of `dims` towards the second.

    Example:
        >>> import pyfastdl as fd
        >>> fd.rot90(fd.tensor([[1, 2], [3, 4]])).tolist()
        [[2, 4], [1, 3]]
    """
    nd = input.array.ndim
    if len(dims) != 2:
        raise RuntimeError(f"[rot90] expected total rotation dims == 2, got {len(dims)}")
    if nd < 2:
        raise RuntimeError(f"[rot90] expected total dims >= 2, got {nd}")
    d0, d1 = norm_dim(dims[0], nd, "rot90"), norm_dim(dims[1], nd, "rot90")
    if d0 == d1:
        raise RuntimeError(f"[rot90] expected rotation dims to be different, got {d0} and {d1}")
    k = int(k) % 4
    if k == 1:
        return transpose(flip(input, d1), d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return transpose(flip(input, d0), d0, d1)
    return input


def fliplr(input: Tensor) -> Tensor:
    """`input` with the order of its columns (dim 1) reversed."""
    if input.array.ndim < 2:
        raise RuntimeError("[fliplr] input must be >= 2-d")
    return flip(input, 1)


def flipud(input: Tensor) -> Tensor:
    """`input` with the order of its rows (dim 0) reversed."""
    if input.array.ndim < 1:
        raise RuntimeError("[flipud] input must be >= 1-d")
    return flip(input, 0)


def ravel(input: Tensor) -> Tensor:
    """The elements of `input` as a 1-d tensor."""
    return reshape(input, -1)


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice of `input` at `index` along `dim`, with that dim removed."""
    nd = input.array.ndim
    if nd == 0:
        raise IndexError("[select] select() cannot be applied to a 0-dim tensor")
    d = norm_dim(dim, nd, "select")
    n = input.array.shape[d]
    if not -n <= index < n:
        raise IndexError(f"[select] index {index} out of range for dim {d} of size {n}")
    return getitem(input, (slice(None),) * d + (int(index),))


def diff(
    input: Tensor, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None
) -> Tensor:
    """The `n`-th forward difference along `dim` (``out[i] = x[i + 1] - x[i]``), after
    `prepend` and `append` are concatenated to `input` along `dim`.

    Example:
        >>> import pyfastdl as fd
        >>> fd.diff(fd.tensor([1, 3, 6, 10])).tolist()
        [2, 3, 4]
    """
    if input.array.ndim == 0:
        raise RuntimeError("[diff] expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"[diff] order must be non-negative, got {n}")
    d = norm_dim(dim, input.array.ndim, "diff")
    parts = [p for p in (prepend, input, append) if p is not None]
    x = cat(parts, d) if len(parts) > 1 else input
    lead = (slice(None),) * d
    for _ in range(n):
        if x.array.dtype.kind == "b":
            x = wrap(x.array[lead + (slice(1, None),)] != x.array[lead + (slice(None, -1),)])
        else:
            x = sub(getitem(x, lead + (slice(1, None),)), getitem(x, lead + (slice(None, -1),)))
    return x


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """The values of `input` at `indices` along `dim` (the other dims broadcast); without `dim`,
    of the flattened input."""
    ix = as_array(indices)
    ix = on_device_of(input.array, ix, "take_along_dim", move=not isinstance(indices, Tensor))
    if ix.dtype.kind not in "iu":
        raise RuntimeError(f"[take_along_dim] indices must be an integer tensor, got {ix.dtype}")
    if dim is None:
        return gather(reshape(input, -1), 0, ix.reshape(-1))
    a = input.array
    if ix.ndim != a.ndim:
        raise RuntimeError(
            f"[take_along_dim] input and indices should have the same number of dims, got "
            f"{a.ndim} and {ix.ndim}"
        )
    d = norm_dim(dim, a.ndim, "take_along_dim")
    try:
        rest = np.broadcast_shapes(
            a.shape[:d] + (1,) + a.shape[d + 1 :], ix.shape[:d] + (1,) + ix.shape[d + 1 :]
        )
    except ValueError:
        raise RuntimeError(
            f"[take_along_dim] shapes {tuple(a.shape)} and {tuple(ix.shape)} do not broadcast "
            f"outside dim {d}"
        ) from None
    in_shape = rest[:d] + (a.shape[d],) + rest[d + 1 :]
    ix_shape = rest[:d] + (ix.shape[d],) + rest[d + 1 :]
    if tuple(a.shape) != in_shape:
        input = expand(input, *in_shape)
    return gather(input, d, xp(ix).broadcast_to(ix, ix_shape))


class UnfoldFn(Function):
    @staticmethod
    def forward(ctx, a, dim, size, step):
        m = xp(a)
        n = (a.shape[dim] - size) // step + 1
        # window w, element k is a[start_w + k] along dim: (n, size) indices, taken at once
        index = m.arange(n).reshape(n, 1) * step + m.arange(size).reshape(1, size)
        out = m.moveaxis(m.take(a, index, axis=dim), dim + 1, -1)
        ctx.shape, ctx.dim, ctx.size, ctx.step, ctx.n = a.shape, dim, size, step, n
        return m.ascontiguousarray(out)

    @staticmethod
    def backward(ctx, g):
        # element k of every window sits at start + k: add each window slot back in turn
        out = xp(g).zeros(ctx.shape, g.dtype)
        lead = (slice(None),) * ctx.dim
        end = (ctx.n - 1) * ctx.step + 1
        for k in range(ctx.size):
            out[lead + (slice(k, k + end, ctx.step),)] += g[..., k]
        return out, None, None, None


def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """The windows of `size` elements along `dimension`, `step` apart, as a new last dim
    (``Tensor.unfold``).

    Example:
        >>> import pyfastdl as fd
        >>> fd.arange(5).unfold(0, 2, 2).tolist()
        [[0, 1], [2, 3]]
    """
    a = input.array
    if a.ndim == 0:
        return UnfoldFn.apply(reshape(input, 1), 0, size, step).reshape(size)
    d = norm_dim(dimension, a.ndim, "unfold")
    if step <= 0:
        raise RuntimeError(f"[unfold] step must be positive, got {step}")
    if not 0 <= size <= a.shape[d]:
        raise RuntimeError(
            f"[unfold] maximum size for tensor at dimension {d} is {a.shape[d]} but size is {size}"
        )
    return UnfoldFn.apply(input, d, int(size), int(step))


def _split_along(input: Tensor, sections: Any, dim: int, need: int, op: str) -> tuple:
    nd = input.array.ndim
    if nd < need:
        raise RuntimeError(f"[{op}] requires a tensor with at least {need} dims, got {nd}")
    if not isinstance(sections, (list, tuple, Tensor)):
        n = input.array.shape[dim]
        if int(sections) <= 0 or n % int(sections):
            raise RuntimeError(
                f"[{op}] dim {dim} of size {n} is not divisible by the split size {sections}"
            )
    return tensor_split(input, sections, dim)


def hsplit(input: Tensor, indices_or_sections: Any) -> tuple:
    """Splits along dim 1 (dim 0 for a 1-d tensor) into equal sections or at indices."""
    dim = 0 if input.array.ndim == 1 else 1
    return _split_along(input, indices_or_sections, dim, 1, "hsplit")


def vsplit(input: Tensor, indices_or_sections: Any) -> tuple:
    """Splits along dim 0 (of a tensor of at least 2 dims)."""
    return _split_along(input, indices_or_sections, 0, 2, "vsplit")


def dsplit(input: Tensor, indices_or_sections: Any) -> tuple:
    """Splits along dim 2 (of a tensor of at least 3 dims)."""
    return _split_along(input, indices_or_sections, 2, 3, "dsplit")


def _atleast(tensors: tuple, shape_of: Any) -> Any:
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    out = tuple(reshape(t, *shape_of(t.array.shape)) for t in tensors)
    return out[0] if len(out) == 1 else out


def atleast_1d(*tensors: Tensor) -> Any:
    """Each tensor with at least 1 dim (a 0-d one becomes shape (1,))."""
    return _atleast(tensors, lambda s: s if len(s) >= 1 else (1,))


def atleast_2d(*tensors: Tensor) -> Any:
    """Each tensor with at least 2 dims (leading dims of size 1 added)."""
    return _atleast(tensors, lambda s: s if len(s) >= 2 else (1,) * (2 - len(s)) + s)


def atleast_3d(*tensors: Tensor) -> Any:
    """Each tensor with at least 3 dims: () -> (1, 1, 1), (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    return _atleast(
        tensors,
        lambda s: s if len(s) >= 3 else {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}[len(s)],
    )

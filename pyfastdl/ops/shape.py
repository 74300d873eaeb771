"""Shape ops with autograd: reshape/view, flatten, transpose, permute, squeeze/unsqueeze, expand,
repeat, cat, stack, split/chunk/unbind, flip, movedim, contiguous.

Views stay views (numpy reshape/transpose/broadcast_to never copy when they need not); each
backward applies the inverse shape change to the gradient.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..arrays import device_error, device_of, xp
from ..autograd import Function
from ..dtypes import check_dtype
from ..tensor import Tensor, contiguous_format
from ._util import norm_dim, result_dtype, unbroadcast, wrap
from .convert import cast, with_memory_format

__all__ = [
    "adjoint",
    "broadcast_tensors",
    "broadcast_to",
    "cat",
    "chunk",
    "concat",
    "concatenate",
    "contiguous",
    "expand",
    "expand_as",
    "flatten",
    "flip",
    "hstack",
    "moveaxis",
    "movedim",
    "permute",
    "repeat",
    "reshape",
    "reshape_as",
    "split",
    "squeeze",
    "stack",
    "swapaxes",
    "swapdims",
    "t",
    "tile",
    "transpose",
    "unbind",
    "unflatten",
    "unsqueeze",
    "view",
    "view_as",
    "vstack",
]


def _sizes(shape: Sequence[Any], op: str) -> tuple:
    """The size arguments of reshape/view/expand/repeat: ints given separately or as one tuple."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    try:
        return tuple(
            int(s) if isinstance(s, (int, np.integer)) and not isinstance(s, bool) else _size(s, op)
            for s in shape
        )
    except TypeError:
        raise TypeError(f"[{op}] sizes must be ints, got {tuple(shape)!r}") from None


def _size(s: Any, op: str) -> int:
    """A size given as a 0-d integer tensor (``x.size(0)`` results); anything else is refused."""
    a = getattr(s, "array", None)
    if a is not None and a.ndim == 0 and a.dtype.kind in "iu":
        return int(a)
    raise TypeError(f"[{op}] sizes must be ints, got {s!r}")


def infer_shape(shape: tuple, numel: int, op: str) -> tuple:
    """`shape` with its one -1 (if any) replaced so that it holds `numel` elements."""
    unknown = [i for i, s in enumerate(shape) if s == -1]
    if len(unknown) > 1:
        raise ValueError(f"[{op}] only one dimension can be inferred, got shape {shape}")
    if any(s < -1 for s in shape):
        raise ValueError(f"[{op}] invalid shape dimension in {shape}")
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if unknown:
        if known == 0 or numel % known:
            raise ValueError(f"[{op}] shape {shape} is invalid for a tensor of {numel} elements")
        shape = shape[: unknown[0]] + (numel // known,) + shape[unknown[0] + 1 :]
    elif known != numel:
        raise ValueError(f"[{op}] shape {shape} is invalid for a tensor of {numel} elements")
    return shape


class ReshapeFn(Function):
    @staticmethod
    def forward(ctx, a, shape, strict):
        ctx.shape = a.shape
        if strict:
            try:
                if isinstance(a, np.ndarray):
                    return a.reshape(shape, copy=False)
                return _view_cupy(a, shape)
            except (ValueError, AttributeError):
                raise RuntimeError(
                    f"[view] view size {shape} is not compatible with the input tensor's size and "
                    f"stride (shape {tuple(a.shape)}, strides {a.strides}): at least one dim spans "
                    "across two contiguous subspaces; use .reshape(...) instead"
                ) from None
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None, None


def _view_cupy(a: Any, shape: tuple) -> Any:
    out = a.reshape(shape)
    if not a.size or out.data.ptr == a.data.ptr and a.flags.c_contiguous:
        return out
    raise ValueError("not a view")


def reshape(input: Tensor, *shape: Any) -> Tensor:
    """The same elements in a new shape (one size may be -1); a view when the layout allows.

    Example:
        >>> import pyfastdl as fd
        >>> fd.arange(6).reshape(2, -1).shape
        (2, 3)
    """
    a = input.array
    shape = infer_shape(_sizes(shape, "reshape"), a.size, "reshape")
    if shape == a.shape:
        return input
    return ReshapeFn.apply(input, shape, False)


def view(input: Tensor, *shape: Any) -> Tensor:
    """Like reshape, but never copies: RuntimeError when the strides do not allow a view.
    ``view(dtype)`` reinterprets the bytes as another dtype."""
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int, np.integer)):
        return wrap(input.array.view(check_dtype(shape[0], "view")))
    a = input.array
    shape = infer_shape(_sizes(shape, "view"), a.size, "view")
    return ReshapeFn.apply(input, shape, True)


def view_as(input: Tensor, other: Tensor) -> Tensor:
    return view(input, other.shape)


def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    return reshape(input, other.shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merges dims start_dim..end_dim into one (a 0-d tensor becomes 1-d)."""
    a = input.array
    if a.ndim == 0:
        norm_dim(start_dim, 0, "flatten")
        norm_dim(end_dim, 0, "flatten")
        return ReshapeFn.apply(input, (1,), False)
    s = norm_dim(start_dim, a.ndim, "flatten")
    e = norm_dim(end_dim, a.ndim, "flatten")
    if s > e:
        raise ValueError(f"[flatten] start_dim {start_dim} comes after end_dim {end_dim}")
    if s == e:
        return input
    n = 1
    for d in a.shape[s : e + 1]:
        n *= d
    return ReshapeFn.apply(input, a.shape[:s] + (n,) + a.shape[e + 1 :], False)


def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Splits dim `dim` into `sizes` (one may be -1)."""
    a = input.array
    d = norm_dim(dim, a.ndim, "unflatten")
    sizes = infer_shape(tuple(int(s) for s in sizes), a.shape[d], "unflatten")
    return ReshapeFn.apply(input, a.shape[:d] + sizes + a.shape[d + 1 :], False)


class PermuteFn(Function):
    @staticmethod
    def forward(ctx, a, perm):
        ctx.inverse = tuple(np.argsort(perm))
        return a.transpose(perm)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(ctx.inverse), None


def permute(input: Tensor, *dims: Any) -> Tensor:
    """The dims in a new order (a view)."""
    a = input.array
    dims = _sizes(dims, "permute")
    if len(dims) != a.ndim:
        raise ValueError(f"[permute] expected {a.ndim} dims, got {dims}")
    perm = tuple(norm_dim(d, a.ndim, "permute") for d in dims)
    if len(set(perm)) != len(perm):
        raise ValueError(f"[permute] dims {dims} repeat a dim")
    return PermuteFn.apply(input, perm)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swaps two dims (a view)."""
    a = input.array
    if a.ndim == 0:
        norm_dim(dim0, 0, "transpose")
        norm_dim(dim1, 0, "transpose")
        return input
    d0, d1 = norm_dim(dim0, a.ndim, "transpose"), norm_dim(dim1, a.ndim, "transpose")
    if d0 == d1:
        return input
    perm = list(range(a.ndim))
    perm[d0], perm[d1] = d1, d0
    return PermuteFn.apply(input, tuple(perm))


swapaxes = swapdims = transpose


def t(input: Tensor) -> Tensor:
    """Transpose of a tensor of at most 2 dims."""
    if input.array.ndim > 2:
        raise ValueError(
            f"[t] expects a tensor of at most 2 dims, got {input.array.ndim}; "
            "use transpose(dim0, dim1) or .mT"
        )
    return transpose(input, 0, 1) if input.array.ndim == 2 else input


def adjoint(input: Tensor) -> Tensor:
    """The last two dims swapped (``.mT`` / ``.mH`` for real tensors)."""
    if input.array.ndim < 2:
        raise ValueError(f"[mT] expects a tensor of at least 2 dims, got {input.array.ndim}")
    return transpose(input, -2, -1)


def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:
    a = input.array
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise ValueError("[movedim] source and destination must have the same number of dims")
    src = [norm_dim(d, a.ndim, "movedim") for d in src]
    dst = [norm_dim(d, a.ndim, "movedim") for d in dst]
    order = [d for d in range(a.ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return PermuteFn.apply(input, tuple(order))


moveaxis = movedim


def squeeze(input: Tensor, dim: Any = None) -> Tensor:
    """Drops dims of size 1 (only those named by `dim` when given; others are left alone)."""
    a = input.array
    if dim is None:
        shape = tuple(s for s in a.shape if s != 1)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        drop = {norm_dim(d, a.ndim, "squeeze") for d in dims} if a.ndim else set()
        shape = tuple(s for i, s in enumerate(a.shape) if not (i in drop and s == 1))
    if shape == a.shape:
        return input
    return ReshapeFn.apply(input, shape, False)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Inserts a dim of size 1 at `dim` (-ndim-1 <= dim <= ndim)."""
    a = input.array
    d = norm_dim(dim, a.ndim + 1, "unsqueeze")
    return ReshapeFn.apply(input, a.shape[:d] + (1,) + a.shape[d:], False)


class ExpandFn(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape, ctx.dtype = a.shape, a.dtype
        return xp(a).broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shape, ctx.dtype), None


def expand(input: Tensor, *sizes: Any) -> Tensor:
    """A broadcast view with size-1 dims stretched to `sizes` (-1 keeps a size); no copy."""
    a = input.array
    sizes = _sizes(sizes, "expand")
    if len(sizes) < a.ndim:
        raise ValueError(
            f"[expand] the number of sizes {len(sizes)} must be at least the number "
            f"of dims {a.ndim}"
        )
    lead = len(sizes) - a.ndim
    shape = []
    for i, s in enumerate(sizes):
        old = a.shape[i - lead] if i >= lead else None
        if s == -1:
            if old is None:
                raise ValueError(f"[expand] -1 is not allowed for a new leading dim, got {sizes}")
            s = old
        if old is not None and old != 1 and old != s:
            raise ValueError(
                f"[expand] the size of dim {i - lead} ({old}) must match the new size "
                f"{s} unless it is 1 (shape {tuple(a.shape)} to {sizes})"
            )
        shape.append(s)
    shape = tuple(shape)
    if shape == a.shape:
        return input
    return ExpandFn.apply(input, shape)


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return expand(input, other.shape)


def broadcast_to(input: Tensor, shape: Sequence[int]) -> Tensor:
    return expand(input, tuple(shape))


def broadcast_tensors(*tensors: Tensor) -> tuple:
    shape = np.broadcast_shapes(*(t.shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


class RepeatFn(Function):
    @staticmethod
    def forward(ctx, a, reps):
        ctx.shape = (1,) * (len(reps) - a.ndim) + a.shape
        ctx.orig, ctx.reps = a.shape, reps
        return xp(a).tile(a, reps)

    @staticmethod
    def backward(ctx, g):
        # out dim i of size reps[i] * shape[i] viewed as (reps[i], shape[i]); sum over the reps
        split = []
        for r, s in zip(ctx.reps, ctx.shape):
            split += [r, s]
        g = g.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return g.reshape(ctx.orig), None


def repeat(input: Tensor, *sizes: Any) -> Tensor:
    """Tiles the tensor `sizes[i]` times along each dim (PyTorch's repeat, numpy's tile)."""
    a = input.array
    reps = _sizes(sizes, "repeat")
    if len(reps) < a.ndim:
        raise ValueError(
            f"[repeat] the number of repeats {len(reps)} must be at least the number "
            f"of dims {a.ndim}"
        )
    if any(r < 0 for r in reps):
        raise ValueError(f"[repeat] repeats must be non-negative, got {reps}")
    return RepeatFn.apply(input, reps)


def tile(input: Tensor, dims: Sequence[int]) -> Tensor:
    dims = tuple(dims)
    dims = (1,) * (input.array.ndim - len(dims)) + dims
    return repeat(input, dims)


class CatFn(Function):
    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.dim = dim
        ctx.bounds = [int(b) for b in np.cumsum([a.shape[dim] for a in arrays])[:-1]]
        return xp(arrays[0]).concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return (None, *xp(g).split(g, ctx.bounds, axis=ctx.dim))


def _tensors(tensors: Any, op: str) -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"[{op}] expected a sequence of Tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"[{op}] expected a non-empty sequence of Tensors")
    kind = None
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"[{op}] element {i} is a {type(t).__name__}, expected a Tensor")
        if type(t.array) is not kind:
            kind = type(t.array) if kind is None else _one_device(tensors, op)
    return list(tensors)


def _one_device(tensors: Sequence[Tensor], op: str) -> type:
    """Raises ``[op] expected all tensors on the same device`` unless `tensors` share one."""
    devices = {device_of(t.array) for t in tensors}
    if len(devices) > 1:
        raise device_error(op, *devices)
    return type(tensors[0].array)


def _promote(tensors: list) -> list:
    dt = tensors[0].array.dtype
    if all(t.array.dtype == dt for t in tensors):
        return tensors
    for t in tensors[1:]:
        dt = result_dtype(np.empty((1,), dt), np.empty((1,), t.array.dtype))
    return [cast(t, dt) for t in tensors]


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Joins tensors along an existing dim; all other sizes must match.

    Example:
        >>> import pyfastdl as fd
        >>> fd.cat([fd.zeros(2, 3), fd.ones(1, 3)]).shape
        (3, 3)
    """
    tensors = _tensors(tensors, "cat")
    # PyTorch skips 1-d empty tensors, whatever the other shapes
    kept = [t for t in tensors if t.array.shape != (0,)] or tensors[:1]
    first = kept[0].array
    if first.ndim == 0:
        raise ValueError("[cat] zero-dimensional tensors cannot be concatenated")
    d = norm_dim(dim, first.ndim, "cat")
    for i, t in enumerate(kept):
        s = t.array.shape
        if len(s) != first.ndim or s[:d] + s[d + 1 :] != first.shape[:d] + first.shape[d + 1 :]:
            raise ValueError(
                f"[cat] sizes of tensors must match except in dim {d}: got "
                f"{tuple(first.shape)} and {tuple(s)} (tensor {i})"
            )
    if len(kept) == 1:
        return CatFn.apply(d, kept[0])
    return CatFn.apply(d, *_promote(kept))


concat = concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Joins same-shape tensors along a new dim."""
    tensors = _tensors(tensors, "stack")
    shape = tensors[0].array.shape
    for i, t in enumerate(tensors):
        if t.array.shape != shape:
            raise ValueError(
                f"[stack] expects each tensor to be equal size, but got "
                f"{tuple(shape)} "
                f"at entry 0 and {tuple(t.array.shape)} at entry {i}"
            )
    d = norm_dim(dim, len(shape) + 1, "stack")
    return cat([unsqueeze(t, d) for t in tensors], d)


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    tensors = _tensors(tensors, "hstack")
    return cat(tensors, 0 if tensors[0].array.ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    tensors = [t if t.array.ndim > 1 else reshape(t, 1, -1) for t in _tensors(tensors, "vstack")]
    return cat(tensors, 0)


class SplitFn(Function):
    @staticmethod
    def forward(ctx, a, bounds, dim):
        ctx.shape, ctx.dtype, ctx.dim, ctx.bounds = a.shape, a.dtype, dim, bounds
        return tuple(xp(a).split(a, bounds, axis=dim))

    @staticmethod
    def backward(ctx, *grads):
        m = xp(next(g for g in grads if g is not None))
        if all(g is not None for g in grads):
            return m.concatenate(grads, axis=ctx.dim), None, None
        out = m.zeros(ctx.shape, ctx.dtype)
        for piece, g in zip(m.split(out, ctx.bounds, axis=ctx.dim), grads):
            if g is not None:
                piece[...] = g
        return out, None, None


def split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple:
    """Pieces of `tensor` along `dim`: of size split_size_or_sections each (the last may be
    smaller), or of the listed sizes (which must add up to the dim's size). Views."""
    a = tensor.array
    d = norm_dim(dim, a.ndim, "split")
    n = a.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if _total(sizes) != n or any(s < 0 for s in sizes):
            raise ValueError(
                f"[split] split sizes {sizes} must be non-negative and add up to the "
                f"size {n} of dim {d}"
            )
    else:
        step = int(split_size_or_sections)
        if step <= 0 and not (step == 0 and n == 0):
            raise ValueError(f"[split] split_size must be positive, got {step}")
        sizes = [min(step, n - i) for i in range(0, n, step)] if n else [0]
    bounds = [int(b) for b in np.cumsum(sizes)[:-1]]
    return SplitFn.apply(tensor, bounds, d)


def _total(values: Sequence[int]) -> int:
    total = 0
    for v in values:
        total += v
    return total


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Splits into `chunks` pieces of ceil(size / chunks) (fewer pieces when the size runs out)."""
    if chunks <= 0:
        raise ValueError(f"[chunk] chunks must be positive, got {chunks}")
    a = input.array
    d = norm_dim(dim, a.ndim, "chunk")
    n = a.shape[d]
    step = -(-n // chunks) if n else 1
    return split(input, step, d)


class UnbindFn(Function):
    @staticmethod
    def forward(ctx, a, dim):
        ctx.shape, ctx.dtype, ctx.dim = a.shape, a.dtype, dim
        return tuple(a[(slice(None),) * dim + (i,)] for i in range(a.shape[dim]))

    @staticmethod
    def backward(ctx, *grads):
        m = xp(next(g for g in grads if g is not None))
        out = m.zeros(ctx.shape, ctx.dtype)
        for i, g in enumerate(grads):
            if g is not None:
                out[(slice(None),) * ctx.dim + (i,)] = g
        return out, None


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices along `dim`, with that dim removed."""
    return UnbindFn.apply(input, norm_dim(dim, input.array.ndim, "unbind"))


class FlipFn(Function):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return xp(a).flip(a, dims)

    @staticmethod
    def backward(ctx, g):
        return xp(g).flip(g, ctx.dims), None


def flip(input: Tensor, *dims: Any) -> Tensor:
    """Reverses the order of elements along `dims` (an int, a tuple, or ints; a view)."""
    dims = _sizes(dims, "flip")
    return FlipFn.apply(input, tuple(norm_dim(d, input.array.ndim, "flip") for d in dims))


class ContiguousFn(Function):
    @staticmethod
    def forward(ctx, a):
        return xp(a).ascontiguousarray(a)

    @staticmethod
    def backward(ctx, g):
        return g


def contiguous(input: Tensor, memory_format: Any = contiguous_format) -> Tensor:
    """The tensor itself when its array is laid out as `memory_format` (C order by default), else
    a copy that is."""
    if memory_format is contiguous_format:
        if input.array.flags.c_contiguous:
            return input
        return ContiguousFn.apply(input)
    return with_memory_format(input, memory_format, "contiguous")

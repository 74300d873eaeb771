"""Indexing with autograd (``t[...]``, gather, index_select, where, masked_fill), ``t[...] = v``,
comparisons and logical ops.

An index is anything numpy takes: ints, slices with steps, None, Ellipsis, lists or int64 /
bool Tensors. The backward of an integer-array index scatters with ``add.at`` (``arrays.add_at``)
so that repeated indices accumulate. A GPU tensor takes CPU indices (they are moved, as in
PyTorch); the other index ops want their index, mask or condition on the input's device.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import autograd
from ..arrays import add_at, device_error, device_of, to_gpu, xp
from ..autograd import Function
from ..tensor import Tensor
from ._util import (
    NUMBER_TYPES,
    as_array,
    check_writable,
    grid,
    norm_dim,
    on_device_of,
    one_device,
    operands,
    rebind,
    unbroadcast,
    wrap,
    xp2,
)
from .convert import cast
from .shape import expand

__all__ = [
    "allclose",
    "narrow",
    "bitwise_and",
    "bitwise_not",
    "bitwise_or",
    "bitwise_xor",
    "eq",
    "equal",
    "gather",
    "ge",
    "getitem",
    "greater",
    "greater_equal",
    "gt",
    "index_select",
    "isclose",
    "isfinite",
    "isinf",
    "isnan",
    "le",
    "less",
    "less_equal",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "lt",
    "masked_fill",
    "masked_select",
    "ne",
    "nonzero",
    "not_equal",
    "scatter_add",
    "setitem",
    "where",
]

_BASIC = (int, slice, type(None), type(Ellipsis), bool)


def _index(idx: Any, a: Any) -> tuple:
    """(numpy index, whether it holds integer arrays), with Tensors and lists made arrays on the
    device of array `a` (see :func:`_index_device`)."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    out = []
    ints = False
    for i in idx:
        if isinstance(i, _BASIC):
            out.append(i)
            continue
        if isinstance(i, Tensor):
            i = i.array
        elif isinstance(i, (list, tuple)):
            i = np.asarray(i)
            if i.size == 0:
                i = i.astype(np.int64)
        elif isinstance(i, np.integer):
            out.append(int(i))
            continue
        if not hasattr(i, "dtype"):
            raise IndexError(
                f"[index] unsupported index of type {type(i).__name__}; expected "
                "ints, slices, None, Ellipsis, lists or integer/bool Tensors"
            )
        kind = i.dtype.kind
        if kind in "iu":
            ints = True
        elif kind != "b":
            raise IndexError(
                f"[index] tensors used as indices must be integer or bool, got {i.dtype}"
            )
        out.append(i if type(i) is type(a) else _index_device(a, i))
    return tuple(out), ints


def _index_device(a: Any, i: Any) -> Any:
    """Index array `i` for array `a`: moved to the GPU when `a` is there and `i` on the host (as
    PyTorch allows); RuntimeError for a GPU index into a CPU tensor."""
    da, di = device_of(a), device_of(i)
    if da == di:
        return i
    if da == "cuda":
        return to_gpu(i, "index")
    raise device_error("index", da, di)


def check_bounds(ix: Any, n: int, d: int, op: str, *, negative: bool = False) -> None:
    """Raises IndexError naming `op` and the first index outside ``[0, n)`` of dim `d` (outside
    ``[-n, n)`` when `negative` wrapping is allowed), as PyTorch does; NumPy would wrap -1."""
    if not ix.size:
        return
    low = -n if negative else 0
    bad = (ix < low) | (ix >= n)
    if bad.any():
        first = int(ix.reshape(-1)[xp(bad).argmax(bad.reshape(-1))])
        raise IndexError(f"[{op}] index {first} is out of bounds for dim {d} with size {n}")


def _fail(e: Exception) -> IndexError:
    msg = str(e).replace("axis", "dim")
    return IndexError(f"[index] {msg}")


class GetItemFn(Function):
    @staticmethod
    def forward(ctx, a, idx, scatter):
        try:
            out = a[idx]
        except IndexError as e:
            raise _fail(e) from None
        ctx.shape, ctx.dtype, ctx.idx, ctx.scatter = a.shape, a.dtype, idx, scatter
        return out if type(out) is type(a) else xp(a).asarray(out)

    @staticmethod
    def backward(ctx, g):
        m = xp(g)
        out = m.zeros(ctx.shape, ctx.dtype)
        if ctx.scatter:
            # repeated indices each receive their share: an unbuffered scatter-add
            add_at(out, ctx.idx, g)
        else:
            out[ctx.idx] = g
        return out, None, None


def getitem(input: Tensor, idx: Any) -> Tensor:
    """``input[idx]``: a view for basic indices (ints, slices, None, ...), a copy otherwise.

    Example:
        >>> import pyfastdl as fd
        >>> x = fd.arange(6.0).reshape(2, 3)
        >>> x[:, [0, 0, 2]].tolist()
        [[0.0, 0.0, 2.0], [3.0, 3.0, 5.0]]
    """
    idx, ints = _index(idx, input.array)
    return GetItemFn.apply(input, idx, ints)


class SetItemFn(Function):
    """``out = input.clone(); out[idx] = value``, recorded: the gradient of input is the output
    gradient with the written positions zeroed, and value's is the output gradient at those
    positions, summed over the dims that broadcasting gave value."""

    @staticmethod
    def forward(ctx, a, idx, value):
        out = a.copy()
        try:
            out[idx] = value
        except IndexError as e:
            raise _fail(e) from None
        except ValueError as e:
            raise ValueError(f"[index] {e}") from None
        ctx.idx = idx
        ctx.value_shape = getattr(value, "shape", ())
        return out

    @staticmethod
    def backward(ctx, g):
        grad_input = g.copy()
        grad_input[ctx.idx] = 0
        grad_value = None
        if ctx.needs_input_grad[2]:
            grad_value = unbroadcast(xp(g).asarray(g[ctx.idx]), tuple(ctx.value_shape))
        return grad_input, None, grad_value


def setitem(input: Tensor, idx: Any, value: Any) -> None:
    """``input[idx] = value``, in place, with PyTorch's semantics.

    Without a graph the values go into input's array (views see them; its version counter
    moves). When grad mode is on and input (a non-leaf) or value requires grad, the write is
    recorded: input takes the written result and its place in the graph, gradients flow to value
    at the written positions and to input's old value elsewhere.

    Example:
        >>> import pyfastdl as fd
        >>> h = fd.tensor([1.0, 2.0], requires_grad=True)
        >>> out = fd.zeros(3)
        >>> out[1:] = h * 2
        >>> out.sum().backward()
        >>> out.tolist(), h.grad.tolist()
        ([0.0, 2.0, 4.0], [2.0, 2.0])
    """
    a = input.array
    idx, _ = _index(idx, a)
    if isinstance(value, Tensor) and type(value.array) is not type(a):
        if device_of(value.array) != device_of(a):  # ``x[i] = v`` copies across devices
            value = value.to(input.device)
    value_requires_grad = isinstance(value, Tensor) and value.requires_grad
    if autograd.is_grad_enabled() and (input.requires_grad or value_requires_grad):
        if isinstance(value, Tensor) and value.array.dtype != input.array.dtype:
            value = cast(value, input.array.dtype)
        rebind(input, SetItemFn.apply(input, idx, value), "index")
        return
    v = value.array if isinstance(value, Tensor) else value
    check_writable(input, "index")
    try:
        input.array[idx] = v
    except IndexError as e:
        raise _fail(e) from None
    except ValueError as e:
        raise ValueError(f"[index] {e}") from None
    autograd.bump_version(input)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The entries of `input` at positions `index` (1-d int) along `dim`."""
    d = norm_dim(dim, input.array.ndim, "index_select")
    ix = as_array(index)
    if ix.ndim > 1 or ix.dtype.kind not in "iu":
        raise IndexError(
            f"[index_select] index must be a 1-d integer tensor, got shape "
            f"{tuple(ix.shape)} of {ix.dtype}"
        )
    ix = on_device_of(input.array, ix, "index_select", move=not isinstance(index, Tensor))
    check_bounds(ix, input.array.shape[d] if input.array.ndim else 1, d, "index_select")
    return GetItemFn.apply(input, (slice(None),) * d + (ix.reshape(-1),), True)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The 1-d tensor of elements of `input` where the bool `mask` is True (broadcasting)."""
    m = as_array(mask)
    m = on_device_of(input.array, m, "masked_select", move=not isinstance(mask, Tensor))
    if m.shape != input.array.shape:
        shape = np.broadcast_shapes(m.shape, input.array.shape)
        input = expand(input, shape)
        m = xp(m).broadcast_to(m, shape)
    return GetItemFn.apply(input, (m,), False)


class GatherFn(Function):
    @staticmethod
    def forward(ctx, a, dim, index):
        # PyTorch lets index be smaller than input in the other dims: read only that corner
        corner = tuple(slice(0, n) if i != dim else slice(None) for i, n in enumerate(index.shape))
        try:
            out = xp(a).take_along_axis(a[corner], index, axis=dim)
        except IndexError as e:
            raise _fail(e) from None
        ctx.shape, ctx.dtype, ctx.dim, ctx.index = a.shape, a.dtype, dim, index
        return out

    @staticmethod
    def backward(ctx, g):
        m = xp(g)
        out = m.zeros(ctx.shape, ctx.dtype)
        add_at(out, grid(m, ctx.index.shape, ctx.dim, ctx.index), g)
        return out, None, None


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """out[i][j] = input[index[i][j]][j] for dim 0 (and so on): picks along `dim`."""
    a = input.array
    d = norm_dim(dim, a.ndim, "gather")
    ix = as_array(index)
    ix = on_device_of(a, ix, "gather", move=not isinstance(index, Tensor))
    if ix.dtype.kind not in "iu":
        raise TypeError(f"[gather] index must be an integer tensor, got {ix.dtype}")
    if ix.ndim != a.ndim:
        raise ValueError(
            f"[gather] index must have as many dims as input ({a.ndim}), got shape "
            f"{tuple(ix.shape)}"
        )
    for i, (n, k) in enumerate(zip(a.shape, ix.shape)):
        if i != d and k > n:
            raise ValueError(
                f"[gather] index shape {tuple(ix.shape)} is larger than input shape "
                f"{tuple(a.shape)} in dim {i}"
            )
    check_bounds(ix, a.shape[d] if a.ndim else 1, d, "gather")
    return GatherFn.apply(input, d, ix)


class ScatterAddFn(Function):
    @staticmethod
    def forward(ctx, a, dim, index, src):
        out = a.copy()
        idx = grid(xp(a), index.shape, dim, index)
        corner = tuple(slice(0, n) for n in index.shape)
        add_at(out, idx, src[corner])
        ctx.idx, ctx.src_shape, ctx.corner = idx, src.shape, corner
        return out

    @staticmethod
    def backward(ctx, g):
        gs = None
        if ctx.needs_input_grad[3]:
            gs = xp(g).zeros(ctx.src_shape, g.dtype)
            gs[ctx.corner] = g[ctx.idx]
        return g, None, None, gs


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """input with src[i][j] added at [index[i][j]][j] for dim 0 (and so on); repeats accumulate."""
    d = norm_dim(dim, input.array.ndim, "scatter_add")
    ix = as_array(index)
    ix = on_device_of(input.array, ix, "scatter_add", move=not isinstance(index, Tensor))
    if ix.dtype.kind not in "iu":
        raise TypeError(f"[scatter_add] index must be an integer tensor, got {ix.dtype}")
    n = input.array.shape[d]
    check_bounds(ix, n, d, "scatter_add")
    return ScatterAddFn.apply(input, d, ix, src)


class WhereFn(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        a, b = operands(a, b)
        ctx.cond = cond
        ctx.ma = (a.shape, a.dtype) if ctx.needs_input_grad[1] else None
        ctx.mb = (b.shape, b.dtype) if ctx.needs_input_grad[2] else None
        return xp(cond).where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        zero = g.dtype.type(0)
        ga = None if ctx.ma is None else unbroadcast(xp(g).where(ctx.cond, g, zero), *ctx.ma)
        gb = None if ctx.mb is None else unbroadcast(xp(g).where(ctx.cond, zero, g), *ctx.mb)
        return None, ga, gb


def _bool(x: Any, op: str) -> Any:
    c = as_array(x)
    if c.dtype.kind != "b":
        c = c != 0
    return c


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """Elements of `input` where `condition` is True, else of `other` (broadcasting; numbers
    allowed). ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``.

    Example:
        >>> import pyfastdl as fd
        >>> x = fd.tensor([-1.0, 2.0])
        >>> fd.where(x > 0, x, 0.0).tolist()
        [0.0, 2.0]
    """
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    if input is None or other is None:
        raise TypeError("[where] expected where(condition, input, other) or where(condition)")
    c = as_array(condition)
    if c.dtype.kind != "b":
        raise TypeError(f"[where] condition must be a bool tensor, got {c.dtype}")
    like = input if isinstance(input, Tensor) else other
    if isinstance(like, Tensor) and type(like.array) is not type(c):
        c = _condition_on(like.array, c, input, other)
    return WhereFn.apply(c, input, other)


def _condition_on(like: Any, c: Any, input: Any, other: Any) -> Any:
    """where's condition on the device of its tensors: a GPU condition with CPU tensors that are
    all 0-d moves them instead (WhereFn.apply does), a 0-d CPU condition moves to the GPU."""
    if device_of(like) == device_of(c):
        return c
    if device_of(c) == "cuda" and all(
        not isinstance(t, Tensor) or t.array.ndim == 0 for t in (input, other)
    ):
        return c
    return on_device_of(like, c, "where")


def masked_fill(input: Tensor, mask: Any, value: Any) -> Tensor:
    """`input` with `value` where the bool `mask` is True (mask broadcasts to input)."""
    m = as_array(mask)
    if m.dtype.kind != "b":
        raise RuntimeError(
            f"[masked_fill] only supports boolean masks, but got mask with dtype {m.dtype}"
        )
    if type(m) is not type(input.array):
        m = on_device_of(input.array, m, "masked_fill", move=not isinstance(mask, Tensor))
    if isinstance(value, Tensor):
        if value.array.ndim:
            raise ValueError("[masked_fill] value must be a number or a 0-d tensor")
        value = value.array.item()
    try:
        np.broadcast_shapes(m.shape, input.array.shape)
    except ValueError:
        raise ValueError(
            f"[masked_fill] mask of shape {tuple(m.shape)} does not broadcast to "
            f"input of shape {tuple(input.array.shape)}"
        ) from None
    out = WhereFn.apply(m, value, input)
    if out.array.dtype != input.array.dtype:
        out = cast(out, input.array.dtype)
    return out


def nonzero(input: Tensor, *, as_tuple: bool = False) -> Any:
    """Indices of nonzero elements: an (n, ndim) int64 tensor, or a tuple of 1-d ones."""
    a = input.array
    idx = xp(a).nonzero(a) if a.ndim else xp(a).nonzero(a.reshape(1))
    if as_tuple:
        return tuple(wrap(i.astype(np.int64, copy=False)) for i in idx)
    return wrap(
        xp(a).stack(idx, axis=1).astype(np.int64, copy=False)
        if a.ndim
        else xp(a).zeros((int(bool(a)), 0), np.int64)
    )


# ---------------------------------------------------------------------- comparisons (no grad)
def _cmp(ufunc: str, name: str) -> Any:
    on_cpu = getattr(np, ufunc)

    def compare(input: Any, other: Any) -> Tensor:
        a = input.array if isinstance(input, Tensor) else input
        b = other.array if isinstance(other, Tensor) else other
        if isinstance(b, (list, tuple)):
            b = xp(a).asarray(b)
        tb = type(b)
        if tb is not type(a) and tb not in NUMBER_TYPES:
            a, b = one_device(name, a, b)
        r = on_cpu(a, b) if type(a) is _ndarray else getattr(xp2(a, b), ufunc)(a, b)
        return wrap(r if type(r) is not np.bool_ else np.asarray(r))

    compare.__name__ = compare.__qualname__ = name
    return compare


_ndarray = np.ndarray
eq = _cmp("equal", "eq")
ne = not_equal = _cmp("not_equal", "ne")
lt = less = _cmp("less", "lt")
le = less_equal = _cmp("less_equal", "le")
gt = greater = _cmp("greater", "gt")
ge = greater_equal = _cmp("greater_equal", "ge")
eq.__doc__ = "input == other elementwise, as a bool tensor (no gradient)."


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both tensors have the same shape and elements."""
    a, b = one_device("equal", input.array, other.array)
    return a.shape == b.shape and bool((a == b).all())


def isclose(
    input: Tensor, other: Tensor, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False
) -> Tensor:
    a, b = one_device("isclose", input.array, other.array)
    return wrap(xp2(a, b).isclose(a, b, rtol, atol, equal_nan))


def allclose(
    input: Tensor, other: Tensor, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False
) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan).array.all())


def isnan(input: Tensor) -> Tensor:
    a = input.array
    return wrap(xp(a).isnan(a))


def isinf(input: Tensor) -> Tensor:
    a = input.array
    return wrap(xp(a).isinf(a))


def isfinite(input: Tensor) -> Tensor:
    a = input.array
    return wrap(xp(a).isfinite(a))


def _logical(name: str) -> Any:
    def op(input: Any, other: Any) -> Tensor:
        a = input.array if isinstance(input, Tensor) else input
        b = other.array if isinstance(other, Tensor) else other
        a, b = one_device(name, a, b)
        return wrap(xp2(a, b).asarray(getattr(xp2(a, b), name)(a, b)))

    op.__name__ = op.__qualname__ = name
    return op


logical_and = _logical("logical_and")
logical_or = _logical("logical_or")
logical_xor = _logical("logical_xor")


def logical_not(input: Tensor) -> Tensor:
    a = input.array
    return wrap(xp(a).logical_not(a))


def _bitwise(name: str) -> Any:
    def op(input: Any, other: Any) -> Tensor:
        a = input.array if isinstance(input, Tensor) else input
        b = other.array if isinstance(other, Tensor) else other
        for x in (a, b):
            if hasattr(x, "dtype") and x.dtype.kind not in "biu":
                raise TypeError(f"[{name}] expected integer or bool tensors, got {x.dtype}")
        a, b = operands(*one_device(name, a, b))
        m = xp2(a, b)
        return wrap(m.asarray(getattr(m, name)(a, b)))

    op.__name__ = op.__qualname__ = name
    return op


bitwise_and = _bitwise("bitwise_and")
bitwise_or = _bitwise("bitwise_or")
bitwise_xor = _bitwise("bitwise_xor")


def bitwise_not(input: Tensor) -> Tensor:
    a = input.array
    if a.dtype.kind not in "biu":
        raise TypeError(f"[bitwise_not] expected an integer or bool tensor, got {a.dtype}")
    return wrap(xp(a).invert(a))


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """input[..., start:start + length, ...] along `dim` (a view)."""
    a = input.array
    d = norm_dim(dim, a.ndim, "narrow")
    n = a.shape[d]
    if start < 0:
        start += n
    if not (0 <= start <= n) or length < 0 or start + length > n:
        raise IndexError(
            f"[narrow] start {start} and length {length} are out of range for dim {d} of size {n}"
        )
    return getitem(input, (slice(None),) * d + (slice(start, start + length),))

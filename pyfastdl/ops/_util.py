"""Helpers shared by the op families: broadcasting reduction, dims, type promotion.

Everything here runs on raw arrays (numpy on the CPU, cupy on the GPU) and is called once per op,
so it stays cheap: type checks by ``type(...) is``, no introspection.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..arrays import device_error, device_of, to_gpu
from ..arrays import xp as xp_of
from ..autograd import bump_version
from ..dtypes import get_default_dtype
from ..tensor import Tensor


def unbroadcast(g: Any, shape: tuple, dtype: Any = None) -> Any:
    """Sums gradient `g` over the dims that broadcasting added or stretched, to `shape`.

    A broadcast input of shape (3, 1) used in an output of shape (4, 3, 5) gets the sum of the
    output gradient over dim 0 (added) and dim 2 (stretched from 1), kept as (3, 1).
    """
    if g.shape != shape:
        extra = g.ndim - len(shape)
        if extra:
            g = g.sum(axis=tuple(range(extra)))
        stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
        if stretched:
            g = g.sum(axis=stretched, keepdims=True)
    if dtype is not None and g.dtype != dtype:
        g = g.astype(dtype)
    return g


def norm_dim(dim: Any, ndim: int, op: str) -> int:
    """`dim` in 0..ndim-1 (negative counts from the end); IndexError naming `op` otherwise.

    A 0-d tensor accepts dim 0 and -1, as in PyTorch.
    """
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"[{op}] dim must be an int, got {type(dim).__name__}")
    n = ndim if ndim else 1
    if not -n <= dim < n:
        raise IndexError(
            f"[{op}] dim {dim} is out of range for a tensor of {ndim} dims (expected {-n}..{n - 1})"
        )
    return int(dim) % n


def norm_dims(dim: Any, ndim: int, op: str) -> tuple | None:
    """`dim` (None, an int, or a tuple/list of ints) as a sorted tuple of non-negative axes.

    None (and an empty tuple, as in PyTorch's sum) means every dim; for a 0-d array it is ().
    """
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        if len(dim) == 0:
            return None
        axes = tuple(norm_dim(d, ndim, op) for d in dim)
        if len(set(axes)) != len(axes):
            raise ValueError(f"[{op}] dim {tuple(dim)} names a dim more than once")
        return tuple(sorted(axes)) if ndim else ()
    return (norm_dim(dim, ndim, op),) if ndim else ()


def result_dtype(a: Any, b: Any) -> np.dtype:
    """PyTorch's result dtype for a binary op on arrays and/or Python scalars.

    Within one category (bool < integer < floating) the larger dtype wins, but a 0-d array only
    decides when the other operand is also 0-d (so ``float32 tensor * float64 0-d tensor`` stays
    float32); a higher category always wins, and a Python float with an integer tensor gives the
    default float dtype.
    """
    sa = not hasattr(a, "dtype")
    sb = not hasattr(b, "dtype")
    if sa or sb:
        t, s = (b, a) if sa else (a, b)
        dt = t.dtype
        if isinstance(s, bool) or dt.kind in "fc":
            return dt
        if isinstance(s, (float, np.floating)):
            return get_default_dtype()
        if isinstance(s, complex):
            raise TypeError("[ops] complex scalars are not supported")
        if dt.kind == "b":
            return np.dtype(np.int64)
        return dt
    da, db = a.dtype, b.dtype
    if da == db:
        return da
    ca = 2 if da.kind == "f" else (0 if da.kind == "b" else 1)
    cb = 2 if db.kind == "f" else (0 if db.kind == "b" else 1)
    if ca != cb:
        return da if ca > cb else db
    za, zb = a.ndim == 0, b.ndim == 0
    if za != zb:
        return db if za else da
    return np.promote_types(da, db)


def operands(a: Any, b: Any) -> tuple:
    """Both operands of a binary op, cast to the PyTorch result dtype where they differ.

    Python scalars stay scalars (numpy treats them as weak, so float32 stays float32) unless
    the tensor is integral and the scalar is a float.
    """
    ta = type(a)
    tb = type(b)
    if ta is tb and ta is np.ndarray and a.dtype == b.dtype:
        return a, b
    dt = result_dtype(a, b)
    if hasattr(a, "dtype"):
        if a.dtype != dt:
            a = a.astype(dt)
    elif dt.kind == "f":
        a = float(a)
    if hasattr(b, "dtype"):
        if b.dtype != dt:
            b = b.astype(dt)
    elif dt.kind == "f":
        b = float(b)
    return a, b


def xp2(a: Any, b: Any) -> Any:
    """The array module of a binary op's operands (either may be a Python number)."""
    m = xp_of(a)
    return m if m is not np else xp_of(b)


NUMBER_TYPES = frozenset((int, float, bool, complex))


def one_device(op: str, a: Any, b: Any) -> tuple:
    """Operands `a`, `b` (arrays or numbers) of an op outside Function.apply, on one device:
    themselves when their types agree, one is a Python number or they are on one device; a 0-d
    host array (or NumPy scalar) among GPU arrays moved there, as PyTorch allows; RuntimeError
    ``[op] expected all tensors on the same device, got cpu and cuda`` for any other mix."""
    ta, tb = type(a), type(b)
    if ta is tb or ta in NUMBER_TYPES or tb in NUMBER_TYPES:
        return a, b
    da, db = device_of(a), device_of(b)
    if da == db:
        return a, b
    if da == "cpu":
        return _to_gpu_0d(op, a, da, db), b
    return a, _to_gpu_0d(op, b, da, db)


def _to_gpu_0d(op: str, x: Any, *devices: str) -> Any:
    if not hasattr(x, "shape"):
        return x  # a Python number
    if x.ndim:
        raise device_error(op, *devices)
    return to_gpu(x, op)


def on_device_of(like: Any, x: Any, op: str, move: bool = False) -> Any:
    """`x` (an index, a mask, a value: an array or a number) on the device of array `like`:
    itself when it is there; moved to the GPU when it is a 0-d host array, or any host array
    with `move` (PyTorch indexes a GPU tensor with CPU indices); else RuntimeError."""
    if type(x) is type(like) or not hasattr(x, "shape"):
        return x
    dl, dx = device_of(like), device_of(x)
    if dl == dx:
        return x
    if dx == "cpu" and (move or x.ndim == 0):
        return to_gpu(x, op)
    raise device_error(op, dl, dx)


def grid(m: Any, shape: tuple, dim: int, index: Any) -> tuple:
    """The index of the elements that `index` (an integer array of `shape`) points at along
    `dim`: `index` itself in `dim`, each element's own position in the other dims, as broadcast
    aranges (``np.indices(shape, sparse=True)`` with `dim` replaced; `m` the array module)."""
    out = []
    for d, n in enumerate(shape):
        if d == dim:
            out.append(index)
        else:
            s = [1] * len(shape)
            s[d] = n
            out.append(m.arange(n).reshape(s))
    return tuple(out)


def as_array(x: Any) -> Any:
    """The array of a Tensor, an array itself (NumPy or GPU), anything else (lists, numbers)
    as a NumPy array."""
    if isinstance(x, Tensor):
        return x.array
    return x if hasattr(x, "dtype") and hasattr(x, "shape") else np.asarray(x)


def arr(x: Any) -> Any:
    """The array of a Tensor, or `x` itself."""
    return x.array if isinstance(x, Tensor) else x


def wrap(a: Any) -> Tensor:
    """A Tensor outside the graph holding array `a` (results that carry no gradient)."""
    return Tensor._from_op(a, None, 0)


def check_writable(t: Tensor, op: str) -> None:
    """RuntimeError naming `op` unless `t`'s memory may be written in place."""
    if not getattr(t.array.flags, "writeable", True):
        raise RuntimeError(
            f"[{op}] can't write in place into a read-only tensor (a broadcast/expanded view or "
            "a read-only array); clone() it first"
        )


def write_into(self: Tensor, value: Any, op: str) -> Tensor:
    """Writes `value` into self's memory (what an in-place op does without a graph): views and
    references to the array see the change, and self's version counter moves."""
    check_writable(self, op)
    a = self.array
    try:
        a[...] = value
    except ValueError as e:
        raise RuntimeError(
            f"[{op}] the result of shape {tuple(getattr(value, 'shape', ()))} can't be written "
            f"in place into a tensor of shape {tuple(a.shape)}: {e}"
        ) from None
    bump_version(self)
    return self


def rebind(self: Tensor, out: Tensor, op: str) -> Tensor:
    """The in-place form of an op whose out-of-place result is `out` (``relu(x, inplace=True)``,
    ``x.add_(y)``, ``x += y``), with PyTorch's semantics: `self` takes the new value.

    Without a graph the values are written into self's memory (:func:`write_into`). With one (grad
    mode on and self or an operand requiring grad) the new values can't overwrite memory that a
    backward may have saved, so self takes the result's array and its place in the graph, as
    PyTorch rebases a tensor onto the in-place op's node; earlier nodes keep their edges to the
    old value. Tensors viewing self's old memory keep the old values.
    """
    if out._node is None:
        return write_into(self, out.array, op)
    if self.requires_grad and self._node is None:
        raise RuntimeError(
            f"[{op}] a leaf tensor that requires grad is being used in an in-place operation; run "
            "it under pyfastdl.no_grad() or use the out-of-place form"
        )
    if out.array.shape != self.array.shape:
        raise RuntimeError(
            f"[{op}] the result of shape {tuple(out.array.shape)} can't be written in place into "
            f"a tensor of shape {tuple(self.array.shape)}"
        )
    if out.array.dtype != self.array.dtype:
        raise TypeError(
            f"[{op}] result type {out.array.dtype} can't be written in place into a tensor of "
            f"dtype {self.array.dtype}"
        )
    self.array = out.array
    self._node = out._node
    self._out_index = out._out_index
    self._version_counter = out._version_counter
    self.requires_grad = True
    return self

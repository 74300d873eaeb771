"""Binds the ops to :class:`Tensor` as methods and Python operators (``x.sum(1)``, ``x + 1``,
``x @ w``, ``x[i]``, ``x += 1``).

The functions are assigned as they are (``Tensor.exp = exp``), so a method call costs no more
than the function call. Reflected operators swap the operands; in-place operators write into
the tensor's array unless autograd needs the old value, in which case they return a new tensor
(Python rebinds the name, as for immutable numbers).
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ..autograd import _mode
from ..kernels import trace as _trace
from ..tensor import Tensor, empty, full, ones, tensor, zeros
from . import (
    activation,
    convert,
    elementwise,
    elementwise_math,
    fast,
    indexing,
    inplace,
    layout,
    matrix,
    norms,
    products,
    reduction,
    scattering,
    shape,
    sorting,
)
from . import matmul as matmul_ops
from .elementwise import AddFn, DivFn, MulFn, PowFn, SubFn
from .indexing import getitem, setitem

_NUMBER = (int, float, bool, np.number, np.bool_)


def _ok(other: Any) -> bool:
    return isinstance(other, (Tensor, np.ndarray) + _NUMBER)


# ---------------------------------------------------------------------- arithmetic operators
def __add__(self: Tensor, other: Any) -> Any:
    return AddFn.apply(self, other) if _ok(other) else NotImplemented


def __sub__(self: Tensor, other: Any) -> Any:
    return SubFn.apply(self, other) if _ok(other) else NotImplemented


def __rsub__(self: Tensor, other: Any) -> Any:
    return SubFn.apply(other, self) if _ok(other) else NotImplemented


def __mul__(self: Tensor, other: Any) -> Any:
    return MulFn.apply(self, other) if _ok(other) else NotImplemented


def __truediv__(self: Tensor, other: Any) -> Any:
    return DivFn.apply(self, other) if _ok(other) else NotImplemented


def __rtruediv__(self: Tensor, other: Any) -> Any:
    return DivFn.apply(other, self) if _ok(other) else NotImplemented


def __pow__(self: Tensor, other: Any) -> Any:
    return PowFn.apply(self, other) if _ok(other) else NotImplemented


def __rpow__(self: Tensor, other: Any) -> Any:
    return PowFn.apply(other, self) if _ok(other) else NotImplemented


# Outside any graph, + - * go straight to NumPy (ops/fast.py); otherwise to the ops above.
# Inside one, they record their Function through fast.record.
_fast_add = fast.binary(operator.add, __add__, function=AddFn)
_fast_sub = fast.binary(operator.sub, __sub__, function=SubFn)
_fast_rsub = fast.binary(operator.sub, __rsub__, swap=True, function=SubFn)
_fast_mul = fast.binary(operator.mul, __mul__, function=MulFn)


def __matmul__(self: Tensor, other: Any) -> Any:
    if type(other) is Tensor:
        out = fast.matmul_2d(self, other)
        if out is None and _mode.enabled and (self.requires_grad or other.requires_grad):
            if not _trace.listening:
                out = fast.record(matmul_ops.MatmulFn, (self, other))
        return out if out is not None else matmul_ops.matmul(self, other)
    if isinstance(other, np.ndarray):
        other = Tensor(other)
    return matmul_ops.matmul(self, other) if isinstance(other, Tensor) else NotImplemented


def __rmatmul__(self: Tensor, other: Any) -> Any:
    if isinstance(other, np.ndarray):
        return matmul_ops.matmul(Tensor(other), self)
    return NotImplemented


def __floordiv__(self: Tensor, other: Any) -> Any:
    return elementwise.floor_divide(self, other) if _ok(other) else NotImplemented


def __rfloordiv__(self: Tensor, other: Any) -> Any:
    return elementwise.floor_divide(other, self) if _ok(other) else NotImplemented


def __mod__(self: Tensor, other: Any) -> Any:
    return elementwise.remainder(self, other) if _ok(other) else NotImplemented


def __rmod__(self: Tensor, other: Any) -> Any:
    return elementwise.remainder(other, self) if _ok(other) else NotImplemented


def __pos__(self: Tensor) -> Tensor:
    return self


def _cmp_op(fn: Any) -> Any:
    def op(self: Tensor, other: Any) -> Any:
        if not (_ok(other) or isinstance(other, (list, tuple))):
            return NotImplemented
        return fn(self, other)

    return op


def _bit_op(logical: Any, bitwise: Any, reflected: bool = False) -> Any:
    def op(self: Tensor, other: Any) -> Any:
        if not _ok(other):
            return NotImplemented
        a, b = (other, self) if reflected else (self, other)
        both_bool = self.array.dtype.kind == "b" and (
            isinstance(other, (bool, np.bool_)) or getattr(other, "dtype", None) == np.bool_
        )
        return logical(a, b) if both_bool else bitwise(a, b)

    return op


def __invert__(self: Tensor) -> Tensor:
    if self.array.dtype.kind == "b":
        return indexing.logical_not(self)
    return indexing.bitwise_not(self)


# ---------------------------------------------------------------------- in-place operators
def _inplace_op(method: Any) -> Any:
    """``a += b`` and friends: the in-place method (which records the op when a graph needs it
    and changes `a` itself, as PyTorch does)."""

    def op(self: Tensor, other: Any) -> Any:
        if not _ok(other):
            return NotImplemented
        return method(self, other)

    return op


# ---------------------------------------------------------------------- methods
def _T(self: Tensor) -> Tensor:
    """The dims in reverse order (the transpose of a matrix)."""
    n = self.array.ndim
    return self if n < 2 else shape.permute(self, *range(n - 1, -1, -1))


def _where(self: Tensor, condition: Any, y: Any) -> Tensor:
    return indexing.where(condition, self, y)


def _type_as(self: Tensor, other: Tensor) -> Tensor:
    return convert.cast(self, other.array.dtype)


def _new(fill: Any) -> Any:
    def new(
        self: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        return fill(
            *size,
            dtype=dtype or self.array.dtype,
            device=self.device if device is None else device,
            requires_grad=requires_grad,
        )

    return new


def _new_full(
    self: Tensor,
    size: Any,
    fill_value: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    return full(
        size,
        fill_value,
        dtype=dtype or self.array.dtype,
        device=self.device if device is None else device,
        requires_grad=requires_grad,
    )


def _new_tensor(
    self: Tensor, data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    return tensor(
        data,
        dtype=dtype or self.array.dtype,
        device=self.device if device is None else device,
        requires_grad=requires_grad,
    )


def _in_place(fn: Any, op: str) -> Any:
    """The in-place form of `fn` (``tril_``, ...): the result written into self's array, under
    the rule of ``ops.inplace`` (not on a tensor that requires grad while grad mode is on)."""

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        inplace._check(self, op)
        self.array[...] = fn(self, *args, **kwargs).array
        return self

    method.__name__ = op
    method.__doc__ = f"In-place ``{fn.__name__}``."
    return method


def install() -> None:
    """Attaches the operators and methods to Tensor (run once, by ``pyfastdl.ops``)."""
    ops: dict[str, Any] = {
        "__add__": _fast_add,
        "__radd__": _fast_add,
        "__sub__": _fast_sub,
        "__rsub__": _fast_rsub,
        "__mul__": _fast_mul,
        "__rmul__": _fast_mul,
        "__truediv__": __truediv__,
        "__rtruediv__": __rtruediv__,
        "__pow__": __pow__,
        "__rpow__": __rpow__,
        "__matmul__": __matmul__,
        "__rmatmul__": __rmatmul__,
        "__floordiv__": __floordiv__,
        "__rfloordiv__": __rfloordiv__,
        "__mod__": __mod__,
        "__rmod__": __rmod__,
        "__neg__": elementwise.neg,
        "__pos__": __pos__,
        "__abs__": elementwise.abs,
        "__eq__": _cmp_op(indexing.eq),
        "__ne__": _cmp_op(indexing.ne),
        "__lt__": _cmp_op(indexing.lt),
        "__le__": _cmp_op(indexing.le),
        "__gt__": _cmp_op(indexing.gt),
        "__ge__": _cmp_op(indexing.ge),
        "__and__": _bit_op(indexing.logical_and, indexing.bitwise_and),
        "__rand__": _bit_op(indexing.logical_and, indexing.bitwise_and, True),
        "__or__": _bit_op(indexing.logical_or, indexing.bitwise_or),
        "__ror__": _bit_op(indexing.logical_or, indexing.bitwise_or, True),
        "__xor__": _bit_op(indexing.logical_xor, indexing.bitwise_xor),
        "__rxor__": _bit_op(indexing.logical_xor, indexing.bitwise_xor, True),
        "__invert__": __invert__,
        "__getitem__": getitem,
        "__setitem__": setitem,
        "__iadd__": _inplace_op(inplace.add_),
        "__isub__": _inplace_op(inplace.sub_),
        "__imul__": _inplace_op(inplace.mul_),
        "__itruediv__": _inplace_op(inplace.div_),
        "__ipow__": _inplace_op(inplace.pow_),
        # methods
        "add": elementwise.add,
        "sub": elementwise.sub,
        "subtract": elementwise.sub,
        "mul": elementwise.mul,
        "multiply": elementwise.mul,
        "div": elementwise.div,
        "divide": elementwise.div,
        "true_divide": elementwise.div,
        "pow": elementwise.pow,
        "neg": elementwise.neg,
        "negative": elementwise.neg,
        "exp": elementwise.exp,
        "expm1": elementwise.expm1,
        "log": elementwise.log,
        "log2": elementwise.log2,
        "log10": elementwise.log10,
        "log1p": elementwise.log1p,
        "sqrt": elementwise.sqrt,
        "rsqrt": elementwise.rsqrt,
        "square": elementwise.square,
        "abs": elementwise.abs,
        "absolute": elementwise.abs,
        "sign": elementwise.sign,
        "reciprocal": elementwise.reciprocal,
        "sin": elementwise.sin,
        "cos": elementwise.cos,
        "floor": elementwise.floor,
        "ceil": elementwise.ceil,
        "round": elementwise.round,
        "trunc": elementwise.trunc,
        "clamp": elementwise.clamp,
        "clip": elementwise.clamp,
        "clamp_min": elementwise.clamp_min,
        "clamp_max": elementwise.clamp_max,
        "maximum": elementwise.maximum,
        "minimum": elementwise.minimum,
        "floor_divide": elementwise.floor_divide,
        "remainder": elementwise.remainder,
        "fmod": elementwise.fmod,
        "lerp": elementwise.lerp,
        "addcmul": elementwise.addcmul,
        "addcdiv": elementwise.addcdiv,
        "relu": activation.relu,
        "sigmoid": activation.sigmoid,
        "tanh": activation.tanh,
        "erf": activation.erf,
        "sum": reduction.sum,
        "mean": reduction.mean,
        "prod": reduction.prod,
        "max": reduction.max,
        "min": reduction.min,
        "amax": reduction.amax,
        "amin": reduction.amin,
        "argmax": reduction.argmax,
        "argmin": reduction.argmin,
        "var": reduction.var,
        "std": reduction.std,
        "logsumexp": reduction.logsumexp,
        "norm": norms.norm,
        "all": reduction.all,
        "any": reduction.any,
        "cumsum": reduction.cumsum,
        "cumprod": reduction.cumprod,
        "sort": sorting.sort,
        "argsort": sorting.argsort,
        "msort": sorting.msort,
        "topk": sorting.topk,
        "kthvalue": sorting.kthvalue,
        "unique": sorting.unique,
        "tril": matrix.tril,
        "triu": matrix.triu,
        "diag": matrix.diag,
        "diagonal": matrix.diagonal,
        "diag_embed": matrix.diag_embed,
        "addmm": matrix.addmm,
        "addmv": matrix.addmv,
        "baddbmm": matrix.baddbmm,
        "roll": layout.roll,
        "repeat_interleave": layout.repeat_interleave,
        "tensor_split": layout.tensor_split,
        "hsplit": layout.hsplit,
        "vsplit": layout.vsplit,
        "dsplit": layout.dsplit,
        "scatter": scattering.scatter,
        "index_add": scattering.index_add,
        "index_fill": scattering.index_fill,
        "masked_scatter": scattering.masked_scatter,
        "argwhere": scattering.argwhere,
        "trace": matrix.trace,
        "diagflat": matrix.diagflat,
        "rot90": layout.rot90,
        "fliplr": layout.fliplr,
        "flipud": layout.flipud,
        "ravel": layout.ravel,
        "select": layout.select,
        "diff": layout.diff,
        "take_along_dim": layout.take_along_dim,
        "count_nonzero": reduction.count_nonzero,
        "cross": products.cross,
        "kron": products.kron,
        "unfold": layout.unfold,
        "index_put": scattering.index_put,
        "aminmax": reduction.aminmax,
        "nansum": reduction.nansum,
        "nanmean": reduction.nanmean,
        "cummax": sorting.cummax,
        "cummin": sorting.cummin,
        "median": sorting.median,
        "quantile": sorting.quantile,
        "nanquantile": sorting.nanquantile,
        "nan_to_num": scattering.nan_to_num,
        "reshape": shape.reshape,
        "view": shape.view,
        "view_as": shape.view_as,
        "reshape_as": shape.reshape_as,
        "flatten": shape.flatten,
        "unflatten": shape.unflatten,
        "transpose": shape.transpose,
        "swapaxes": shape.transpose,
        "swapdims": shape.transpose,
        "permute": shape.permute,
        "t": shape.t,
        "squeeze": shape.squeeze,
        "unsqueeze": shape.unsqueeze,
        "expand": shape.expand,
        "expand_as": shape.expand_as,
        "broadcast_to": shape.broadcast_to,
        "repeat": shape.repeat,
        "tile": shape.tile,
        "split": shape.split,
        "chunk": shape.chunk,
        "unbind": shape.unbind,
        "flip": shape.flip,
        "narrow": indexing.narrow,
        "movedim": shape.movedim,
        "moveaxis": shape.movedim,
        "contiguous": shape.contiguous,
        "clone": convert.clone,
        "to": convert.to,
        "type_as": _type_as,
        "matmul": matmul_ops.matmul,
        "mm": matmul_ops.mm,
        "bmm": matmul_ops.bmm,
        "dot": matmul_ops.dot,
        "mv": matmul_ops.mv,
        "outer": matmul_ops.outer,
        "inner": matmul_ops.dot,
        "gather": indexing.gather,
        "index_select": indexing.index_select,
        "masked_fill": indexing.masked_fill,
        "masked_select": indexing.masked_select,
        "scatter_add": indexing.scatter_add,
        "where": _where,
        "nonzero": indexing.nonzero,
        "eq": indexing.eq,
        "ne": indexing.ne,
        "lt": indexing.lt,
        "le": indexing.le,
        "gt": indexing.gt,
        "ge": indexing.ge,
        "greater": indexing.gt,
        "less": indexing.lt,
        "equal": indexing.equal,
        "isclose": indexing.isclose,
        "allclose": indexing.allclose,
        "isnan": indexing.isnan,
        "isinf": indexing.isinf,
        "isfinite": indexing.isfinite,
        "logical_and": indexing.logical_and,
        "logical_or": indexing.logical_or,
        "logical_not": indexing.logical_not,
        "logical_xor": indexing.logical_xor,
        "new_zeros": _new(zeros),
        "new_ones": _new(ones),
        "new_empty": _new(empty),
        "new_full": _new_full,
        "new_tensor": _new_tensor,
    }
    for fn in (
        matrix.tril,
        matrix.triu,
        reduction.cumsum,
        reduction.cumprod,
        scattering.nan_to_num,
        matrix.addmm,
        matrix.addmv,
        matrix.baddbmm,
        scattering.scatter,
        indexing.scatter_add,
        scattering.index_add,
        scattering.index_fill,
        scattering.index_put,
        scattering.masked_scatter,
    ):
        ops[fn.__name__ + "_"] = _in_place(fn, fn.__name__ + "_")
    ops["clip_"] = inplace.clamp_
    for name in elementwise_math.__all__:
        ops[name] = getattr(elementwise_math, name)
    for name in inplace.__all__:
        if name != "requires_grad_":
            ops[name] = getattr(inplace, name)
    for name, fn in ops.items():
        setattr(Tensor, name, fn)
    Tensor.T = property(_T)
    Tensor.mT = property(shape.adjoint)
    Tensor.mH = property(shape.adjoint)
    Tensor.H = property(_T)

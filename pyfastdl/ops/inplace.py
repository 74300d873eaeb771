"""In-place tensor methods (add_, mul_, zero_, copy_, normal_, ...), for optimizers and init.

PyTorch's rules apply. Without a graph (grad mode off, or nothing involved requires grad) the
write goes into the tensor's own array, so views and the optimizer's references see it, and the
tensor's version counter moves: a backward that saved that memory then raises instead of using
the changed values. With a graph (a non-leaf that requires grad, or an operand that does, while
grad mode is on) the op is recorded and the tensor takes the result and its place in the graph
(``_util.rebind``). A leaf that requires grad can't change in place while grad mode is on.

Operands are on self's device (a 0-d CPU tensor may join a GPU tensor, as in PyTorch); only
``copy_`` copies across devices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import autograd
from ..arrays import device_of, to_gpu, to_host, xp
from ..autograd import bump_version
from ..random import Generator, numpy_rng
from ..tensor import Tensor
from ._util import check_writable, on_device_of, rebind, xp2
from .activation import _sigmoid, relu, sigmoid, tanh
from .convert import cast, to_device
from .elementwise import (
    abs,
    add,
    addcdiv,
    addcmul,
    clamp,
    div,
    exp,
    lerp,
    mul,
    neg,
    pow,
    sqrt,
    sub,
)
from .indexing import masked_fill, where

__all__ = [
    "abs_",
    "add_",
    "addcdiv_",
    "addcmul_",
    "bernoulli_",
    "clamp_",
    "clamp_max_",
    "clamp_min_",
    "copy_",
    "div_",
    "exp_",
    "exponential_",
    "fill_",
    "lerp_",
    "masked_fill_",
    "mul_",
    "neg_",
    "normal_",
    "pow_",
    "random_",
    "relu_",
    "requires_grad_",
    "sigmoid_",
    "sqrt_",
    "sub_",
    "tanh_",
    "uniform_",
    "zero_",
]


def _in_graph(self: Tensor, *operands: Any) -> bool:
    """Whether the op must be recorded: grad mode is on and self or an operand requires grad."""
    if not autograd._mode.enabled:
        return False
    return self.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in operands)


def _recorded(self: Tensor, op: str, out: Tensor) -> Tensor:
    """Self takes the recorded out-of-place result `out`, cast to self's dtype as PyTorch does."""
    have, want = out.array.dtype, self.array.dtype
    if have != want:
        if not np.can_cast(have, want, casting="same_kind"):
            raise TypeError(f"[{op}] result type {have} can't be cast in place to {want}")
        out = cast(out, want)
    return rebind(self, out, op)


def _check(t: Tensor, op: str) -> Any:
    """The array an un-recorded in-place op writes into; its version moves."""
    if t.requires_grad and autograd._mode.enabled:
        what = "a leaf tensor" if t._node is None else "a tensor"
        raise RuntimeError(
            f"[{op}] {what} that requires grad is being used in an in-place operation; run it "
            "under pyfastdl.no_grad() or use the out-of-place form"
        )
    check_writable(t, op)
    bump_version(t)
    return t.array


def _no_value(t: Tensor) -> Tensor:
    """An all-False mask shaped like `t`: ``where(mask, t, v)`` is v with a zero gradient for t."""
    return Tensor(xp(t.array).zeros(t.array.shape, dtype=bool))


def _value(x: Any, a: Any, op: str) -> Any:
    """The array (or number) of operand `x` of an in-place op on array `a`, on a's device."""
    v = x.array if isinstance(x, Tensor) else x
    return v if type(v) is type(a) else on_device_of(a, v, op)


def _write(t: Tensor, op: str, ufunc: str, *args: Any) -> Tensor:
    """``ufunc(*args, out=t.array)``: the function `ufunc` (a name) of the array's module."""
    a = t.array
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            getattr(xp(a), ufunc)(*args, out=a, casting="same_kind")
    except TypeError as e:
        raise TypeError(
            f"[{op}] result can't be cast in place to the tensor's dtype {a.dtype}: {e}"
        ) from None
    except ValueError as e:
        raise ValueError(f"[{op}] {e}") from None
    return t


def add_(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """self += alpha * other, in place."""
    if _in_graph(self, other):
        return _recorded(self, "add_", add(self, other, alpha=alpha))
    a = _check(self, "add_")
    b = _value(other, a, "add_")
    if alpha != 1:
        b = b * alpha
    return _write(self, "add_", "add", a, b)


def sub_(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    if _in_graph(self, other):
        return _recorded(self, "sub_", sub(self, other, alpha=alpha))
    a = _check(self, "sub_")
    b = _value(other, a, "sub_")
    if alpha != 1:
        b = b * alpha
    return _write(self, "sub_", "subtract", a, b)


def mul_(self: Tensor, other: Any) -> Tensor:
    if _in_graph(self, other):
        return _recorded(self, "mul_", mul(self, other))
    a = _check(self, "mul_")
    return _write(self, "mul_", "multiply", a, _value(other, a, "mul_"))


def div_(self: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    if _in_graph(self, other):
        return _recorded(self, "div_", div(self, other, rounding_mode=rounding_mode))
    a = _check(self, "div_")
    if rounding_mode is None:
        return _write(self, "div_", "true_divide", a, _value(other, a, "div_"))
    a[...] = div(Tensor(a), other, rounding_mode=rounding_mode).array
    return self


def pow_(self: Tensor, exponent: Any) -> Tensor:
    if _in_graph(self, exponent):
        return _recorded(self, "pow_", pow(self, exponent))
    a = _check(self, "pow_")
    return _write(self, "pow_", "power", a, _value(exponent, a, "pow_"))


def zero_(self: Tensor) -> Tensor:
    """Sets every element to 0, in place."""
    if _in_graph(self):
        return _recorded(self, "zero_", where(_no_value(self), self, 0.0))
    _check(self, "zero_")[...] = 0
    return self


def fill_(self: Tensor, value: Any) -> Tensor:
    if _in_graph(self, value):
        return _recorded(self, "fill_", where(_no_value(self), self, value))
    a = _check(self, "fill_")
    a[...] = _value(value, a, "fill_")
    return self


def copy_(self: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """Copies `src` (broadcast to self's shape, cast to self's dtype) into self; `src` may be on
    another device (the copy moves it, as in PyTorch; `non_blocking` is accepted)."""
    if _in_graph(self, src) and isinstance(src, Tensor):
        if device_of(src.array) != device_of(self.array):
            src = to_device(src, self.device)  # differentiable: the gradient moves back
        return _recorded(self, "copy_", where(_no_value(self), self, src))
    a = _check(self, "copy_")
    s = src.array if isinstance(src, Tensor) else src
    if type(s) is not type(a):
        if device_of(a) == "cpu":
            s = to_host(s)  # a GPU source comes to the host
        elif device_of(s) == "cpu" or not hasattr(s, "shape"):
            s = to_gpu(s if hasattr(s, "shape") else np.asarray(s), "copy_")
    shape = tuple(getattr(s, "shape", ()))
    try:
        ok = np.broadcast_shapes(shape, a.shape) == a.shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"[copy_] source of shape {shape} does not broadcast to {tuple(a.shape)}")
    a[...] = s
    return self


def clamp_(self: Tensor, min: Any = None, max: Any = None) -> Tensor:
    if min is None and max is None:
        raise ValueError("[clamp_] at least one of min and max must be given")
    if _in_graph(self, min, max):
        return _recorded(self, "clamp_", clamp(self, min, max))
    a = _check(self, "clamp_")
    if min is not None:
        _write(self, "clamp_", "maximum", a, _value(min, a, "clamp_"))
    if max is not None:
        _write(self, "clamp_", "minimum", a, _value(max, a, "clamp_"))
    return self


def clamp_min_(self: Tensor, min: Any) -> Tensor:
    return clamp_(self, min=min)


def clamp_max_(self: Tensor, max: Any) -> Tensor:
    return clamp_(self, max=max)


def sqrt_(self: Tensor) -> Tensor:
    if _in_graph(self):
        return _recorded(self, "sqrt_", sqrt(self))
    return _write(self, "sqrt_", "sqrt", _check(self, "sqrt_"))


def exp_(self: Tensor) -> Tensor:
    if _in_graph(self):
        return _recorded(self, "exp_", exp(self))
    return _write(self, "exp_", "exp", _check(self, "exp_"))


def neg_(self: Tensor) -> Tensor:
    if _in_graph(self):
        return _recorded(self, "neg_", neg(self))
    return _write(self, "neg_", "negative", _check(self, "neg_"))


def abs_(self: Tensor) -> Tensor:
    if _in_graph(self):
        return _recorded(self, "abs_", abs(self))
    return _write(self, "abs_", "absolute", _check(self, "abs_"))


def relu_(self: Tensor) -> Tensor:
    if _in_graph(self):
        return _recorded(self, "relu_", relu(self))
    return _write(self, "relu_", "maximum", _check(self, "relu_"), 0)


def sigmoid_(self: Tensor) -> Tensor:
    if _in_graph(self):
        return _recorded(self, "sigmoid_", sigmoid(self))
    a = _check(self, "sigmoid_")
    a[...] = _sigmoid(a)
    return self


def tanh_(self: Tensor) -> Tensor:
    if _in_graph(self):
        return _recorded(self, "tanh_", tanh(self))
    return _write(self, "tanh_", "tanh", _check(self, "tanh_"))


def addcmul_(self: Tensor, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
    """self += value * tensor1 * tensor2, in place."""
    if _in_graph(self, tensor1, tensor2):
        return _recorded(self, "addcmul_", addcmul(self, tensor1, tensor2, value=value))
    a = _check(self, "addcmul_")
    p = _value(tensor1, a, "addcmul_") * _value(tensor2, a, "addcmul_")
    if value != 1:
        p = p * value
    return _write(self, "addcmul_", "add", a, p)


def addcdiv_(self: Tensor, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
    """self += value * tensor1 / tensor2, in place."""
    if _in_graph(self, tensor1, tensor2):
        return _recorded(self, "addcdiv_", addcdiv(self, tensor1, tensor2, value=value))
    a = _check(self, "addcdiv_")
    t1, t2 = _value(tensor1, a, "addcdiv_"), _value(tensor2, a, "addcdiv_")
    with np.errstate(divide="ignore", invalid="ignore"):
        q = xp2(t1, t2).true_divide(t1, t2)
    if value != 1:
        q = q * value
    return _write(self, "addcdiv_", "add", a, q)


def lerp_(self: Tensor, end: Any, weight: Any) -> Tensor:
    """self += weight * (end - self), in place."""
    if _in_graph(self, end, weight):
        return _recorded(self, "lerp_", lerp(self, end, weight))
    a = _check(self, "lerp_")
    d = _value(end, a, "lerp_") - a
    d *= _value(weight, a, "lerp_")
    return _write(self, "lerp_", "add", a, d)


def masked_fill_(self: Tensor, mask: Any, value: Any) -> Tensor:
    if _in_graph(self, value):
        return _recorded(self, "masked_fill_", masked_fill(self, mask, value))
    a = _check(self, "masked_fill_")
    m = _value(mask, a, "masked_fill_")
    x = xp(a)
    x.copyto(
        a,
        _value(value, a, "masked_fill_"),
        where=x.broadcast_to(m, a.shape) if m.shape != a.shape else m,
        casting="unsafe",
    )
    return self


def _fill_random(self: Tensor, op: str, sample: Any) -> Tensor:
    a = _check(self, op)
    if a.dtype.kind != "f" and op not in ("random_", "bernoulli_"):
        raise TypeError(f"[{op}] expected a floating-point tensor, got {a.dtype}")
    values = sample(a.shape)  # drawn on the host by the generator, then moved
    if type(a) is not np.ndarray:
        values = to_gpu(values, op)
    a[...] = values
    return self


def normal_(
    self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Generator | None = None
) -> Tensor:
    """Fills self with samples of N(mean, std^2), in place."""
    if std < 0:
        raise ValueError(f"[normal_] std must be non-negative, got {std}")
    rng = numpy_rng(generator)
    return _fill_random(self, "normal_", lambda s: rng.normal(mean, std, s))


def uniform_(
    self: Tensor, from_: float = 0.0, to: float = 1.0, *, generator: Generator | None = None
) -> Tensor:
    """Fills self with samples uniform on [from_, to), in place."""
    if from_ > to:
        raise ValueError(f"[uniform_] expected from_ <= to, got {from_} and {to}")
    rng = numpy_rng(generator)
    return _fill_random(self, "uniform_", lambda s: rng.uniform(from_, to, s))


def bernoulli_(self: Tensor, p: float = 0.5, *, generator: Generator | None = None) -> Tensor:
    """Fills self with 1 with probability p, else 0."""
    rng = numpy_rng(generator)
    prob = to_host(p.array) if isinstance(p, Tensor) else p
    return _fill_random(self, "bernoulli_", lambda s: rng.random(s) < prob)


def exponential_(self: Tensor, lambd: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    rng = numpy_rng(generator)
    return _fill_random(self, "exponential_", lambda s: rng.exponential(1.0 / lambd, s))


def random_(
    self: Tensor, from_: int = 0, to: int | None = None, *, generator: Generator | None = None
) -> Tensor:
    """Fills self with integers uniform on [from_, to) (random_(to) means [0, to))."""
    if to is None:
        from_, to = 0, from_
    rng = numpy_rng(generator)
    return _fill_random(self, "random_", lambda s: rng.integers(from_, to, s))


def requires_grad_(self: Tensor, requires_grad: bool = True) -> Tensor:
    return Tensor.requires_grad_(self, requires_grad)

"""Fast paths for the commonest calls outside any graph: ``a + b``, ``a * 2.0``, ``a @ b``.

Most calls in inference, in optimizer code and in a user's own NumPy-style code involve no
tensor that requires grad. For those, building a Context and going through Function.apply is
most of the cost of a small op (``a + b`` on 4x4 tensors: 2 us, of which NumPy's add is 0.3). A
fast path here does the same arithmetic directly, and hands anything it does not handle (a
tensor that requires grad, mixed dtypes, GPU arrays, shapes that do not broadcast, kernels.shadow
or anomaly mode listening) to the full op, which then gives the same result or the same named
error. Each path computes exactly what its Function's forward computes:

- add, sub, mul of two NumPy tensors of one dtype, or of a floating-point tensor and a Python
  float or int (NumPy's weak scalars keep the tensor's dtype, as PyTorch does). Division is not
  here: it silences NumPy's division-by-zero warnings, which costs more than it saves.
- matmul of two 2-d float32 tensors: the registry's current gemm kernel, called with its
  defaults (act(1 * a @ b + 0)), into a fresh output.
- linear (and linear_act) of a 2-d float32 input: the same gemm with the bias and the
  activation in its epilogue, the weight passed transposed as a view.
- unary ops and whole-tensor reductions (relu, sum, mean) ask :func:`plain` for the array of an
  input outside any graph and wrap their NumPy result with :func:`result`.

Inside a graph, :func:`record` is ``Function.apply`` without its generality for the commonest
case: every tensor argument a plain NumPy array, the others Python numbers, one output, nobody
listening. It runs the Function's own forward and builds the same node; anything else (and a
forward that raises, for the named error) goes to ``apply``. ``a * b`` with ``a`` requiring grad
(16x16 float32) took 3.5 us through the operator, its method and ``apply``; 2.5 us this way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd import (
    Context,
    Node,
    _mode,  # grad mode: under no_grad() nothing is recorded
    _share_version,
)
from ..kernels import registry
from ..kernels import trace as _trace
from ..tensor import Tensor

__all__ = ["binary", "linear_2d", "matmul_2d", "plain", "record", "result"]

_ndarray = np.ndarray
_from_op = Tensor._from_op
_FLOAT32 = np.dtype(np.float32)


def binary(
    compute: Callable[[Any, Any], Any],
    slow: Callable[[Tensor, Any], Any],
    swap: bool = False,
    function: type | None = None,
) -> Callable:
    """An operator method: `compute(x, y)` on the arrays when the fast path applies, else
    `slow(self, other)` (the full op). `swap`: a reflected operator (``2.0 * t``). `function`:
    the op's Function, recorded through :func:`record` when an operand requires grad."""

    def recorded(self: Tensor, other: Any) -> Any:
        out = None
        if function is not None:
            out = record(function, (other, self) if swap else (self, other))
        return out if out is not None else slow(self, other)

    def method(self: Tensor, other: Any) -> Any:
        if _trace.listening:
            return slow(self, other)
        x = self.array
        if type(x) is not _ndarray:
            return slow(self, other)
        recording = _mode.enabled
        kind = type(other)
        if kind is Tensor:
            y = other.array
            if type(y) is _ndarray and y.dtype == x.dtype:
                if recording and (self.requires_grad or other.requires_grad):
                    return recorded(self, other)
                try:
                    out = compute(y, x) if swap else compute(x, y)
                except ValueError:  # shapes that do not broadcast: the named error
                    return slow(self, other)
                return _from_op(out, None, 0)
        elif (kind is float or kind is int) and x.dtype.kind == "f":
            if recording and self.requires_grad:
                return recorded(self, other)
            return _from_op(compute(other, x) if swap else compute(x, other), None, 0)
        return slow(self, other)

    return method


def record(function: type, args: tuple) -> Tensor | None:
    """``function.apply(*args)`` for tensors of plain NumPy arrays and Python numbers while grad
    mode records, some tensor requires grad and nobody listens, for a Function of one output;
    None (nothing run, or a forward that raised) where ``apply`` must decide."""
    raw = []
    needs = []
    inputs = []
    for a in args:
        if type(a) is Tensor:
            x = a.array
            if type(x) is not _ndarray:
                return None
            raw.append(x)
            needs.append(a.requires_grad)
            inputs.append(a)
        else:
            raw.append(a)
            needs.append(False)
            inputs.append(None)
    ctx = Context()
    ctx.needs_input_grad = tuple(needs)
    try:
        out = function.forward(ctx, *raw)
    except Exception:  # apply runs it again and names the error
        return None
    if type(out) is not _ndarray:  # a NumPy scalar or a tuple: apply's general handling
        return None
    node = Node(function, ctx, tuple(inputs), 1)
    t = _from_op(out, node, 0)
    if out.base is not None:
        _share_version(t, args)
    node.watch_output(t)
    return t


def matmul_2d(self: Tensor, other: Tensor) -> Tensor | None:
    """self @ other for 2-d float32 NumPy tensors outside any graph; None when not applicable."""
    if (_mode.enabled and (self.requires_grad or other.requires_grad)) or _trace.listening:
        return None
    x, y = self.array, other.array
    if (
        type(x) is not _ndarray
        or type(y) is not _ndarray
        or x.ndim != 2
        or y.ndim != 2
        or x.dtype != _FLOAT32
        or y.dtype != _FLOAT32
    ):
        return None
    m, k = x.shape
    n = y.shape[1]
    if k != y.shape[0] or m == 0 or n == 0 or k == 0:
        return None  # the full op names the mismatch, or handles the empty product
    out = np.empty((m, n), _FLOAT32)
    registry.get("gemm", "cpu", _FLOAT32)(x, y, None, out)
    return _from_op(out, None, 0)


def linear_2d(x_t: Any, w_t: Any, b_t: Any, activation: str) -> Tensor | None:
    """act(x @ w.T + b) for a 2-d float32 input outside any graph; None when not applicable."""
    x, w = plain(x_t), plain(w_t)
    if x is None or w is None or x.ndim != 2 or w.ndim != 2:
        return None
    if x.dtype != _FLOAT32 or w.dtype != _FLOAT32 or x.shape[1] != w.shape[1]:
        return None
    b = None
    if b_t is not None:
        b = plain(b_t)
        if b is None or b.dtype != _FLOAT32 or b.shape != (w.shape[0],):
            return None
    if x.shape[0] == 0 or w.shape[0] == 0 or x.shape[1] == 0:
        return None
    out = np.empty((x.shape[0], w.shape[0]), _FLOAT32)
    gemm = registry.get("gemm", "cpu", _FLOAT32)
    if activation == "none":
        gemm(x, w.T, b, out)
    else:
        gemm(x, w.T, b, out, activation=activation)
    return _from_op(out, None, 0)


def plain(t: Any) -> np.ndarray | None:
    """The NumPy array of `t` when an op on it records nothing and nobody listens (it needs no
    grad, or grad mode is off; no kernels.shadow / anomaly mode; a CPU tensor); else None (take
    the full op)."""
    if type(t) is Tensor and not (t.requires_grad and _mode.enabled) and not _trace.listening:
        x = t.array
        if type(x) is _ndarray:
            return x
    return None


def result(a: Any) -> Tensor:
    """A tensor outside the graph holding `a`, a fresh array (a NumPy scalar becomes 0-d)."""
    return _from_op(a, None, 0)

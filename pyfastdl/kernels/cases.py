"""Test cases of each kernel, shared by ``kernels.check`` and the test suite.

A case builds the arguments of one call (inputs, the outputs the caller allocates, parameters);
``outputs`` names the positions of the output arguments, which are compared against the reference
with a tolerance that grows with the reduction length. A *probe* runs an op inside autograd (forward
and backward of a small expression) so that a swapped kernel is checked where models use it.

Families add their cases with ``@case("op")`` and their probes with ``@probe("op")``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Case", "case", "cases", "probe", "probes"]


@dataclass
class Case:
    """One call of a kernel: ``make(rng)`` returns (args, kwargs); ``outputs`` are arg positions."""

    name: str
    make: Callable[[np.random.Generator], tuple[list, dict]]
    outputs: tuple[int, ...]
    reduction: int = 1  # length of the longest sum behind one output element (tolerance scale)
    flops: float = 0.0  # for timing reports
    tags: tuple[str, ...] = field(default=())


_CASES: dict[str, list[Case]] = {}
_PROBES: dict[str, Callable] = {}


def case(
    op: str,
    name: str,
    outputs: tuple[int, ...],
    reduction: int = 1,
    flops: float = 0.0,
    tags: tuple[str, ...] = (),
) -> Callable:
    """Decorator: registers ``make(rng) -> (args, kwargs)`` as a case of `op`."""

    def add(make: Callable) -> Callable:
        _CASES.setdefault(op, []).append(Case(name, make, outputs, reduction, flops, tags))
        return make

    return add


def cases(op: str) -> list[Case]:
    """The cases of `op` (empty when it has none)."""
    return list(_CASES.get(op, []))


def probe(op: str) -> Callable:
    """Decorator: registers ``fn(rng) -> list of arrays`` (outputs and gradients) as a probe of `op`."""

    def add(fn: Callable) -> Callable:
        _PROBES[op] = fn
        return fn

    return add


def probes(op: str) -> Callable | None:
    return _PROBES.get(op)


# ------------------------------------------------------------------------------------------ gemm
def _f32(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def _gemm_case(
    name: str,
    m: int,
    k: int,
    n: int,
    *,
    trans_a: bool = False,
    trans_b: bool = False,
    batch: int | None = None,
    bias: str | None = None,
    activation: str = "none",
    alpha: float = 1.0,
    beta: float = 0.0,
    sliced: bool = False,
) -> None:
    def make(rng: np.random.Generator) -> tuple[list, dict]:
        lead = () if batch is None else (batch,)
        a = _f32(rng, *lead, k, m).swapaxes(-1, -2) if trans_a else _f32(rng, *lead, m, k)
        b = _f32(rng, *lead, n, k).swapaxes(-1, -2) if trans_b else _f32(rng, *lead, k, n)
        if sliced:  # row stride larger than the row: a window of a bigger matrix
            a = _f32(rng, *lead, m + 3, k + 5)[..., 2 : 2 + m, 3 : 3 + k]
        out = _f32(rng, *lead, m, n)
        bias_arr = {
            None: None,
            "col": _f32(rng, n),
            "row": _f32(rng, m, 1),
            "full": _f32(rng, m, n),
        }[bias]
        return [a, b, bias_arr, out], {"alpha": alpha, "beta": beta, "activation": activation}

    flops = 2.0 * m * n * k * (batch or 1)
    case("gemm", name, outputs=(3,), reduction=k, flops=flops)(make)


for _n in (1, 7, 16, 33, 64, 127, 256):
    _gemm_case(f"square {_n}", _n, _n, _n)
_gemm_case("mlp 64x784x64", 64, 784, 64, bias="col", activation="relu")
_gemm_case("mlp backward dW 784x64x64 (A transposed)", 784, 64, 64, trans_a=True)
_gemm_case("mlp backward dX 64x64x784 (B transposed)", 64, 64, 784, trans_b=True)
_gemm_case("odd 257x333x129", 257, 333, 129)
_gemm_case("both transposed 31x17x45", 31, 17, 45, trans_a=True, trans_b=True)
_gemm_case("sliced A 40x50x30", 40, 50, 30, sliced=True)
_gemm_case("alpha, beta 33x65x17", 33, 65, 17, alpha=0.5, beta=2.0)
_gemm_case("bias per row + sigmoid", 20, 30, 40, bias="row", activation="sigmoid")
_gemm_case("bias full + tanh", 20, 30, 40, bias="full", activation="tanh")
_gemm_case("gelu", 17, 19, 23, bias="col", activation="gelu")
_gemm_case("batched 5x31x9x14", 31, 9, 14, batch=5)
_gemm_case("K = 1", 65, 1, 33)
_gemm_case("1x4097x1", 1, 4097, 1)
_gemm_case("large 512x512x512", 512, 512, 512)


@probe("gemm")
def _gemm_probe(rng: np.random.Generator) -> list:
    """A two-layer perceptron: its output and every gradient go through gemm."""
    import pyfastdl as fd
    from pyfastdl.nn import functional as F

    x = fd.tensor(_f32(rng, 8, 13))
    w1 = fd.tensor(_f32(rng, 11, 13) * 0.3, requires_grad=True)
    b1 = fd.tensor(_f32(rng, 11), requires_grad=True)
    w2 = fd.tensor(_f32(rng, 5, 11) * 0.3, requires_grad=True)
    y = F.linear(F.relu(F.linear(x, w1, b1)), w2)
    (y * y).sum().backward()
    return [y.array, w1.grad.array, b1.grad.array, w2.grad.array]


# ------------------------------------------------------------------------------ softmax family
def _rows_case(op: str, name: str, rows: int, cols: int, *, transposed: bool = False) -> None:
    """Cases of the row-wise ops: forward(x, out) and backward(y, grad_y, grad_x) on (rows, cols)."""
    backward = op.endswith("_backward")
    log = op.startswith("log_")

    def make(rng: np.random.Generator) -> tuple[list, dict]:
        x = (_f32(rng, cols, rows).T if transposed else _f32(rng, rows, cols)) * 3
        if not backward:
            return [x, np.empty((rows, cols), np.float32)], {}
        shifted = x - x.max(axis=1, keepdims=True)
        log_y = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        y = (log_y if log else np.exp(log_y)).astype(np.float32)
        return [y, _f32(rng, rows, cols), np.empty((rows, cols), np.float32)], {}

    case(op, name, outputs=(2,) if backward else (1,), reduction=cols, flops=5.0 * rows * cols)(
        make
    )


for _op in ("softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward"):
    for _rows, _cols in ((1, 1), (7, 1), (1, 17), (15, 33), (64, 10), (33, 1031), (512, 1000)):
        _rows_case(_op, f"{_rows}x{_cols}", _rows, _cols)
    _rows_case(_op, "transposed 17x31", 17, 31, transposed=True)


def _cross_entropy_case(
    name: str,
    n: int,
    c: int,
    *,
    weighted: bool = False,
    ignore: bool = False,
    smoothing: float = 0.0,
    scale: float = 1.0,
    backward: bool = False,
) -> None:
    def make(rng: np.random.Generator) -> tuple[list, dict]:
        logits = _f32(rng, n, c) * scale
        target = rng.integers(0, c, n).astype(np.int64)
        if ignore:
            target[::3] = -100
        weight = rng.random(c).astype(np.float32) + 0.5 if weighted else None
        params = {"ignore_index": -100, "label_smoothing": smoothing}
        if backward:
            return [logits, target, weight, _f32(rng, n), np.empty((n, c), np.float32)], params
        return [logits, target, weight, np.empty(n, np.float32), np.empty(n, np.float32)], params

    op = "cross_entropy_backward" if backward else "cross_entropy_forward"
    case(op, name, outputs=(4,) if backward else (3, 4), reduction=c, flops=6.0 * n * c)(make)


for _bw in (False, True):
    _cross_entropy_case("64x10", 64, 10, backward=_bw)
    _cross_entropy_case("1x1", 1, 1, backward=_bw)
    _cross_entropy_case(
        "33x17 weighted, ignore_index", 33, 17, weighted=True, ignore=True, backward=_bw
    )
    _cross_entropy_case("31x1000 label smoothing 0.1", 31, 1000, smoothing=0.1, backward=_bw)
    _cross_entropy_case("16x10 logits x 1e8", 16, 10, scale=1e8, backward=_bw)
    _cross_entropy_case("512x1000", 512, 1000, backward=_bw)


def _classifier_probe(rng: np.random.Generator, loss: str) -> list:
    """A linear classifier whose loss (and its gradient) runs through the softmax family."""
    import pyfastdl as fd
    from pyfastdl.nn import functional as F

    x = fd.tensor(_f32(rng, 12, 7))
    w = fd.tensor(_f32(rng, 5, 7), requires_grad=True)
    target = fd.tensor(rng.integers(0, 5, 12))
    logits = F.linear(x, w)
    if loss == "cross_entropy":
        value = F.cross_entropy(logits, target, label_smoothing=0.05)
    elif loss == "log_softmax":
        value = F.nll_loss(F.log_softmax(logits, dim=1), target)
    else:
        value = (F.softmax(logits, dim=1) ** 2).sum()
    value.backward()
    return [value.array, w.grad.array]


for _op, _loss in (
    ("softmax_forward", "softmax"),
    ("softmax_backward", "softmax"),
    ("log_softmax_forward", "log_softmax"),
    ("log_softmax_backward", "log_softmax"),
    ("cross_entropy_forward", "cross_entropy"),
    ("cross_entropy_backward", "cross_entropy"),
):
    probe(_op)(lambda rng, _loss=_loss: _classifier_probe(rng, _loss))

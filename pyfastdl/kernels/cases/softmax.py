"""Test cases and autograd probes of the softmax family (softmax, log_softmax, cross-entropy)."""

from __future__ import annotations

import numpy as np

from .base import case, f32


def _rows_case(op: str, name: str, rows: int, cols: int, *, transposed: bool = False) -> None:
    """Cases of the row-wise ops: forward(x, out) and backward(y, grad_y, grad_x) on (rows, cols)."""
    backward = op.endswith("_backward")
    log = op.startswith("log_")

    def make(rng: np.random.Generator) -> tuple[list, dict]:
        x = (f32(rng, cols, rows).T if transposed else f32(rng, rows, cols)) * 3
        if not backward:
            return [x, np.empty((rows, cols), np.float32)], {}
        shifted = x - x.max(axis=1, keepdims=True)
        log_y = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        y = (log_y if log else np.exp(log_y)).astype(np.float32)
        return [y, f32(rng, rows, cols), np.empty((rows, cols), np.float32)], {}

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
        logits = f32(rng, n, c) * scale
        target = rng.integers(0, c, n).astype(np.int64)
        if ignore:
            target[::3] = -100
        weight = rng.random(c).astype(np.float32) + 0.5 if weighted else None
        params = {"ignore_index": -100, "label_smoothing": smoothing}
        if backward:
            return [logits, target, weight, f32(rng, n), np.empty((n, c), np.float32)], params
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

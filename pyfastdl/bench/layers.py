"""Memory-bound layer workloads, reported in GB/s against the measured triad bandwidth.

``pool``: ``F.max_pool2d`` / ``F.avg_pool2d``, 2x2 stride 2 on a (64, 64, 32, 32) float32 batch,
forward and forward + backward, vs PyTorch and vs NumPy (a reshape to (N, C, H/2, 2, W/2, 2) and
a max / mean over the window axes; its backward scatters through the same view). Bytes per call,
n input elements, m = n / 4 outputs (4 bytes each, int64 indices 8):
    forward (no grad, no indices)                   4n + 4m
    max forward + backward: forward with indices    4n + 4m + 8m, then 4m + 8m + 4n
    avg forward + backward:                         4n + 4m,      then 4m + 4n

``norm``: ``F.batch_norm`` on (64, 64, 32, 32) (training: batch statistics and a running-stat
update; eval: the running statistics) and ``F.layer_norm`` over the last 128 features of a
(32*128, 128) batch (a transformer's token rows), vs PyTorch. Bytes, T = the input's elements
(the per-channel / per-feature vectors are negligible): forward 2 x 4T (read x, write y);
forward + backward 5 x 4T (x, y; then x, grad_y, grad_x).

Example:
    >>> from pyfastdl.bench.layers import pool_case
    >>> pool_case("max", backward=False).nbytes
    20971520.0
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .ops import OpCase, Runner

POOL_SHAPE = (64, 64, 32, 32)
BN_SHAPE = (64, 64, 32, 32)
LN_SHAPE = (32 * 128, 128)
BN_PASSES = {"train": "train fwd", "train+bwd": "train fwd+bwd", "eval": "eval fwd"}


def _pool_bytes(kind: str, backward: bool, shape: tuple[int, ...]) -> float:
    n = float(np.prod(shape))
    m = n / 4
    if not backward:
        return 4 * n + 4 * m
    idx = 8 * m if kind == "max" else 0.0
    return (4 * n + 4 * m + idx) + (4 * m + idx + 4 * n)


def _numpy_pool(kind: str) -> Callable[..., Runner]:
    """A NumPy runner factory: window max / mean through a reshaped view, and its backward."""

    def make(arrays: list[np.ndarray], grad_out: np.ndarray | None, backward: bool) -> Runner:
        x = arrays[0]
        n, c, h, w = x.shape
        view = x.reshape(n, c, h // 2, 2, w // 2, 2)
        last: dict[str, np.ndarray] = {}

        def fn() -> None:
            y = view.max(axis=(3, 5)) if kind == "max" else view.mean(axis=(3, 5))
            last["y"] = y
            if backward:
                g = grad_out[:, :, :, None, :, None]
                if kind == "max":
                    gx = (view == y[:, :, :, None, :, None]) * g
                else:
                    gx = np.broadcast_to(g * np.float32(0.25), view.shape).copy()
                last["gx"] = gx.reshape(x.shape)

        def results() -> list[np.ndarray]:
            return [last["y"]] + ([last["gx"]] if backward else [])

        return Runner(fn, results)

    return make


def pool_case(kind: str, backward: bool, shape: tuple[int, ...] = POOL_SHAPE) -> OpCase:
    """max or avg pooling 2x2 stride 2 on `shape` (N, C, H, W), H and W even."""
    n, c, h, w = shape

    def inputs(rng: np.random.Generator) -> list[np.ndarray]:
        return [rng.standard_normal(shape, dtype=np.float32)]

    def call(F, x):  # noqa: N803 - F is the functional module
        return getattr(F, f"{kind}_pool2d")(x, 2)

    return OpCase(
        suite="pool",
        name=f"{kind}_pool2d 2x2 {'x'.join(map(str, shape))} " + ("fwd+bwd" if backward else "fwd"),
        inputs=inputs,
        call=call,
        out_shape=(n, c, h // 2, w // 2),
        grads=(True,),
        backward=backward,
        nbytes=_pool_bytes(kind, backward, shape),
        numpy=_numpy_pool(kind),
        needs=(f"{kind}_pool2d",),
        rtol=1e-5,
    )


def pool_cases(quick: bool) -> list[OpCase]:
    """max and avg, forward and forward + backward (the quick run: max fwd, max and avg fwd+bwd)."""
    if quick:
        return [pool_case("max", False), pool_case("max", True), pool_case("avg", True)]
    return [pool_case(k, b) for k in ("max", "avg") for b in (False, True)]


def batch_norm_case(mode: str, shape: tuple[int, ...] = BN_SHAPE) -> OpCase:
    """F.batch_norm on `shape` (N, C, ...): mode "train" (forward), "train+bwd" or "eval"."""
    c = shape[1]
    backward = mode == "train+bwd"
    training = mode != "eval"
    elements = float(np.prod(shape))

    def inputs(rng: np.random.Generator) -> list[np.ndarray]:
        return [
            rng.standard_normal(shape, dtype=np.float32),
            (rng.random(c, dtype=np.float32) + 0.5),
            rng.standard_normal(c, dtype=np.float32),
            rng.standard_normal(c, dtype=np.float32) * np.float32(0.1),
            rng.random(c, dtype=np.float32) + 0.5,
        ]

    def call(F, x, w, b, rm, rv):  # noqa: N803 - F is the functional module
        return F.batch_norm(x, rm, rv, w, b, training=training)

    return OpCase(
        suite="norm",
        name=f"batch_norm2d {BN_PASSES[mode]} {'x'.join(map(str, shape))}",
        inputs=inputs,
        call=call,
        out_shape=shape,
        grads=(True, True, True, False, False),
        backward=backward,
        nbytes=(5 if backward else 2) * 4 * elements,
        needs=("batch_norm",),
    )


def layer_norm_case(backward: bool, shape: tuple[int, int] = LN_SHAPE) -> OpCase:
    """F.layer_norm over the last dim of `shape` (rows, d), with weight and bias."""
    rows, d = shape

    def inputs(rng: np.random.Generator) -> list[np.ndarray]:
        return [
            rng.standard_normal(shape, dtype=np.float32),
            rng.random(d, dtype=np.float32) + 0.5,
            rng.standard_normal(d, dtype=np.float32),
        ]

    def call(F, x, w, b):  # noqa: N803 - F is the functional module
        return F.layer_norm(x, (d,), w, b)

    return OpCase(
        suite="norm",
        name=f"layer_norm {rows}x{d} {'fwd+bwd' if backward else 'fwd'}",
        inputs=inputs,
        call=call,
        out_shape=shape,
        grads=(True, True, True),
        backward=backward,
        nbytes=(5 if backward else 2) * 4.0 * rows * d,
        needs=("layer_norm",),
    )


def norm_cases(quick: bool) -> list[OpCase]:
    """Batch norm train fwd (full run only), train fwd+bwd and eval; layer norm fwd and fwd+bwd."""
    modes = ["train+bwd", "eval"] if quick else ["train", "train+bwd", "eval"]
    return [batch_norm_case(m) for m in modes] + [layer_norm_case(b) for b in (False, True)]

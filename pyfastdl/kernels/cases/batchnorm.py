"""Test cases and autograd probes of the batch normalization kernels.

Shapes cover the layouts the kernels distinguish: (N, C) vectors, (N, C, L) rows, (N, C, H, W)
planes; size 1 and odd sizes; non-contiguous inputs (a channel slice, a transposed plane).
"""

from __future__ import annotations

import numpy as np

from .base import case, f32

SHAPES = (
    (2, 3),
    (33, 17),
    (1, 4, 7),
    (5, 1, 33),
    (3, 5, 4, 4),
    (2, 3, 5, 7),
    (1, 1, 17, 31),
    (16, 64, 16, 16),
)


def _activation(rng: np.random.Generator, shape: tuple, layout: str) -> np.ndarray:
    """(N, C, *) float32: contiguous, every other channel of a wider array, or last dims swapped."""
    if layout == "channel slice":
        wide = f32(rng, shape[0], 2 * shape[1], *shape[2:])
        return wide[:, ::2]
    if layout == "transposed":
        return np.swapaxes(f32(rng, *shape[:-2], shape[-1], shape[-2]), -1, -2)
    return f32(rng, *shape)


def _stats(x: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    axes = (0,) + tuple(range(2, x.ndim))
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes)
    var = x64.var(axis=axes)
    return mean.astype(np.float32), (1 / np.sqrt(var + eps)).astype(np.float32)


def _cases_for(shape: tuple, layout: str, affine: bool) -> None:
    c = shape[1]
    m = int(np.prod(shape)) // c
    name = f"{'x'.join(map(str, shape))} {layout}{'' if affine else ', no affine'}"

    def params(rng: np.random.Generator) -> tuple:
        if not affine:
            return None, None
        return (f32(rng, c) * 0.5 + 1).astype(np.float32), f32(rng, c)

    def train(rng: np.random.Generator) -> tuple[list, dict]:
        x = _activation(rng, shape, layout) * 3 + 2
        w, b = params(rng)
        out = [np.empty(shape, np.float32)] + [np.empty(c, np.float32) for _ in range(3)]
        return [x, w, b, *out], {"eps": 1e-5}

    def evaluate(rng: np.random.Generator) -> tuple[list, dict]:
        x = _activation(rng, shape, layout)
        rm, rv = f32(rng, c), (rng.random(c) + 0.5).astype(np.float32)
        w, b = params(rng)
        return [x, rm, rv, w, b, np.empty(shape, np.float32)], {"eps": 1e-5}

    def backward(training: bool):
        def make(rng: np.random.Generator) -> tuple[list, dict]:
            x = _activation(rng, shape, layout)
            gy = _activation(rng, shape, layout)
            mean, invstd = _stats(x, 1e-5)
            w, _ = params(rng)
            out = [np.empty(shape, np.float32), np.empty(c, np.float32), np.empty(c, np.float32)]
            return [x, gy, mean, invstd, w, *out], {"training": training}

        return make

    size = float(np.prod(shape))
    case("batchnorm_forward_train", name, outputs=(3, 4, 5, 6), reduction=m, flops=7 * size)(train)
    case("batchnorm_forward_eval", name, outputs=(5,), reduction=1, flops=3 * size)(evaluate)
    case("batchnorm_backward", name, outputs=(5, 6, 7), reduction=m, flops=8 * size)(backward(True))
    case("batchnorm_backward", name + ", eval", outputs=(5, 6, 7), reduction=m, flops=4 * size)(
        backward(False)
    )


for _shape in SHAPES:
    _cases_for(_shape, "contiguous", True)
_cases_for((4, 6, 5), "contiguous", False)
_cases_for((3, 4, 5, 6), "channel slice", True)
_cases_for((3, 4, 5, 6), "transposed", False)
_cases_for((7, 9), "channel slice", True)

"""Test cases and autograd probes of the layer normalization kernels.

Rows (M, N) cover N = 1, odd N, N not a multiple of any vector width, M = 1, the transformer
shapes (4096, 128) and (4096, 768); layouts: contiguous, a window of wider rows, transposed
(column stride != 1); affine and not; rows far from zero (1e4 + 1e-2 * noise).
"""

from __future__ import annotations

import numpy as np

from .base import case, f32


def _rows(rng: np.random.Generator, m: int, n: int, layout: str, scale=1.0, offset=0.0):
    if layout == "row slice":
        a = f32(rng, m, n + 3)[:, 1 : n + 1]
    elif layout == "transposed":
        a = f32(rng, n, m).T
    else:
        a = f32(rng, m, n)
    return (a * scale + offset).astype(np.float32) if scale != 1.0 or offset else a


def _stats(x: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    x64 = x.astype(np.float64)
    return x64.mean(axis=1).astype(np.float32), (1 / np.sqrt(x64.var(axis=1) + eps)).astype(
        np.float32
    )


def _cases_for(m: int, n: int, layout: str = "contiguous", affine: bool = True, **data) -> None:
    name = f"{m}x{n} {layout}{'' if affine else ', no affine'}"
    if data:
        name += f", x*{data.get('scale', 1.0)}+{data.get('offset', 0.0)}"

    def params(rng: np.random.Generator) -> tuple:
        if not affine:
            return None, None
        return (f32(rng, n) * 0.5 + 1).astype(np.float32), f32(rng, n)

    def forward(rng: np.random.Generator) -> tuple[list, dict]:
        x = _rows(rng, m, n, layout, **data)
        w, b = params(rng)
        out = [np.empty((m, n), np.float32), np.empty(m, np.float32), np.empty(m, np.float32)]
        return [x, w, b, *out], {"eps": 1e-5}

    def backward(rng: np.random.Generator) -> tuple[list, dict]:
        x = _rows(rng, m, n, layout, **data)
        gy = _rows(rng, m, n, layout)
        mean, rstd = _stats(x, 1e-5)
        w, _ = params(rng)
        out = [np.empty((m, n), np.float32), np.empty(n, np.float32), np.empty(n, np.float32)]
        return [x, gy, mean, rstd, w, *out], {}

    size = float(m * n)
    case("layer_norm_forward", name, outputs=(3, 4, 5), reduction=n, flops=7 * size)(forward)
    case("layer_norm_backward", name, outputs=(5, 6, 7), reduction=max(m, n), flops=10 * size)(
        backward
    )


for _m, _n in ((1, 1), (5, 1), (1, 7), (3, 33), (17, 100), (2, 1000), (4096, 128), (4096, 768)):
    _cases_for(_m, _n)
_cases_for(9, 31, affine=False)
_cases_for(7, 65, "row slice")
_cases_for(13, 19, "transposed", affine=False)
_cases_for(8, 257, offset=1e4, scale=1e-2)

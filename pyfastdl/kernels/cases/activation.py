"""Test cases and autograd probes of the GELU kernels (exact and tanh), forward and backward.

Inputs span the range where the approximations switch branches (|x| up to 10, and beyond where
GELU saturates), sizes cover a single value, odd lengths, a vector tail, several dims, a
non-contiguous view and a size large enough to use threads.
"""

from __future__ import annotations

import numpy as np

from .base import case, f32


def _input(rng: np.random.Generator, shape: tuple, layout: str) -> np.ndarray:
    if layout == "transposed":
        return (f32(rng, *shape[::-1]) * 3).T
    if layout == "wide":
        return np.linspace(-12, 12, int(np.prod(shape)), dtype=np.float32).reshape(shape)
    return f32(rng, *shape) * 3


def _cases_for(shape: tuple, layout: str = "contiguous") -> None:
    for approximate in ("none", "tanh"):
        name = f"{'x'.join(map(str, shape))} {layout}, approximate={approximate}"
        size = float(np.prod(shape))

        def forward(rng: np.random.Generator, approximate=approximate) -> tuple[list, dict]:
            x = _input(rng, shape, layout)
            return [x, np.empty(shape, np.float32)], {"approximate": approximate}

        def backward(rng: np.random.Generator, approximate=approximate) -> tuple[list, dict]:
            x = _input(rng, shape, layout)
            gy = f32(rng, *shape)
            return [x, gy, np.empty(shape, np.float32)], {"approximate": approximate}

        case("gelu_forward", name, outputs=(1,), flops=20 * size)(forward)
        case("gelu_backward", name, outputs=(2,), flops=30 * size)(backward)


for _shape in ((1,), (7,), (33,), (3, 5, 17), (1000,), (4096, 512)):
    _cases_for(_shape)
_cases_for((31, 9), "transposed")
_cases_for((4001,), "wide")

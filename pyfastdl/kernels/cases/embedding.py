"""Test cases and autograd probes of the embedding kernels (row gather, scatter-add backward).

Cases cover one row, one column, index arrays of several ranks, many duplicate indices (a small
vocabulary), padding_idx, scale_grad_by_freq, a transformer-sized table, and a grad_out that is
not contiguous.
"""

from __future__ import annotations

import numpy as np

from .base import case, f32


def _cases_for(
    v: int, e: int, shape: tuple, padding_idx=None, freq=False, strided_grad=False
) -> None:
    name = f"V={v} E={e} indices {shape}"
    if padding_idx is not None:
        name += f", padding_idx={padding_idx}"
    if freq:
        name += ", scale_grad_by_freq"
    if strided_grad:
        name += ", strided grad"
    size = float(np.prod(shape)) * e

    def forward(rng: np.random.Generator) -> tuple[list, dict]:
        idx = rng.integers(0, v, shape).astype(np.int64)
        return [idx, f32(rng, v, e), np.empty(shape + (e,), np.float32)], {}

    def backward(rng: np.random.Generator) -> tuple[list, dict]:
        idx = rng.integers(0, v, shape).astype(np.int64)
        if strided_grad:
            g = f32(rng, *shape, 2 * e)[..., ::2]
        else:
            g = f32(rng, *shape, e)
        params = {"padding_idx": padding_idx, "scale_grad_by_freq": freq}
        return [idx, g, np.empty((v, e), np.float32)], params

    if padding_idx is None and not freq and not strided_grad:
        case("embedding_forward", name, outputs=(2,), reduction=1, flops=size)(forward)
    count = max(1, int(np.prod(shape)) // v)
    case("embedding_backward", name, outputs=(2,), reduction=4 * count, flops=size)(backward)


_cases_for(1, 1, (1,))
_cases_for(7, 1, (5,))
_cases_for(10, 33, (4, 9))
_cases_for(5, 17, (3, 4, 5), padding_idx=0)
_cases_for(5, 17, (3, 4, 5), padding_idx=4, freq=True)
_cases_for(3, 8, (200,), freq=True)
_cases_for(1000, 64, (32, 40), padding_idx=1, strided_grad=True)
_cases_for(5000, 768, (32, 128))
_cases_for(50, 100, (0,))

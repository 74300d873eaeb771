"""Test cases and the autograd probe of gemm."""

from __future__ import annotations

import numpy as np

from .base import case, f32


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
        a = f32(rng, *lead, k, m).swapaxes(-1, -2) if trans_a else f32(rng, *lead, m, k)
        b = f32(rng, *lead, n, k).swapaxes(-1, -2) if trans_b else f32(rng, *lead, k, n)
        if sliced:  # row stride larger than the row: a window of a bigger matrix
            a = f32(rng, *lead, m + 3, k + 5)[..., 2 : 2 + m, 3 : 3 + k]
        out = f32(rng, *lead, m, n)
        bias_arr = {
            None: None,
            "col": f32(rng, n),
            "row": f32(rng, m, 1),
            "full": f32(rng, m, n),
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

"""GEMM speed: pyfastdl's native kernel against NumPy (OpenBLAS) and PyTorch (CPU), float32.

Run with ``pytest benchmarks/bench_gemm.py`` (add ``--benchmark-group-by=param:shape`` to see the
contenders of one shape side by side). Each shape is (M, K, N) with a variant: ``nn`` plain,
``tn`` A passed transposed (``a.T`` view), ``nt`` B passed transposed. All contenders write into
a preallocated output, so only the product is timed. GFLOP/s = 2 * M * N * K / time; the extra
info of each benchmark records it.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from pyfastdl import _C
from pyfastdl.bench import gemm as gemm_suite

# The suite's shapes, as ((M, K, N), variant).
CASES = [
    ((c.m, c.k, c.n), ("t" if c.trans_a else "n") + ("t" if c.trans_b else "n"))
    for c in gemm_suite.default_cases(quick=False)
]
CONTENDERS = ("pyfastdl", "numpy", "torch")


def operands(shape: tuple[int, int, int], variant: str):
    m, k, n = shape
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if variant[0] == "t" else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if variant[1] == "t" else (k, n), dtype=np.float32)
    return (a.T if variant[0] == "t" else a), (b.T if variant[1] == "t" else b)


def product(contender: str, a: np.ndarray, b: np.ndarray):
    """A no-argument function computing a @ b into a preallocated output."""
    out = np.empty((a.shape[0], b.shape[1]), np.float32)
    if contender == "pyfastdl":
        return lambda: _C.gemm(a, b, None, out)
    if contender == "numpy":
        return lambda: np.matmul(a, b, out=out)
    torch = pytest.importorskip("torch")
    ta, tb, to = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)
    return lambda: torch.matmul(ta, tb, out=to)


@pytest.mark.parametrize("contender", CONTENDERS)
@pytest.mark.parametrize("shape,variant", CASES, ids=[f"{m}x{k}x{n}-{v}" for (m, k, n), v in CASES])
def test_gemm(benchmark, contender, shape, variant):
    a, b = operands(shape, variant)
    fn = product(contender, a, b)
    time.sleep(0.2)  # let the previous contender's worker threads stop spinning
    m, k, n = shape
    benchmark.group = f"gemm {m}x{k}x{n} {variant}"
    benchmark.extra_info["flops"] = 2 * m * n * k
    benchmark(fn)
    benchmark.extra_info["gflops"] = 2 * m * n * k / benchmark.stats.stats.median / 1e9

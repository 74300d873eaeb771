"""Fused attention speed: pyfastdl's F.scaled_dot_product_attention (and its raw kernels) against
PyTorch's torch.nn.functional.scaled_dot_product_attention (CPU), float32, (B, H, L, D) with
S = L, causal and not, forward and forward + backward (gradients of q, k and v).

Run with ``pytest benchmarks/bench_attention.py --benchmark-group-by=group`` (pytest-benchmark),
or ``python benchmarks/bench_attention.py`` for paired, interleaved medians and the speed ratios
pyfastdl / PyTorch (> 1: pyfastdl faster); PYFASTDL_BENCH_THREADS sets the threads of both.
GFLOP/s count 4 B H L S D per forward (half with is_causal) and 2.5 times that per backward.
Contenders: "pyfastdl" (the public F.scaled_dot_product_attention with autograd), "kernel" (the
_C attention_forward / attention_backward kernels on preallocated arrays), "torch".
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import _C
from pyfastdl.bench import attention as attention_suite
from pyfastdl.nn import functional as F

# name: (B, H, L, D): the suite's attention workloads
SHAPES = {f"{b}x{h}x{n} D{d}": (b, h, n, d) for b, h, n, d in attention_suite.SHAPES}
CONTENDERS = ("pyfastdl", "kernel", "torch")
PASSES = ("fwd", "fwd+bwd")
MODES = ("full", "causal")


def flops(shape: tuple, passes: str, causal: bool) -> float:
    b, h, n, d = shape
    fwd = 4.0 * b * h * n * n * d * (0.5 if causal else 1.0)
    return fwd * (3.5 if passes == "fwd+bwd" else 1.0)


def step(contender: str, shape: tuple, passes: str, causal: bool):
    """A no-argument function running one forward (and backward) pass."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(shape, dtype=np.float32) for _ in range(3))
    grad = passes == "fwd+bwd"
    scale = 1.0 / np.sqrt(shape[3])
    if contender == "kernel":
        out, lse = np.empty_like(q), np.empty(shape[:3], np.float32)
        grad_out = np.ones_like(q)
        grads = [np.empty_like(a) for a in (q, k, v)]

        def run_kernel():
            _C.attention_forward(q, k, v, None, out, lse, scale, causal)
            if grad:
                _C.attention_backward(q, k, v, None, out, lse, grad_out, *grads, scale, causal)

        return run_kernel
    if contender == "pyfastdl":
        tq, tk, tv = (fd.tensor(a, requires_grad=grad) for a in (q, k, v))

        def run_fd():
            y = F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)
            if grad:
                y.sum().backward()
                tq.grad = tk.grad = tv.grad = None

        return run_fd
    torch = pytest.importorskip("torch")
    tq, tk, tv = (torch.tensor(a, requires_grad=grad) for a in (q, k, v))
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def run_torch():
        y = sdpa(tq, tk, tv, is_causal=causal)
        if grad:
            y.sum().backward()
            tq.grad = tk.grad = tv.grad = None

    return run_torch


@pytest.mark.parametrize("contender", CONTENDERS)
@pytest.mark.parametrize("passes", PASSES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(SHAPES))
def test_attention(benchmark, contender, passes, mode, name):
    causal = mode == "causal"
    fn = step(contender, SHAPES[name], passes, causal)
    fn()  # warm-up (scratch buffers, thread pools)
    time.sleep(0.2)
    benchmark.group = f"attention {name} {mode} {passes}"
    benchmark.extra_info["flops"] = flops(SHAPES[name], passes, causal)
    benchmark(fn)
    if benchmark.stats:  # None under --benchmark-disable
        median = benchmark.stats.stats.median
        benchmark.extra_info["gflops"] = flops(SHAPES[name], passes, causal) / median / 1e9


def paired(rounds: int = 9, target_s: float = 0.05) -> None:
    """Interleaved rounds of the three contenders (pyfastdl.bench.timing.measure: a pause after
    each batch, the first contender rotating): medians of each and the medians of the per-round
    ratios torch time / pyfastdl time."""
    import torch

    from pyfastdl.bench.threads import cpu_count, set_all_threads
    from pyfastdl.bench.timing import Contender, measure

    set_all_threads(int(os.environ.get("PYFASTDL_BENCH_THREADS", cpu_count())))
    print(f"threads {torch.get_num_threads()}, cpu {_C.cpu_capability()}")
    print(
        f"{'shape':13} {'mode':6} {'pass':8} {'pyfastdl ms':>11} {'kernel ms':>9} "
        f"{'torch ms':>9} {'GFLOP/s fd/kern/torch':>22} {'ratio':>6} {'kern':>5}"
    )
    for name, shape in SHAPES.items():
        for mode in MODES:
            causal = mode == "causal"
            for passes in PASSES:
                contenders = [Contender(c, step(c, shape, passes, causal)) for c in CONTENDERS]
                m = measure(contenders, rounds=rounds, target_s=target_s, pause_s=0.2)
                med = {c: m.median(c) for c in CONTENDERS}
                gf = [flops(shape, passes, causal) / med[c] / 1e9 for c in CONTENDERS]
                ratio, ratio_kernel = m.ratio("torch", "pyfastdl"), m.ratio("torch", "kernel")
                print(
                    f"{name:13} {mode:6} {passes:8} {med['pyfastdl'] * 1e3:11.2f} "
                    f"{med['kernel'] * 1e3:9.2f} {med['torch'] * 1e3:9.2f} "
                    f"{gf[0]:7.0f}/{gf[1]:<6.0f}/{gf[2]:<7.0f} {ratio:6.2f} {ratio_kernel:5.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    paired()

"""conv2d speed: pyfastdl's F.conv2d against PyTorch's (CPU), float32, batch 64, forward and
forward + backward (gradients of input, weight and bias).

Run with ``pytest benchmarks/bench_conv2d.py --benchmark-group-by=group`` (pytest-benchmark), or
``python benchmarks/bench_conv2d.py`` for paired, interleaved medians and the pyfastdl / PyTorch
speed ratios (> 1: pyfastdl faster); PYFASTDL_BENCH_THREADS sets the threads of both. With one
thread the clock is the thread's CPU time (``time.thread_time``), which other processes on a busy
machine do not inflate; with more, wall-clock time. GFLOP/s count the direct convolution:
2 N O OH OW C kH kW per pass (forward + backward = 3 passes). pyfastdl picks the algorithm per
shape (``conv2d_forward/native``): the direct kernels for the 3-channel layers (with Winograd
F(4, 3) along the output rows for the 3x3 one),
Winograd F(2x2, 5x5) in image lanes for the forward of LeNet's 6-channel second layer, the
batched kernels (direct, vectorised over images) for its backward passes (and the backward input
of the first layer), Winograd F(2x2, 3x3) for the 3x3 layers of 32 channels and more.
``python benchmarks/bench_conv2d.py kernels`` times the native kernels alone, pass by pass, for
every algorithm (``winograd``: F(2x2, 5x5) forward and backward input on the 5x5 layers, the
weight gradient then runs the batched kernels), against PyTorch's forward and forward + backward.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl.bench import conv2d as conv_suite
from pyfastdl.nn import functional as F

BATCH = conv_suite.BATCH

# name: (C, H, W, O, k, padding): the suite's conv2d workloads
SHAPES = {s.name: (s.c, s.h, s.w, s.o, s.k, s.padding) for s in conv_suite.SHAPES}
CONTENDERS = ("pyfastdl", "torch")
PASSES = ("fwd", "fwd+bwd")


def flops(shape: tuple, passes: str) -> float:
    c, h, w, o, k, p = shape
    oh, ow = h + 2 * p - k + 1, w + 2 * p - k + 1
    return 2.0 * BATCH * o * oh * ow * c * k * k * (3 if passes == "fwd+bwd" else 1)


def step(contender: str, shape: tuple, passes: str):
    """A no-argument function running one forward (and backward) pass."""
    c, h, w, o, k, p = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, c, h, w), dtype=np.float32)
    wt = (rng.standard_normal((o, c, k, k), dtype=np.float32) * 0.1).astype(np.float32)
    b = rng.standard_normal(o, dtype=np.float32)
    grad = passes == "fwd+bwd"
    if contender == "pyfastdl":
        tx, tw, tb = (fd.tensor(a, requires_grad=grad) for a in (x, wt, b))

        def run_fd():
            y = F.conv2d(tx, tw, tb, padding=p)
            if grad:
                y.sum().backward()
                tx.grad = tw.grad = tb.grad = None

        return run_fd
    torch = pytest.importorskip("torch")
    tx, tw, tb = (torch.tensor(a, requires_grad=grad) for a in (x, wt, b))

    def run_torch():
        y = torch.nn.functional.conv2d(tx, tw, tb, padding=p)
        if grad:
            y.sum().backward()
            tx.grad = tw.grad = tb.grad = None

    return run_torch


@pytest.mark.parametrize("contender", CONTENDERS)
@pytest.mark.parametrize("passes", PASSES)
@pytest.mark.parametrize("name", list(SHAPES))
def test_conv2d(benchmark, contender, passes, name):
    fn = step(contender, SHAPES[name], passes)
    fn()  # warm-up (scratch buffers, thread pools)
    time.sleep(0.2)
    benchmark.group = f"conv2d {name} {passes}"
    benchmark.extra_info["flops"] = flops(SHAPES[name], passes)
    benchmark(fn)
    if benchmark.stats:  # None under --benchmark-disable
        median = benchmark.stats.stats.median
        benchmark.extra_info["gflops"] = flops(SHAPES[name], passes) / median / 1e9


def paired(rounds: int = 7, reps: int = 3) -> None:
    """Interleaved medians (each round: pyfastdl, pause, torch, pause) and their ratio.

    After each pause one untimed call wakes the contender's worker threads: on a busy machine the
    first call after a sleep waited 4-12 ms for a core (both libraries, measured 2026-11-23),
    which swamped the sub-millisecond LeNet shapes."""
    import torch

    from pyfastdl.bench.threads import cpu_count, set_all_threads

    threads = int(os.environ.get("PYFASTDL_BENCH_THREADS", cpu_count()))
    set_all_threads(threads)
    clock = time.thread_time if threads == 1 else time.perf_counter
    print(
        f"threads {torch.get_num_threads()}, batch {BATCH}, cpu {fd._C.cpu_capability()}, "
        f"clock {clock.__name__}"
    )
    print(
        f"{'shape':22} {'pass':8} {'pyfastdl ms':>11} {'torch ms':>9} {'GFLOP/s':>13} {'ratio':>6}"
    )
    for name, shape in SHAPES.items():
        for passes in PASSES:
            fns = {c: step(c, shape, passes) for c in CONTENDERS}
            times: dict = {c: [] for c in CONTENDERS}
            for c in CONTENDERS:
                fns[c]()
            for _ in range(rounds):
                for c in CONTENDERS:
                    fns[c]()  # wake-up call, untimed
                    t0 = clock()
                    for _ in range(reps):
                        fns[c]()
                    times[c].append((clock() - t0) / reps)
                    time.sleep(0.2)
            med = {c: float(np.median(times[c])) for c in CONTENDERS}
            gf = [flops(shape, passes) / med[c] / 1e9 for c in CONTENDERS]
            print(
                f"{name:22} {passes:8} {med['pyfastdl'] * 1e3:11.2f} {med['torch'] * 1e3:9.2f} "
                f"{gf[0]:6.0f}/{gf[1]:<6.0f} {med['torch'] / med['pyfastdl']:6.2f}"
            )


def kernels_alone(rounds: int = 9, reps: int = 5) -> None:
    """The native kernels alone (no autograd), pass by pass, per algorithm, on the stride-1 layers
    with few input channels, against PyTorch's forward and forward + backward: minima of `rounds`
    rounds of `reps` calls (one thread: thread CPU time)."""

    from pyfastdl.bench.threads import cpu_count, set_all_threads

    threads = int(os.environ.get("PYFASTDL_BENCH_THREADS", cpu_count()))
    set_all_threads(threads)
    clock = time.thread_time if threads == 1 else time.perf_counter

    def best(fn) -> float:
        fn()
        times = []
        for _ in range(rounds):
            fn()
            t0 = clock()
            for _ in range(reps):
                fn()
            times.append((clock() - t0) / reps)
        return min(times) * 1e3

    print(f"threads {threads}, batch {BATCH}, cpu {fd._C.cpu_capability()}, ms (min of {rounds})")
    head = " ".join(f"{h:>6}" for h in ("fwd", "bwd-in", "bwd-w", "sum"))
    print(f"{'shape':18} {'algo':8} {head}  torch: fwd, fwd+bwd")
    for name, shape in SHAPES.items():
        if shape[0] > 8:
            continue
        torch_ms, rows = kernel_times(shape, best)
        for algo, t in rows.items():
            cells = " ".join(f"{v:6.3f}" for v in [*t, sum(t)])
            print(f"{name:18} {algo:8} {cells}  {torch_ms[0]:6.3f} {torch_ms[1]:6.3f}")


def kernel_times(shape: tuple, best) -> tuple:
    """(PyTorch fwd, fwd+bwd) and {algo: [fwd, bwd-input, bwd-weight]} in ms for one shape."""
    import functools

    import torch

    from pyfastdl import _C

    c, h, w, o, k, p = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((o, c, k, k), dtype=np.float32)
    b = rng.standard_normal(o, dtype=np.float32)
    oh = h + 2 * p - k + 1
    g = rng.standard_normal((BATCH, o, oh, oh), dtype=np.float32)
    out, gx, gw = np.empty_like(g), np.empty_like(x), np.empty_like(wt)
    params = ((1, 1), (p, p), (1, 1), 1)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, wt, b))
    tg = torch.tensor(g)

    def torch_fwd():
        with torch.no_grad():
            torch.nn.functional.conv2d(tx, tw, tb, padding=p)

    def torch_fwd_bwd():
        torch.nn.functional.conv2d(tx, tw, tb, padding=p).backward(tg)
        tx.grad = tw.grad = tb.grad = None

    rows = {}
    for algo in ("auto", "im2col", "direct", "batched", "winograd"):
        fns = (
            functools.partial(_C.conv2d_forward, x, wt, b, out, *params, algo=algo),
            functools.partial(_C.conv2d_backward_input, g, wt, gx, *params, algo=algo),
            functools.partial(_C.conv2d_backward_weight, x, g, gw, *params, algo=algo),
        )
        rows[algo] = [best(f) for f in fns]
    return (best(torch_fwd), best(torch_fwd_bwd)), rows


if __name__ == "__main__":
    import sys

    kernels_alone() if sys.argv[1:] == ["kernels"] else paired()

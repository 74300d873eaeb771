"""Pooling speed: pyfastdl against PyTorch (CPU) on the course's workload, max and avg 2x2 stride 2
on a (64, 64, 32, 32) float32 batch, forward and forward + backward, through each library's
functional API (autograd included), plus pyfastdl's raw kernels.

Two ways to run it:
* ``pytest benchmarks/bench_pool2d.py`` -- pytest-benchmark, one group per workload;
* ``python benchmarks/bench_pool2d.py [--rounds 15] [--threads N]`` -- paired, interleaved rounds
  (``pyfastdl.bench.timing.measure``: same threads for both libraries, 0.2 s pauses, medians of
  per-round ratios), printing the ratio to PyTorch and the fraction of the measured memory
  bandwidth (``_C.measure_triad_bandwidth_gbs``) each pyfastdl figure reaches.

Bytes moved (read + written) per call, n = the input's elements, m = n / 4 the outputs:
  forward without indices (no grad, inference):      4n + 4m
  forward with int64 indices (training):             4n + 4m + 8m
  max backward: reads grad_out and indices, writes grad_x: 4m + 8m + 4n
  avg backward: reads grad_out, writes grad_x:              4m + 4n
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.nn.functional as F
from pyfastdl import _C

SHAPE = (64, 64, 32, 32)
KINDS = ("max", "avg")


def _bytes(kind: str, backward: bool) -> float:
    n = float(np.prod(SHAPE))
    m = n / 4
    if not backward:
        return 4 * n + 4 * m
    fwd = 4 * n + 4 * m + (8 * m if kind == "max" else 0)
    bwd = 4 * m + 4 * n + (8 * m if kind == "max" else 0)
    return fwd + bwd


def _input() -> np.ndarray:
    return np.random.default_rng(0).standard_normal(SHAPE, dtype=np.float32)


def pyfastdl_fn(kind: str, backward: bool):
    """F.max_pool2d / F.avg_pool2d through pyfastdl's autograd (backward: with a given gradient)."""
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    x = _input()
    g = fd.tensor(np.ones((64, 64, 16, 16), np.float32))
    if not backward:
        xt = fd.tensor(x)
        return lambda: pool(xt, 2)
    xg = fd.tensor(x, requires_grad=True)

    def step():
        xg.grad = None
        pool(xg, 2).backward(g)

    return step


def kernel_fn(kind: str, backward: bool):
    """The raw native kernels on preallocated arrays (no framework): the bandwidth ceiling."""
    x = _input()
    out = np.empty((64, 64, 16, 16), np.float32)
    idx = np.empty(out.shape, np.int64)
    gx = np.empty_like(x)
    if kind == "max":
        if not backward:
            return lambda: _C.max_pool2d_forward(x, out, None, 2, 2, 0)

        def max_step():
            _C.max_pool2d_forward(x, out, idx, 2, 2, 0)
            _C.max_pool2d_backward(out, idx, gx)

        return max_step
    if not backward:
        return lambda: _C.avg_pool2d_forward(x, out, 2, 2, 0)

    def avg_step():
        _C.avg_pool2d_forward(x, out, 2, 2, 0)
        _C.avg_pool2d_backward(out, gx, 2, 2, 0)

    return avg_step


def torch_fn(kind: str, backward: bool):
    torch = pytest.importorskip("torch")
    pool = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    x = torch.from_numpy(_input())
    g = torch.ones((64, 64, 16, 16))
    if not backward:

        def fwd():
            with torch.no_grad():
                return pool(x, 2)

        return fwd
    xg = x.clone().requires_grad_(True)

    def step():
        xg.grad = None
        pool(xg, 2).backward(g)

    return step


CONTENDERS = {"pyfastdl": pyfastdl_fn, "kernel": kernel_fn, "torch": torch_fn}


@pytest.mark.parametrize("contender", list(CONTENDERS))
@pytest.mark.parametrize("backward", [False, True], ids=["fwd", "fwd+bwd"])
@pytest.mark.parametrize("kind", KINDS)
def test_pool2d(benchmark, kind, backward, contender):
    fn = CONTENDERS[contender](kind, backward)
    time.sleep(0.2)  # let the previous contender's worker threads stop spinning
    benchmark.group = f"{kind}_pool2d 2x2 64x64x32x32 {'fwd+bwd' if backward else 'fwd'}"
    benchmark(fn)
    if benchmark.stats is not None:  # None under --benchmark-disable
        median = benchmark.stats.stats.median
        benchmark.extra_info["gb_per_s"] = _bytes(kind, backward) / median / 1e9


def main() -> None:
    from pyfastdl.bench.threads import cpu_count, set_all_threads
    from pyfastdl.bench.timing import Contender, measure

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=cpu_count())
    parser.add_argument("--target-s", type=float, default=0.03)
    args = parser.parse_args()
    threads = set_all_threads(args.threads)
    bandwidth = _C.measure_triad_bandwidth_gbs(args.threads)
    print(
        f"threads {threads}, cpu path {_C.cpu_capability()}, triad bandwidth {bandwidth:.1f} GB/s"
    )
    print(
        f"{'workload':<22}{'torch ms':>10}{'ours ms':>10}{'kernel ms':>11}{'ours/torch':>12}"
        f"{'kernel/torch':>14}{'ours GB/s':>11}{'% bw':>7}{'kernel % bw':>13}"
    )
    for kind in KINDS:
        for backward in (False, True):
            m = measure(
                [Contender(name, make(kind, backward)) for name, make in CONTENDERS.items()],
                rounds=args.rounds,
                target_s=args.target_s,
                pause_s=0.2,
            )
            nbytes = _bytes(kind, backward)
            ours, kern, theirs = m.median("pyfastdl"), m.median("kernel"), m.median("torch")
            name = f"{kind} 2x2 {'fwd+bwd' if backward else 'fwd'}"
            print(
                f"{name:<22}{theirs * 1e3:>10.3f}{ours * 1e3:>10.3f}{kern * 1e3:>11.3f}"
                f"{m.ratio('torch', 'pyfastdl'):>11.2f}x{m.ratio('torch', 'kernel'):>13.2f}x"
                f"{nbytes / ours / 1e9:>11.1f}{100 * nbytes / ours / 1e9 / bandwidth:>6.0f}%"
                f"{100 * nbytes / kern / 1e9 / bandwidth:>12.0f}%"
            )


if __name__ == "__main__":
    main()

"""Batch normalization speed: pyfastdl against PyTorch (CPU), float32, side by side.

``python benchmarks/bench_batchnorm.py`` runs a paired comparison: the
same thread count for both libraries, interleaved rounds with a 0.2 s pause after each batch,
medians of the per-round ratios, and the achieved bandwidth against the machine's measured triad
bandwidth. ``pytest benchmarks/bench_batchnorm.py`` gives pytest-benchmark's per-contender timings.

Workloads: BatchNorm2d on 64x64x32x32 (the course's shape): training forward, training
forward+backward, eval forward; and a BatchNorm1d layer on (64, 1024). Contenders:
  pyfastdl        F.batch_norm through autograd (what a model pays: allocation, checks, graph)
  pyfastdl-kernel the _C kernels alone, into preallocated outputs
  torch           torch.nn.functional.batch_norm through autograd
Bytes counted (each tensor read or written once, T elements of 4 bytes): forward 2 T (x, y);
forward+backward 5 T (x, y; x, grad_y, grad_x).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import _C
from pyfastdl.nn import functional as F


@dataclass(frozen=True)
class Workload:
    name: str
    shape: tuple[int, ...]
    mode: str  # "train", "train+bwd" or "eval"

    @property
    def bytes(self) -> int:
        return (5 if self.mode == "train+bwd" else 2) * 4 * int(np.prod(self.shape))


WORKLOADS = [
    Workload("bn2d train fwd 64x64x32x32", (64, 64, 32, 32), "train"),
    Workload("bn2d train fwd+bwd 64x64x32x32", (64, 64, 32, 32), "train+bwd"),
    Workload("bn2d eval fwd 64x64x32x32", (64, 64, 32, 32), "eval"),
    Workload("bn1d train fwd+bwd 64x1024", (64, 1024), "train+bwd"),
]
CONTENDERS = ("pyfastdl", "pyfastdl-kernel", "torch")


def _data(w: Workload) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    c = w.shape[1]
    return {
        "x": rng.standard_normal(w.shape, dtype=np.float32),
        "gy": rng.standard_normal(w.shape, dtype=np.float32),
        "w": rng.random(c, dtype=np.float32) + 0.5,
        "b": rng.standard_normal(c, dtype=np.float32),
        "rm": np.zeros(c, np.float32),
        "rv": np.ones(c, np.float32),
    }


def _pyfastdl(w: Workload, d: dict) -> Callable[[], object]:
    grad = w.mode == "train+bwd"
    x = fd.tensor(d["x"], requires_grad=grad)
    weight = fd.tensor(d["w"], requires_grad=grad)
    bias = fd.tensor(d["b"], requires_grad=grad)
    rm, rv, gy = fd.tensor(d["rm"]), fd.tensor(d["rv"]), fd.tensor(d["gy"])
    training = w.mode != "eval"
    if not grad:

        def forward() -> object:
            with fd.no_grad():
                return F.batch_norm(x, rm, rv, weight, bias, training)

        return forward

    def step() -> None:
        x.grad = weight.grad = bias.grad = None
        F.batch_norm(x, rm, rv, weight, bias, True).backward(gy)

    return step


def _kernel(w: Workload, d: dict) -> Callable[[], object]:
    x, gy, weight, bias = d["x"], d["gy"], d["w"], d["b"]
    c = x.shape[1]
    y, gx = np.empty_like(x), np.empty_like(x)
    mean, var, invstd, gw, gb = (np.empty(c, np.float32) for _ in range(5))
    if w.mode == "eval":
        return lambda: _C.batchnorm_forward_eval(x, d["rm"], d["rv"], weight, bias, y, 1e-5)

    def forward() -> None:
        _C.batchnorm_forward_train(x, weight, bias, y, mean, var, invstd, 1e-5)

    if w.mode == "train":
        return forward

    def step() -> None:
        forward()
        _C.batchnorm_backward(x, gy, mean, invstd, weight, gx, gw, gb, True)

    return step


def _torch(w: Workload, d: dict) -> Callable[[], object]:
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    grad = w.mode == "train+bwd"
    x = torch.from_numpy(d["x"]).requires_grad_(grad)
    weight = torch.from_numpy(d["w"]).requires_grad_(grad)
    bias = torch.from_numpy(d["b"]).requires_grad_(grad)
    rm, rv, gy = (torch.from_numpy(d[k].copy()) for k in ("rm", "rv", "gy"))
    training = w.mode != "eval"
    if not grad:

        def forward() -> object:
            with torch.no_grad():
                return tf.batch_norm(x, rm, rv, weight, bias, training)

        return forward

    def step() -> None:
        x.grad = weight.grad = bias.grad = None
        tf.batch_norm(x, rm, rv, weight, bias, True).backward(gy)

    return step


MAKERS = {"pyfastdl": _pyfastdl, "pyfastdl-kernel": _kernel, "torch": _torch}


# ------------------------------------------------------------------ pytest-benchmark suite
@pytest.fixture(scope="module")
def data():
    return {w.name: _data(w) for w in WORKLOADS}


@pytest.mark.parametrize("contender", CONTENDERS)
@pytest.mark.parametrize("workload", WORKLOADS, ids=[w.name for w in WORKLOADS])
def test_batchnorm(benchmark, data, contender, workload):
    fn = MAKERS[contender](workload, data[workload.name])
    time.sleep(0.2)  # let the previous contender's worker threads stop spinning
    benchmark.group = workload.name
    benchmark(fn)
    benchmark.extra_info["gb_per_s"] = workload.bytes / benchmark.stats.stats.median / 1e9


# ------------------------------------------------------------------ paired comparison
def compare(threads: int, rounds: int, target_s: float, pause_s: float) -> list[str]:
    """The paired table (markdown lines): medians, ratios vs torch, GB/s and % of bandwidth."""
    from pyfastdl.bench.threads import set_all_threads
    from pyfastdl.bench.timing import Contender, measure

    set_all_threads(threads)
    bandwidth = _C.measure_triad_bandwidth_gbs(threads)
    lines = [
        f"threads {threads}, cpu path {fd.cpu_capability()}, measured triad bandwidth "
        f"{bandwidth:.1f} GB/s; {rounds} rounds, medians",
        "",
        "| workload | pyfastdl ms | kernel ms | torch ms | torch/pyfastdl | torch/kernel "
        "| pyfastdl GB/s (% bw) | kernel GB/s (% bw) | torch GB/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for w in WORKLOADS:
        d = _data(w)
        contenders = [Contender(name, MAKERS[name](w, d)) for name in CONTENDERS]
        m = measure(contenders, rounds=rounds, target_s=target_s, pause_s=pause_s)
        ms = {name: m.median(name) * 1e3 for name in CONTENDERS}
        gbs = {name: w.bytes / m.median(name) / 1e9 for name in CONTENDERS}
        lines.append(
            f"| {w.name} | {ms['pyfastdl']:.3f} | {ms['pyfastdl-kernel']:.3f} | "
            f"{ms['torch']:.3f} | {m.ratio('torch', 'pyfastdl'):.2f}x | "
            f"{m.ratio('torch', 'pyfastdl-kernel'):.2f}x | "
            f"{gbs['pyfastdl']:.1f} ({100 * gbs['pyfastdl'] / bandwidth:.0f}%) | "
            f"{gbs['pyfastdl-kernel']:.1f} ({100 * gbs['pyfastdl-kernel'] / bandwidth:.0f}%) | "
            f"{gbs['torch']:.1f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    from compare_cli import run

    return run(__doc__, compare, target_s=0.05, argv=argv)


if __name__ == "__main__":
    sys.exit(main())

"""Recurrent layer speed: pyfastdl's nn.LSTM / nn.GRU against PyTorch's (CPU), float32, side by side.

``python benchmarks/bench_rnn.py`` runs a paired comparison: the same
thread count for both libraries, interleaved rounds with a 0.2 s pause after each batch, medians
of the per-round ratios. ``pytest benchmarks/bench_rnn.py`` gives pytest-benchmark's timings.

Workloads: one layer, L=64 steps, batch 32, 128 -> 256 (the issue's shape): forward under no_grad
(inference), and forward + backward of output.sum() (training, all parameter gradients).
Contenders: pyfastdl nn.LSTM / nn.GRU and torch.nn.LSTM / GRU with the same weights, both through
their autograd. FLOPs counted (G gates): forward 2 L N G H (I + H), forward+backward 3x that.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn


@dataclass(frozen=True)
class Workload:
    name: str
    kind: str  # "LSTM" or "GRU"
    seq: int
    batch: int
    inp: int
    hidden: int
    backward: bool

    @property
    def flops(self) -> float:
        gates = {"LSTM": 4, "GRU": 3}[self.kind]
        fwd = 2.0 * self.seq * self.batch * gates * self.hidden * (self.inp + self.hidden)
        return 3 * fwd if self.backward else fwd


WORKLOADS = [
    Workload("LSTM fwd L=64 N=32 128->256", "LSTM", 64, 32, 128, 256, False),
    Workload("LSTM fwd+bwd L=64 N=32 128->256", "LSTM", 64, 32, 128, 256, True),
    Workload("GRU fwd L=64 N=32 128->256", "GRU", 64, 32, 128, 256, False),
    Workload("GRU fwd+bwd L=64 N=32 128->256", "GRU", 64, 32, 128, 256, True),
]
CONTENDERS = ("pyfastdl", "torch")


def _data(w: Workload) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((w.seq, w.batch, w.inp), dtype=np.float32)


def _layers(w: Workload):
    torch = pytest.importorskip("torch")
    ours = getattr(nn, w.kind)(w.inp, w.hidden)
    theirs = getattr(torch.nn, w.kind)(w.inp, w.hidden)
    theirs.load_state_dict(
        {k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()}
    )
    return ours, theirs


def _workload_fn(w: Workload, layer, x, no_grad) -> Callable[[], object]:
    """The timed call of either library: `layer` on its input `x`, under the library's `no_grad`
    for an inference workload, else forward + backward of output.sum()."""
    if not w.backward:

        def forward() -> object:
            with no_grad():
                return layer(x)

        return forward

    def step() -> None:
        layer.zero_grad()
        out, _ = layer(x)
        out.sum().backward()

    return step


def _contenders(w: Workload) -> dict[str, Callable[[], object]]:
    torch = pytest.importorskip("torch")
    x = _data(w)
    ours, theirs = _layers(w)
    return {
        "pyfastdl": _workload_fn(w, ours, fd.tensor(x), fd.no_grad),
        "torch": _workload_fn(w, theirs, torch.from_numpy(x), torch.no_grad),
    }


# ------------------------------------------------------------------ pytest-benchmark suite
@pytest.mark.parametrize("contender", CONTENDERS)
@pytest.mark.parametrize("workload", WORKLOADS, ids=[w.name for w in WORKLOADS])
def test_rnn(benchmark, contender, workload):
    fn = _contenders(workload)[contender]
    time.sleep(0.2)  # let the previous contender's worker threads stop spinning
    benchmark.group = workload.name
    benchmark(fn)
    benchmark.extra_info["gflops"] = workload.flops / benchmark.stats.stats.median / 1e9


# ------------------------------------------------------------------ paired comparison
def compare(threads: int, rounds: int, target_s: float, pause_s: float) -> list[str]:
    """The paired table (markdown lines): medians, the ratio torch/pyfastdl and GFLOP/s."""
    from pyfastdl.bench.threads import set_all_threads
    from pyfastdl.bench.timing import Contender, measure

    set_all_threads(threads)
    lines = [
        f"threads {threads}, cpu path {fd.cpu_capability()}; {rounds} rounds, medians",
        "",
        "| workload | pyfastdl ms | torch ms | torch/pyfastdl | pyfastdl GFLOP/s | torch GFLOP/s |",
        "|---|---|---|---|---|---|",
    ]
    for w in WORKLOADS:
        fns = _contenders(w)
        m = measure(
            [Contender(name, fns[name]) for name in CONTENDERS],
            rounds=rounds,
            target_s=target_s,
            pause_s=pause_s,
        )
        ms = {name: m.median(name) * 1e3 for name in CONTENDERS}
        lines.append(
            f"| {w.name} | {ms['pyfastdl']:.2f} | {ms['torch']:.2f} | "
            f"{m.ratio('torch', 'pyfastdl'):.2f}x | {w.flops / ms['pyfastdl'] / 1e6:.1f} | "
            f"{w.flops / ms['torch'] / 1e6:.1f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    from compare_cli import run

    return run(__doc__, compare, target_s=0.1, argv=argv)


if __name__ == "__main__":
    sys.exit(main())

"""GEMM workloads: pyfastdl's kernel vs NumPy (its BLAS) vs PyTorch, float32, into preallocated out.

All three read the very same input arrays (PyTorch through ``torch.from_numpy``, which shares the
memory), transposed operands as transposed views (no copies), and write into their own
preallocated output. FLOPs per call: 2 * M * N * K.

Example:
    >>> from pyfastdl.bench.gemm import GemmCase
    >>> GemmCase(64, 784, 64, trans_b=True).name
    'gemm 64x784x64 B^T'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pyfastdl import kernels

from .config import Config
from .results import SELF, Row
from .threads import torch_module
from .timing import Contender, measure


@dataclass(frozen=True)
class GemmCase:
    """C (M, N) = A (M, K) @ B (K, N); a transposed operand is stored the other way round."""

    m: int
    k: int
    n: int
    trans_a: bool = False
    trans_b: bool = False

    @property
    def name(self) -> str:
        dims = str(self.m) if self.m == self.k == self.n else f"{self.m}x{self.k}x{self.n}"
        return "gemm " + dims + (" A^T" if self.trans_a else "") + (" B^T" if self.trans_b else "")

    @property
    def flops(self) -> float:
        return 2.0 * self.m * self.n * self.k


def default_cases(quick: bool) -> list[GemmCase]:
    """the course's workload shapes; the quick run drops n = 2048 and the large transposed variants."""
    squares = [64, 128, 256, 512, 1024] + ([] if quick else [2048])
    cases = [GemmCase(s, s, s) for s in squares]
    # The MLP layers: forward of a Linear layer is x @ W.T (B transposed), its weight gradient
    # dy.T @ x (A transposed).
    cases += [GemmCase(64, 784, 64), GemmCase(64, 3072, 1024), GemmCase(4096, 256, 256)]
    cases += [
        GemmCase(64, 784, 64, trans_b=True),
        GemmCase(64, 3072, 1024, trans_b=True),
        GemmCase(512, 512, 512, trans_a=True),
        GemmCase(512, 512, 512, trans_b=True),
    ]
    if not quick:
        cases += [
            GemmCase(1024, 1024, 1024, trans_a=True),
            GemmCase(1024, 1024, 1024, trans_b=True),
            GemmCase(1024, 64, 784, trans_a=True),
        ]
    return cases


def _operand(rng: np.random.Generator, rows: int, cols: int, transposed: bool) -> np.ndarray:
    """A (rows, cols) float32 operand in [-1, 1); a transposed one is the .T of a (cols, rows) array."""
    shape = (cols, rows) if transposed else (rows, cols)
    store = rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)
    return store.T if transposed else store


def contenders(case: GemmCase, rng: np.random.Generator) -> tuple[list[Contender], dict]:
    """The contenders for one case and their output arrays (for the correctness check)."""
    a = _operand(rng, case.m, case.k, case.trans_a)
    b = _operand(rng, case.k, case.n, case.trans_b)
    outs = {name: np.empty((case.m, case.n), np.float32) for name in (SELF, "numpy")}
    gemm = kernels.get("gemm", "cpu", "float32")
    out_fd, out_np = outs[SELF], outs["numpy"]
    result = [
        Contender(SELF, lambda: gemm(a, b, None, out_fd)),
        Contender("numpy", lambda: np.matmul(a, b, out=out_np)),
    ]
    torch = torch_module()
    if torch is not None:
        outs["torch"] = np.empty((case.m, case.n), np.float32)
        # from_numpy shares memory, and keeps the transposed view's strides (no copy).
        ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(outs["torch"])
        result.append(Contender("torch", lambda: torch.mm(ta, tb, out=tout)))
    return result, outs


def check_outputs(outs: dict[str, np.ndarray], k: int) -> str:
    """'ok', or which contender disagrees with NumPy and by how much.

    Inputs lie in [-1, 1), so each output is a sum of K products of magnitude <= 1; float32
    rounding keeps the error far below K * 1e-5 for any correct summation order.
    """
    ref = outs["numpy"]
    for name, out in outs.items():
        if not np.all(np.isfinite(out)):
            return f"wrong: {name} gave non-finite values"
        err = float(np.max(np.abs(out.astype(np.float64) - ref))) if out.size else 0.0
        if err > 1e-5 * max(k, 1):
            return f"wrong: {name} differs from numpy by {err:.3g}"
    return "ok"


def run_case(
    case: GemmCase,
    config: Config,
    rng: np.random.Generator,
    on_round: Callable[[], None] | None = None,
) -> Row:
    """Checks the contenders agree, then times them interleaved; returns the row."""
    row = Row("gemm", case.name, flops=case.flops)
    row.notes["shape"] = {
        "m": case.m,
        "k": case.k,
        "n": case.n,
        "trans_a": case.trans_a,
        "trans_b": case.trans_b,
    }
    cs, outs = contenders(case, rng)
    for c in cs:
        c.fn()
    row.status = check_outputs(outs, case.k)
    row.fill(
        measure(cs, config.rounds, config.target_s, config.pause_s, on_round, config.case_budget_s)
    )
    return row

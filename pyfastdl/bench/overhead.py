"""Per-op overhead: microseconds per call of small ops as a user writes them (``a + b``,
``a @ b``, ``a.relu()``, ``F.linear(x, w, b)``, ...), pyfastdl against PyTorch and NumPy.

On 4x4 to 64x64 float32 tensors the arithmetic is a few nanoseconds to a few microseconds; what
these rows measure is mostly what each library pays around it: dispatch, checks, allocating the
result and, with grad, recording the graph node. Two passes per op and size:

- no grad: no input requires grad (what inference and optimizer code pay; pyfastdl's fast paths
  of ``pyfastdl.ops.fast`` apply here);
- grad: one input requires grad (for ``linear``, the layer's parameters: weight and bias), so the
  op records its graph node; forward only, no backward. NumPy has no such pass: its cell is empty.

One call takes about a microsecond, far below the timer's resolution and noise, so a timed sample
is a loop of many back-to-back calls divided by the count: :func:`timing.measure` times loops of
:data:`CALLS_PER_FN` calls (:func:`loop`), as many as make a sample of a few milliseconds (some
hundreds to thousands of calls). Each call's result is dropped at once (a graph is freed as soon
as it is built, never accumulated); freeing it and the loop's own cost (a Python ``for`` and a
closure call, ~0.05 us) are in every contender's figure. Samples are short and the pauses between
contenders brief (:data:`MAX_SAMPLE_S`, :data:`MAX_PAUSE_S`): ops this small keep no worker
threads spinning for long. The thread counts are the run's (``cli.run`` sets them).

Before timing, one call of each contender must agree with PyTorch's (NumPy's without PyTorch),
and in the grad pass pyfastdl's and PyTorch's results must require grad (a node was recorded).

Example:
    >>> import numpy as np
    >>> from pyfastdl.bench.config import Config
    >>> from pyfastdl.bench.overhead import OverheadCase, run_case
    >>> cfg = Config(rounds=1, target_s=1e-4, pause_s=0.0, progress=False)
    >>> row = run_case(OverheadCase("add", 4, grad=True), cfg, np.random.default_rng(0))
    >>> row.name, row.status, row.unit, "numpy" in row.seconds
    ('add 4x4 grad', 'ok', 'us', False)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import pyfastdl as fd
from pyfastdl.nn import functional as F

from .config import Config
from .ops import check_results
from .results import SELF, Row
from .threads import torch_module
from .timing import Contender, Measurement, measure

SUITE = "overhead"
QUICK_SIZES = (4, 64)
FULL_SIZES = (4, 16, 64)
# A sample: calls back to back for about this long at most (config.target_s when shorter)
MAX_SAMPLE_S = 0.003
# The pause after each contender's sample, at most (config.pause_s when shorter)
MAX_PAUSE_S = 0.01
# What the timer calls once: this many calls in a loop, so that a sample holds at least as many
# (a calibration call that lost its core to another process cannot shrink a sample to one call)
CALLS_PER_FN = 64
RTOL = 1e-3  # of the reference's largest magnitude, as the op suites: wrong results, not rounding

Call = Callable[[], Any]


def _numpy_softmax(a: np.ndarray) -> Call:
    """A stable softmax over the last axis into a preallocated output."""
    out = np.empty_like(a)

    def softmax() -> np.ndarray:
        np.subtract(a, a.max(-1, keepdims=True), out=out)
        np.exp(out, out=out)
        np.divide(out, out.sum(-1, keepdims=True), out=out)
        return out

    return softmax


@dataclass(frozen=True)
class OpSpec:
    """One op as each library's user writes it.

    ``shapes(n)``: the inputs' shapes; ``grad_inputs``: the inputs that require grad in the grad
    pass. ``pyfastdl(*tensors)``, ``torch(torch, *tensors)``, ``numpy(*arrays)`` (None: no NumPy
    contender): a closure performing one call and returning its result.
    """

    shapes: Callable[[int], list[tuple[int, ...]]]
    grad_inputs: tuple[int, ...]
    pyfastdl: Callable[..., Call]
    torch: Callable[..., Call]
    numpy: Callable[..., Call] | None


def _square2(n: int) -> list[tuple[int, ...]]:
    return [(n, n), (n, n)]


def _square1(n: int) -> list[tuple[int, ...]]:
    return [(n, n)]


def _linear_shapes(n: int) -> list[tuple[int, ...]]:
    return [(n, n), (n, n), (n,)]


OPS: dict[str, OpSpec] = {
    "add": OpSpec(
        _square2,
        (0,),
        lambda a, b: lambda: a + b,
        lambda torch, a, b: lambda: a + b,
        lambda a, b: lambda: a + b,
    ),
    "mul": OpSpec(
        _square2,
        (0,),
        lambda a, b: lambda: a * b,
        lambda torch, a, b: lambda: a * b,
        lambda a, b: lambda: a * b,
    ),
    "matmul": OpSpec(
        _square2,
        (0,),
        lambda a, b: lambda: a @ b,
        lambda torch, a, b: lambda: a @ b,
        lambda a, b: lambda: a @ b,
    ),
    "relu": OpSpec(
        _square1,
        (0,),
        lambda a: lambda: a.relu(),
        lambda torch, a: lambda: torch.relu(a),
        lambda a: lambda: np.maximum(a, 0),
    ),
    "sum": OpSpec(
        _square1,
        (0,),
        lambda a: lambda: a.sum(),
        lambda torch, a: lambda: a.sum(),
        lambda a: lambda: a.sum(),
    ),
    "softmax": OpSpec(
        _square1,
        (0,),
        lambda a: lambda: a.softmax(-1),
        lambda torch, a: lambda: torch.softmax(a, -1),
        _numpy_softmax,
    ),
    "linear": OpSpec(
        _linear_shapes,
        (1, 2),
        lambda x, w, b: lambda: F.linear(x, w, b),
        lambda torch, x, w, b: lambda: torch.nn.functional.linear(x, w, b),
        lambda x, w, b: lambda: x @ w.T + b,
    ),
}


@dataclass(frozen=True)
class OverheadCase:
    """`op` (a key of :data:`OPS`) on n x n float32 inputs, with or without grad."""

    op: str
    n: int
    grad: bool = False

    @property
    def suite(self) -> str:
        return SUITE

    @property
    def name(self) -> str:
        return f"{self.op} {self.n}x{self.n}" + (" grad" if self.grad else "")


def default_cases(quick: bool) -> list[OverheadCase]:
    """Every op at each size, without then with grad (quick: 4x4 and 64x64; full: 16x16 too)."""
    sizes = QUICK_SIZES if quick else FULL_SIZES
    return [OverheadCase(op, n, grad) for op in OPS for n in sizes for grad in (False, True)]


def _as_float64(y: Any) -> np.ndarray:
    """A float64 copy of one call's result (a tensor of either library, or an array)."""
    if hasattr(y, "detach"):
        y = y.detach().numpy()
    return np.array(y, dtype=np.float64)


def contenders(case: OverheadCase, arrays: list[np.ndarray]) -> dict[str, Call]:
    """Each library's one call on its own copies of `arrays` (pyfastdl, NumPy, PyTorch: the
    reference last); NumPy only without grad, PyTorch where installed."""
    spec = OPS[case.op]
    need = [case.grad and i in spec.grad_inputs for i in range(len(arrays))]
    calls = {
        SELF: spec.pyfastdl(*(fd.tensor(a.copy(), requires_grad=g) for a, g in zip(arrays, need)))
    }
    if spec.numpy is not None and not case.grad:
        calls["numpy"] = spec.numpy(*(a.copy() for a in arrays))
    torch = torch_module()
    if torch is not None:
        ts = [torch.from_numpy(a.copy()).requires_grad_(g) for a, g in zip(arrays, need)]
        calls["torch"] = spec.torch(torch, *ts)
    return calls


def check_calls(case: OverheadCase, calls: dict[str, Call], rtol: float = RTOL) -> str:
    """'ok', or why the contenders' results disagree (values, or no graph node with grad)."""
    outputs = {name: call() for name, call in calls.items()}
    if case.grad:
        for name, y in outputs.items():
            if not getattr(y, "requires_grad", False):
                return f"wrong: {name}'s result does not require grad (no graph node recorded)"
    if len(outputs) == 1:
        return "ok"
    return check_results({k: [_as_float64(y)] for k, y in outputs.items()}, rtol)


def loop(call: Call, n: int) -> Call:
    """`n` calls of `call` back to back, each result dropped at once."""
    calls = range(n)

    def fn() -> None:
        for _ in calls:
            call()

    return fn


def per_call(m: Measurement, n: int) -> Measurement:
    """A measurement of :func:`loop` (`n` calls per loop) as seconds and repeats per call."""
    times = {k: [t / n for t in ts] for k, ts in m.times.items()}
    return Measurement(times, {k: r * n for k, r in m.repeats.items()})


def run_case(
    case: OverheadCase,
    config: Config,
    rng: np.random.Generator,
    on_round: Callable[[], None] | None = None,
) -> Row:
    """Builds the contenders, checks they agree, then times them interleaved in short samples."""
    row = Row(SUITE, case.name, unit="us")
    arrays = [rng.standard_normal(s, dtype=np.float32) for s in OPS[case.op].shapes(case.n)]
    calls = contenders(case, arrays)
    row.status = check_calls(case, calls)
    target_s = min(config.target_s, MAX_SAMPLE_S)
    pause_s = min(config.pause_s, MAX_PAUSE_S)
    cs = [Contender(name, loop(call, CALLS_PER_FN)) for name, call in calls.items()]
    m = measure(cs, config.rounds, target_s, pause_s, on_round, config.case_budget_s)
    row.fill(per_call(m, CALLS_PER_FN))
    return row

"""Op workloads: one functional call, forward or forward + backward, in pyfastdl, PyTorch and
(where the workload has a NumPy formulation) NumPy, on the same inputs, checked against each
other first.

pyfastdl's functional API has PyTorch's names and signatures, so one function ``call(F, *xs)``
serves both libraries: it gets ``pyfastdl.nn.functional`` or ``torch.nn.functional`` and each
library's tensors. A forward pass runs on tensors that do not require grad (no graph is
recorded); a forward + backward pass makes the inputs flagged in ``grads`` require grad, runs the
call and backpropagates a fixed random ``grad_out`` (the same array for every contender). The
NumPy contender, when a case has one, is written on raw arrays into preallocated outputs.

Before timing, every contender's output (and gradients) must match the reference -- PyTorch's,
or NumPy's when PyTorch is not installed -- within ``rtol`` times the reference's largest
magnitude (float32; the check catches wrong results, not rounding).

A case whose pyfastdl function does not exist yet (``needs``: attribute names of
``pyfastdl.nn.functional``), or raises NotImplementedError, gives a row with status
``skipped: ...`` instead of failing.

Example:
    >>> import numpy as np
    >>> from pyfastdl.bench.ops import OpCase, run_case
    >>> from pyfastdl.bench.config import Config
    >>> case = OpCase("pool", "relu 4x4", lambda rng: [rng.standard_normal((4, 4), np.float32)],
    ...               call=lambda F, x: F.relu(x), out_shape=(4, 4), grads=(True,),
    ...               backward=True, nbytes=5 * 64.0)
    >>> cfg = Config(rounds=1, target_s=1e-4, pause_s=0.0, progress=False)
    >>> row = run_case(case, cfg, np.random.default_rng(0))
    >>> row.status, row.unit
    ('ok', 'GB/s')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import pyfastdl as fd
from pyfastdl.nn import functional as F

from .config import Config
from .results import SELF, Row
from .threads import torch_module
from .timing import Contender, measure

Arrays = list[np.ndarray]


@dataclass
class Runner:
    """One contender's pass (``fn()``) and the arrays it last produced (output, then gradients)."""

    fn: Callable[[], object]
    results: Callable[[], Arrays]


@dataclass(frozen=True)
class OpCase:
    """A functional call timed forward, or forward + backward.

    ``inputs(rng)``: the input arrays; ``call(F, *tensors)``: the call (F is
    ``pyfastdl.nn.functional`` or ``torch.nn.functional``); ``grads[i]``: whether input i gets
    a gradient in the backward pass; ``out_shape``: the shape of the call's result (of
    ``grad_out``). ``flops`` (table in GFLOP/s) or ``nbytes`` (table in GB/s, bytes read plus
    written per call). ``numpy(arrays, grad_out, backward)``: a Runner on raw arrays, or None.
    ``needs``: the ``pyfastdl.nn.functional`` names the call uses; ``max_rounds``: at most this
    many rounds (heavy cases).
    """

    suite: str
    name: str
    inputs: Callable[[np.random.Generator], Arrays]
    call: Callable[..., Any]
    out_shape: tuple[int, ...]
    grads: tuple[bool, ...]
    backward: bool = False
    flops: float | None = None
    nbytes: float | None = None
    numpy: Callable[[Arrays, np.ndarray | None, bool], Runner] | None = None
    needs: tuple[str, ...] = ()
    rtol: float = 1e-3
    max_rounds: int | None = None

    @property
    def unit(self) -> str:
        return "GFLOP/s" if self.flops is not None else "GB/s"


def missing(needs: Sequence[str]) -> str | None:
    """Why pyfastdl cannot run a case yet (a name absent from nn.functional), or None."""
    absent = [n for n in needs if not hasattr(F, n)]
    if absent:
        names = ", ".join(f"F.{n}" for n in absent)
        return f"skipped: {names} not in pyfastdl yet"
    return None


def _numpy_of(t: Any) -> np.ndarray:
    """A float64 copy of a tensor of either library (or of an array)."""
    if hasattr(t, "detach"):  # torch
        t = t.detach().numpy()
    return np.array(t, dtype=np.float64)


def autograd_runner(
    make_tensor: Callable[[np.ndarray, bool], Any],
    F: Any,
    case: OpCase,
    arrays: Arrays,
    grad_out: np.ndarray | None,
) -> Runner:
    """A library's pass through its autograd: ``case.call(F, *tensors)``, then (backward)
    ``y.backward(grad_out)``; the inputs' gradients are reset before each pass."""
    need = [g and case.backward for g in case.grads]
    ts = [make_tensor(a.copy(), n) for a, n in zip(arrays, need)]
    leaves = [t for t, n in zip(ts, need) if n]
    g = make_tensor(grad_out, False) if case.backward else None
    last: dict[str, Any] = {}

    def fn() -> None:
        for t in leaves:
            t.grad = None
        y = case.call(F, *ts)
        if g is not None:
            y.backward(g)
        last["y"] = y

    def results() -> Arrays:
        return [_numpy_of(last["y"])] + [_numpy_of(t.grad) for t in leaves]

    return Runner(fn, results)


def pyfastdl_runner(case: OpCase, arrays: Arrays, grad_out: np.ndarray | None) -> Runner:
    return autograd_runner(lambda a, rg: fd.tensor(a, requires_grad=rg), F, case, arrays, grad_out)


def torch_runner(torch: Any, case: OpCase, arrays: Arrays, grad_out: np.ndarray | None) -> Runner:
    return autograd_runner(
        lambda a, rg: torch.from_numpy(a).requires_grad_(rg),
        torch.nn.functional,
        case,
        arrays,
        grad_out,
    )


def check_results(results: dict[str, Arrays], rtol: float) -> str:
    """'ok', or which contender differs from the reference (the last of `results`: PyTorch,
    else NumPy) and by how much, relative to the reference's largest magnitude."""
    ref_name = next(reversed(results))
    ref = results[ref_name]
    labels = ["output"] + [f"gradient {i}" for i in range(1, len(ref))]
    for name, arrays in results.items():
        if len(arrays) != len(ref):
            return f"wrong: {name} gave {len(arrays)} results, {ref_name} {len(ref)}"
        for label, a, r in zip(labels, arrays, ref):
            if a.shape != r.shape:
                return f"wrong: {name}'s {label} has shape {a.shape}, {ref_name}'s {r.shape}"
            if not np.all(np.isfinite(a)):
                return f"wrong: {name}'s {label} has non-finite values"
            scale = float(np.max(np.abs(r))) if r.size else 0.0
            err = float(np.max(np.abs(a - r))) if r.size else 0.0
            if err > rtol * max(scale, 1e-6):
                return (
                    f"wrong: {name}'s {label} differs from {ref_name}'s by {err:.3g} "
                    f"(largest magnitude {scale:.3g})"
                )
    return "ok"


def run_case(
    case: OpCase,
    config: Config,
    rng: np.random.Generator,
    on_round: Callable[[], None] | None = None,
) -> Row:
    """Builds the contenders, checks they agree, then times them interleaved."""
    row = Row(case.suite, case.name, flops=case.flops, unit=case.unit, nbytes=case.nbytes)
    reason = missing(case.needs)
    if reason is not None:
        row.status = reason
        return row
    arrays = case.inputs(rng)
    grad_out = None
    if case.backward:
        grad_out = rng.standard_normal(case.out_shape, dtype=np.float32)
    runners = {SELF: pyfastdl_runner(case, arrays, grad_out)}
    if case.numpy is not None:
        runners["numpy"] = case.numpy(arrays, grad_out, case.backward)
    torch = torch_module()
    if torch is not None:
        runners["torch"] = torch_runner(torch, case, arrays, grad_out)
    try:
        runners[SELF].fn()
    except NotImplementedError as exc:  # the function exists, its kernel not yet
        row.status = f"skipped: not implemented in pyfastdl yet ({exc})"
        return row
    for name, r in runners.items():
        if name != SELF:
            r.fn()
    if len(runners) > 1:
        row.status = check_results({k: r.results() for k, r in runners.items()}, case.rtol)
    rounds = min(config.rounds, case.max_rounds or config.rounds)
    cs = [Contender(name, r.fn) for name, r in runners.items()]
    row.fill(measure(cs, rounds, config.target_s, config.pause_s, on_round, config.case_budget_s))
    return row

"""``kernels.check(name, fn)``: is my kernel right, and how fast is it?

Runs `fn` on every test case of the op (``kernels/cases/``) next to the reference and compares
the outputs with a tolerance that grows with the reduction length; then, if the op has a probe,
swaps `fn` into autograd and compares a small model's outputs and gradients (forward *and*
backward) with the reference's; finally times `fn` against the built-in kernel on the largest case,
interleaving the two.

Example:
    >>> import numpy as np
    >>> from pyfastdl import kernels
    >>> def my_gemm(a, b, bias, out, *, alpha=1.0, beta=0.0, activation="none",
    ...             activation_param=0.0, impl="auto"):
    ...     kernels.reference.gemm(a, b, bias, out, alpha=alpha, beta=beta,
    ...                            activation=activation, activation_param=activation_param)
    >>> report = kernels.check("gemm", my_gemm, timing=False)
    >>> report.passed
    True
"""

from __future__ import annotations

import ctypes
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import cases as _cases
from .registry import builtin_of, reference_of, use

__all__ = [
    "check",
    "CheckReport",
    "CaseResult",
    "tolerance",
    "tf32_gemm_within_bound",
    "to_device_like",
]


def tolerance(dtype: np.dtype, reduction: int) -> tuple[float, float]:
    """(rtol, atol) for comparing a result of `dtype` built from sums of `reduction` terms.

    The rounding error of a sum of n float32 products grows about like sqrt(n) * eps relative to
    the magnitude of the terms; the bound below leaves a factor ~10 of headroom.

    The one tolerance of kernel tests: the test suite applies it through
    :func:`pyfastdl.testing.assert_kernel_close` (with an explicit scale where an algorithm's
    rounding error is known to differ from a plain sum's).
    """
    eps = float(np.finfo(dtype).eps) if np.dtype(dtype).kind == "f" else 0.0
    scale = 10.0 * max(1.0, float(np.sqrt(reduction)))
    return 4 * eps * scale, 4 * eps * scale


@dataclass
class CaseResult:
    name: str
    ok: bool
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    error: str = ""


@dataclass
class CheckReport:
    """What check() found; ``bool(report)`` is ``report.passed``."""

    op: str
    results: list[CaseResult] = field(default_factory=list)
    probe: CaseResult | None = None
    timing: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(r.ok for r in self.results) and (self.probe is None or self.probe.ok)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        lines = [f"kernels.check('{self.op}'): {'PASSED' if self.passed else 'FAILED'}"]
        width = max([len(r.name) for r in self.results] + [10])
        for r in self.results + ([self.probe] if self.probe else []):
            status = "ok  " if r.ok else "FAIL"
            detail = (
                r.error or f"max abs err {r.max_abs_error:.2e}, max rel err {r.max_rel_error:.2e}"
            )
            lines.append(f"  {status} {r.name:<{width}}  {detail}")
        if self.timing:
            t = self.timing
            lines.append(
                f"  timing on '{t['case']}': yours {t['yours_ms']:.3f} ms, built-in "
                f"{t['builtin_ms']:.3f} ms ({t['builtin_ms'] / t['yours_ms']:.2f}x the built-in's speed)"
            )
        return "\n".join(lines)

    __repr__ = __str__


def _compare(name: str, got: list, want: list, rtol: float, atol: float) -> CaseResult:
    worst_abs = worst_rel = 0.0
    ok = True
    for g, w in zip(got, want):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        if g.shape != w.shape:
            return CaseResult(name, False, error=f"shape {g.shape}, expected {w.shape}")
        if g.size == 0:
            continue
        # Equal values (infinities of the same sign included) and NaN against NaN agree; any
        # other NaN or infinity is an infinite difference.
        agree = (g == w) | (np.isnan(g) & np.isnan(w))
        finite = np.isfinite(g) & np.isfinite(w)
        diff = np.full(g.shape, np.inf)
        np.subtract(g, w, out=diff, where=finite)
        diff = np.where(agree, 0.0, np.abs(diff))
        scale = np.where(np.isfinite(w), np.maximum(np.abs(w), 1.0), 1.0)
        worst_abs = max(worst_abs, float(diff.max()))
        worst_rel = max(worst_rel, float((diff / scale).max()))
        ok = ok and bool(
            np.all(diff <= atol + rtol * np.where(np.isfinite(w), np.abs(w), 0.0))
            or np.all(diff / scale <= rtol + atol)
        )
    return CaseResult(name, ok, worst_abs, worst_rel)


def _copy_args(args: list) -> list:
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


# The reference's outputs for the cases of the op checked last, by case and seed: the cases
# are built from a seeded generator and the references are pure functions of their arguments,
# so checking several versions of one op (tests/kernels/test_contract.py checks each version on
# every CPU path) computes them once. Only one op's are kept.
_reference_outputs: dict = {"op": None, "ref": None, "outputs": {}}


def _reference_of_case(
    op: str, ref: Callable, c: _cases.Case, seed: int, args: list, kwargs: dict
) -> list:
    """The reference's outputs of case `c` built with `seed` (from `args`, `kwargs`)."""
    cache = _reference_outputs
    if cache["op"] != op or cache["ref"] is not ref:
        cache.update(op=op, ref=ref, outputs={})
    key = (c.name, c.make, seed)
    if key not in cache["outputs"]:
        want_args = _copy_args(args)
        ref(*want_args, **kwargs)
        cache["outputs"][key] = [want_args[i] for i in c.outputs]
    return cache["outputs"][key]


def tf32_gemm_within_bound(
    a: np.ndarray, b: np.ndarray, alpha: float, got: Any, want: Any, rtol: float, atol: float
) -> bool:
    """True when a TF32 GEMM's result `got` is within TF32's error bound of the float32 `want`.

    Rounding both factors of a product to TF32 (10 explicit mantissa bits, to nearest) changes
    it by at most 2^-10 of its size, so a GEMM's error is at most 2^-10 |alpha| (|A| @ |B|)
    beyond float32's (x 1.25 for the epilogue's activations, whose slopes are at most 1.13).
    """
    scale = abs(alpha) * (np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64)))
    g, w = np.asarray(got, np.float64), np.asarray(want, np.float64)
    bound = 1.25 * 2.0**-10 * scale + atol + rtol * np.abs(w)
    return bool(np.all(np.abs(g - w) <= bound))


def _byte_extent(a: np.ndarray) -> tuple[int, int]:
    """[lo, hi) of the bytes view `a` touches, relative to its first element (lo <= 0)."""
    lo = hi = 0
    for n, st in zip(a.shape, a.strides):
        span = (n - 1) * st
        if span < 0:
            lo += span
        else:
            hi += span
    return lo, hi + a.itemsize


def to_device_like(a: np.ndarray) -> Any:
    """A CuPy copy of NumPy array `a` with the very same layout: strides (negative and zero
    ones included) and offsets, so a GPU kernel sees the transposed, sliced and broadcast views
    the CPU kernels are tested on."""
    import cupy

    if a.size == 0 or a.flags.c_contiguous:
        return cupy.asarray(a)
    lo, hi = _byte_extent(a)
    raw = np.ctypeslib.as_array((ctypes.c_ubyte * (hi - lo)).from_address(a.ctypes.data + lo))
    buf = cupy.asarray(raw.copy())
    return cupy.ndarray(a.shape, a.dtype, memptr=buf.data + (-lo), strides=a.strides)


def _synchronize(device: str) -> None:
    if device == "cuda":
        import cupy

        cupy.cuda.get_current_stream().synchronize()


def _run_case(
    op: str, fn: Callable, ref: Callable, c: _cases.Case, seed: int, device: str = "cpu"
) -> CaseResult:
    args, kwargs = c.make(np.random.default_rng(seed))
    try:
        want = _reference_of_case(op, ref, c, seed, args, kwargs)
    except Exception as e:  # pragma: no cover - the reference failing is a bug in pyfastdl
        return CaseResult(c.name, False, error=f"the reference raised {type(e).__name__}: {e}")
    got_args = _copy_args(args)
    # keep non-contiguous inputs non-contiguous: copy() above made them contiguous
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray) and i not in c.outputs:
            got_args[i] = a
    if device == "cuda":  # the same layouts on the GPU; outputs come back to be compared
        got_args = [to_device_like(a) if isinstance(a, np.ndarray) else a for a in got_args]
    try:
        fn(*got_args, **kwargs)
        _synchronize(device)
    except Exception as e:
        return CaseResult(c.name, False, error=f"raised {type(e).__name__}: {e}")
    if device == "cuda":
        got_args = [a.get() if hasattr(a, "__cuda_array_interface__") else a for a in got_args]
    # The outputs' precision decides the tolerance (the first argument may be integer indices).
    arrays = [args[i] for i in c.outputs] + list(args)
    dtype = next(a.dtype for a in arrays if isinstance(a, np.ndarray) and a.dtype.kind == "f")
    rtol, atol = tolerance(dtype, c.reduction)
    return _compare(c.name, [got_args[i] for i in c.outputs], want, rtol, atol)


def _run_probe(op: str, fn: Callable, probe: Callable, seed: int) -> CaseResult:
    name = "autograd probe (forward and backward)"
    try:
        with use(**{op: reference_of(op)}):
            want = probe(np.random.default_rng(seed))
        with use(**{op: fn}):
            got = probe(np.random.default_rng(seed))
    except Exception as e:
        return CaseResult(name, False, error=f"raised {type(e).__name__}: {e}")
    rtol, atol = tolerance(np.float32, 64)
    return _compare(name, got, want, rtol, atol)


def _median_ms(fn: Callable, args: list, kwargs: dict, repeats: int, device: str) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args, **kwargs)
        _synchronize(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def _time(
    fn: Callable, builtin: Callable, c: _cases.Case, device: str, rounds: int = 5
) -> dict[str, float]:
    args, kwargs = c.make(np.random.default_rng(0))
    if device == "cuda":
        args = [to_device_like(a) if isinstance(a, np.ndarray) else a for a in args]
    fn(*args, **kwargs)
    builtin(*args, **kwargs)  # warm up both
    _synchronize(device)
    t0 = time.perf_counter()
    fn(*args, **kwargs)
    _synchronize(device)
    repeats = max(1, min(200, int(0.02 / max(time.perf_counter() - t0, 1e-6))))
    yours, theirs = [], []
    for _ in range(rounds):  # interleaved, with pauses so that spinning worker threads settle
        yours.append(_median_ms(fn, args, kwargs, repeats, device))
        time.sleep(0.05)
        theirs.append(_median_ms(builtin, args, kwargs, repeats, device))
        time.sleep(0.05)
    return {
        "case": c.name,
        "yours_ms": statistics.median(yours),
        "builtin_ms": statistics.median(theirs),
    }


def check(
    name: str, fn: Callable, device: str = "cpu", *, timing: bool = True, seed: int = 0
) -> CheckReport:
    """Runs `fn` through the test cases of kernel `name`; returns a :class:`CheckReport`.

    `fn` must take the same arguments as ``kernels.reference.<name>``. Nothing is registered:
    call ``kernels.register`` once you are happy with the report.

    With ``device="cuda"`` the cases' arrays are copied to the GPU with their layouts (CuPy
    arrays with the same strides: transposed, sliced and broadcast views stay so), `fn` runs on
    them and its outputs are compared on the host with the reference's; the autograd probe runs
    on the CPU only, and the timing synchronises the stream around each call.
    """
    if not callable(fn):
        raise TypeError(f"[kernels.check] fn must be callable, got {type(fn).__name__}")
    op_cases = _cases.cases(name)
    if not op_cases:
        raise KeyError(f"[kernels.check] no test cases for kernel '{name}'")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"[kernels.check] device must be 'cpu' or 'cuda', got {device!r}")
    ref = reference_of(name)
    report = CheckReport(name)
    for i, c in enumerate(op_cases):
        report.results.append(_run_case(name, fn, ref, c, seed + i, device))
    probe = _cases.probes(name)
    if probe is not None and device == "cpu":
        report.probe = _run_probe(name, fn, probe, seed)
    if timing and report.passed:
        biggest = max(op_cases, key=lambda c: c.flops)
        report.timing = _time(fn, builtin_of(name, device), biggest, device)
    return report

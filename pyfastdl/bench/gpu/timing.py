"""Where the GPU suite runs (a :class:`Backend`), how it times (CUDA events), and its rows.

A Backend bundles the array module (CuPy), the kernel registry's device ("cuda"), PyTorch (the
peers, sharing the very same buffers through DLPack) and a clock. The suite's code is written
against it only, so that the tests run every workload on the host backend -- NumPy arrays, the
CPU kernels, PyTorch on the CPU, a wall clock -- on a machine without a GPU.

Timing (:func:`measure`): each contender is warmed up (its first calls pay cuDNN's algorithm
search, CuPy's kernel compilation, allocations) and calibrated, then every round times each
contender once, a batch of back-to-back calls between two CUDA events recorded on the stream
both libraries launch on, the first contender rotating from round to round. The GPU is idle
when a batch starts (the previous one was waited for), so a batch measures its own kernels and
their launch rate: a kernel shorter than its launch overhead is measured as launch-bound, as it
runs in a model. Figures are medians over rounds; ratios are medians of per-round ratios
(``pyfastdl.bench.timing.Measurement``).

Example:
    >>> from pyfastdl.bench.gpu.timing import Contender, host_backend, measure
    >>> be = host_backend()
    >>> a = be.xp.ones((16, 16), be.xp.float32)
    >>> m = measure([Contender("x", lambda: a @ a), Contender("y", lambda: a + a)], be,
    ...             rounds=2, target_s=1e-4)
    >>> m.rounds, sorted(m.times)
    (2, ['x', 'y'])
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ... import kernels
from ..threads import torch_module
from ..timing import Contender, Measurement, check_contenders

__all__ = ["Backend", "Contender", "GpuRow", "cuda_backend", "host_backend", "measure"]

MAX_REPEATS = 10_000  # calls per timed batch, at most
MIN_BATCH_S = 1e-5  # a calibration below this (a wrong clock) is taken as this


@dataclass
class Backend:
    """Where the workloads run.

    ``xp``: the array module; ``device``: the kernel registry's device ("cuda" or "cpu");
    ``torch``: PyTorch or None; ``torch_device``: where its tensors live; ``clock(fn, n)``:
    seconds per call over n back-to-back calls of fn, finished work only; ``synchronize()``:
    waits for all queued work; ``notes``: what the report header says about the timing.
    """

    name: str
    xp: Any
    device: str
    torch: Any
    torch_device: str
    clock: Callable[[Callable[[], object], int], float]
    synchronize: Callable[[], None]
    notes: list[str] = field(default_factory=list)

    def kernel(self, op: str, version: str | None = None) -> Callable | None:
        """pyfastdl's kernel for `op` on this device (``kernels.get``), or None when only the
        reference is registered there (the op's native kernel is not written or not built);
        with `version` ("tf32"), that version or None."""
        registered = kernels.versions(op, self.device)
        if version is not None:
            return kernels.get(f"{op}/{version}", self.device) if version in registered else None
        return kernels.get(op, self.device) if "native" in registered else None

    def asarray(self, host: Any) -> Any:
        """A device copy of a NumPy array (a copy on the host backend too: never an alias)."""
        return self.xp.array(host, copy=True)

    def to_host(self, a: Any) -> Any:
        """A NumPy copy of a device array or a tensor of either library."""
        if hasattr(a, "detach"):  # a PyTorch tensor
            return a.detach().cpu().numpy()
        return a.get() if hasattr(a, "get") else a

    def tensor(self, a: Any) -> Any:
        """A PyTorch tensor sharing `a`'s memory (DLPack)."""
        return self.torch.from_dlpack(a)


def _wall_clock(synchronize: Callable[[], None]) -> Callable[[Callable[[], object], int], float]:
    def clock(fn: Callable[[], object], repeats: int) -> float:
        synchronize()
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        synchronize()
        return (time.perf_counter() - t0) / repeats

    return clock


def host_backend(torch: Any = "auto") -> Backend:
    """NumPy arrays, the CPU kernels, PyTorch on the CPU, a wall clock: the GPU suite's code
    on a machine without a GPU (the tests); `torch`: a module, None (no peers) or "auto"."""
    torch = torch_module() if torch == "auto" else torch
    return Backend(
        name="host",
        xp=np,
        device="cpu",
        torch=torch,
        torch_device="cpu",
        clock=_wall_clock(lambda: None),
        synchronize=lambda: None,
        notes=["host backend: NumPy arrays, CPU kernels, wall clock (a test run, not the GPU)"],
    )


def _event_clock(cupy: Any) -> Callable[[Callable[[], object], int], float]:
    start, end = cupy.cuda.Event(), cupy.cuda.Event()

    def clock(fn: Callable[[], object], repeats: int) -> float:
        start.record()
        for _ in range(repeats):
            fn()
        end.record()
        end.synchronize()
        return cupy.cuda.get_elapsed_time(start, end) * 1e-3 / repeats

    return clock


def cuda_backend() -> Backend:
    """CuPy on the current device, the 'cuda' kernels, PyTorch on "cuda" when it has CUDA
    (else no PyTorch peers), CUDA events on CuPy's current stream.

    The events time PyTorch's kernels too when PyTorch launches on that same stream (both
    default to the legacy default stream); otherwise the clock falls back to the wall clock
    around a device synchronisation, and the header says so.
    """
    import cupy

    def synchronize() -> None:
        cupy.cuda.Device().synchronize()

    torch = torch_module()
    notes: list[str] = []
    if torch is not None and not torch.cuda.is_available():
        notes.append("PyTorch has no CUDA here: no PyTorch peers")
        torch = None
    clock = _event_clock(cupy)
    if torch is not None:
        # fp32 peers: no TF32 in cuDNN's convolutions or cuBLAS's matmuls; cuDNN picks its
        # fastest algorithm per shape (searched during the warm-up)
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
        ours, theirs = int(cupy.cuda.get_current_stream().ptr), torch.cuda.current_stream()
        if int(theirs.cuda_stream) != ours:
            notes.append(
                f"PyTorch's stream ({theirs.cuda_stream:#x}) is not CuPy's ({ours:#x}): wall "
                "clock around device synchronisations instead of CUDA events"
            )
            clock = _wall_clock(synchronize)
    return Backend(
        name="cuda",
        xp=cupy,
        device="cuda",
        torch=torch,
        torch_device="cuda",
        clock=clock,
        synchronize=synchronize,
        notes=notes,
    )


def _calibrate(c: Contender, backend: Backend, target_s: float, warmup: int) -> int:
    """Warms `c` up; the number of calls that make a batch of about `target_s` seconds."""
    for _ in range(max(warmup, 1)):
        c.fn()
    backend.synchronize()
    per_call = max(backend.clock(c.fn, 1), MIN_BATCH_S / MAX_REPEATS)
    repeats = max(1, min(MAX_REPEATS, math.ceil(target_s / per_call)))
    if repeats > 1:  # one call includes its launch latency: refine on a batch
        per_call = max(backend.clock(c.fn, repeats), MIN_BATCH_S / MAX_REPEATS)
        repeats = max(1, min(MAX_REPEATS, math.ceil(target_s / per_call)))
    return repeats


def measure(
    contenders: list[Contender],
    backend: Backend,
    rounds: int,
    target_s: float,
    warmup: int = 3,
) -> Measurement:
    """Times `contenders` interleaved over `rounds` rounds (see the module docstring)."""
    names = check_contenders(contenders, rounds)
    repeats = {c.name: _calibrate(c, backend, target_s, warmup) for c in contenders}
    times: dict[str, list[float]] = {name: [] for name in names}
    n = len(contenders)
    for r in range(rounds):
        for i in range(n):
            c = contenders[(r + i) % n]
            backend.synchronize()
            times[c.name].append(backend.clock(c.fn, repeats[c.name]))
    return Measurement(times, repeats)


@dataclass
class GpuRow:
    """A GPU workload's result.

    ``work``: FLOPs (``unit`` "TFLOP/s") or bytes read plus written (``unit`` "GB/s") per call;
    ``work_of``: a contender's own count where it differs (the copy moves other bytes);
    ``seconds[c]``: median seconds per call of contender c; ``ours``: pyfastdl's contenders
    (``pyfastdl``, ``pyfastdl tf32``); ``baseline``: the peer they are compared to;
    ``ratios[c]``: median over rounds of time(baseline) / time(c) for each of ours (> 1: ours
    faster); ``status``: "ok", "skipped: ...", "wrong: ..." or "error: ...".
    """

    suite: str
    name: str
    unit: str
    work: float
    baseline: str | None = None
    ours: tuple[str, ...] = ("pyfastdl",)
    work_of: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)
    status: str = "ok"
    notes: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    repeats: dict[str, int] = field(default_factory=dict)

    def rate(self, contender: str) -> float | None:
        """TFLOP/s or GB/s of a contender (None: not timed)."""
        if contender not in self.seconds or self.seconds[contender] <= 0:
            return None
        scale = 1e-12 if self.unit == "TFLOP/s" else 1e-9
        return self.work_of.get(contender, self.work) / self.seconds[contender] * scale

    def fraction_of(self, contender: str, of: str) -> float | None:
        """rate(contender) / rate(of) (the memory-bound rows: of the copy's GB/s)."""
        mine, theirs = self.rate(contender), self.rate(of)
        return None if mine is None or not theirs else mine / theirs

    def fill(self, m: Measurement) -> None:
        """Medians, paired ratios and raw samples from a measurement."""
        self.notes["rounds"] = m.rounds
        self.samples = {k: list(v) for k, v in m.times.items()}
        self.repeats = dict(m.repeats)
        self.seconds = {k: statistics.median(v) for k, v in m.times.items()}
        if self.baseline in m.times:
            self.ratios = {c: m.ratio(self.baseline, c) for c in self.ours if c in m.times}

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rates"] = {c: self.rate(c) for c in self.seconds}
        return out

"""One row of the report: a workload's figures for each contender and the paired ratios."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .timing import Measurement

SELF = "pyfastdl"
PEERS = ("numpy", "torch")
# The optional compiled peers of the training steps (``peers``): a column only where they ran
COMPILED_PEERS = ("torch.compile", "jax")
ALL_PEERS = PEERS + COMPILED_PEERS


@dataclass
class Row:
    """A workload's result.

    ``seconds[c]``: median seconds per call of contender c (absent: not run). ``speedup[peer]``:
    median over rounds of time(peer) / time(pyfastdl), so > 1 means pyfastdl is faster;
    ``speedup_best``: the same against the fastest peer of each round (the compiled peers
    included; the raw-array floor "kernels" is no peer). ``flops``: per call (None:
    not counted); ``nbytes``: bytes read plus written per call (memory-bound workloads);
    ``unit``: how the table shows each contender, "GFLOP/s", "GB/s", "ms" or "us" (per call: lower
    is better; the per-op overhead table's microseconds).
    ``status``: "ok", or why the row has no (trustworthy) figures ("skipped: ..." when pyfastdl
    lacks the function, "unavailable: ..." when a layer or model is missing).
    """

    suite: str
    name: str
    flops: float | None = None
    unit: str = "GFLOP/s"
    nbytes: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    speedup: dict[str, float] = field(default_factory=dict)
    speedup_best: float | None = None
    status: str = "ok"
    notes: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    repeats: dict[str, int] = field(default_factory=dict)

    def gflops(self, contender: str) -> float | None:
        if self.flops is None or contender not in self.seconds:
            return None
        return self.flops / self.seconds[contender] * 1e-9

    def gbs(self, contender: str) -> float | None:
        if self.nbytes is None or contender not in self.seconds:
            return None
        return self.nbytes / self.seconds[contender] * 1e-9

    def fill(self, m: Measurement) -> None:
        """Takes medians, paired ratios and the raw samples from a measurement."""
        self.notes["rounds"] = m.rounds
        self.samples = {k: list(v) for k, v in m.times.items()}
        self.repeats = dict(m.repeats)
        self.seconds = {k: m.median(k) for k in m.times}
        peers = [p for p in ALL_PEERS if p in m.times]
        if SELF in m.times:
            self.speedup = {p: m.ratio(p, SELF) for p in peers}
            if peers:
                self.speedup_best = m.ratio(peers, SELF)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

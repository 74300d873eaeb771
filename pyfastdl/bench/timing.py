"""Paired, interleaved timing of several contenders on one workload.

The machines this suite runs on are shared and noisy, so absolute times drift by 10-20% from one
second to the next. What stays meaningful is a ratio measured side by side: each *round* times
every contender once (a batch of repeats sized to ~20-50 ms), one after the other, and a ratio is
taken within the round; the reported figure is the median of the per-round ratios.

After each contender's batch the timer sleeps (``pause``, ~0.2 s): OpenMP and OpenBLAS worker
threads spin for a while after their work and would steal the cores from the next library. After
the pause one untimed call wakes the contender's sleeping worker threads (on a busy host the first
call after a sleep can wait milliseconds for a core), then its batch is timed. The first contender
of each round rotates so that no library always runs right after another one.

Example:
    >>> import numpy as np
    >>> from pyfastdl.bench.timing import Contender, measure
    >>> a = np.ones((32, 32), np.float32)
    >>> m = measure([Contender("np", lambda: a @ a), Contender("np2", lambda: np.dot(a, a))],
    ...             rounds=3, target_s=0.001, pause_s=0.0)
    >>> len(m.times["np"]), m.ratio("np2", "np") > 0
    (3, True)
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_REPEATS = 1_000_000


@dataclass
class Contender:
    """One library's way of running a workload: ``fn()`` performs the work once."""

    name: str
    fn: Callable[[], object]


@dataclass
class Measurement:
    """Per-round seconds per call of each contender (``times[name][round]``)."""

    times: dict[str, list[float]]
    repeats: dict[str, int] = field(default_factory=dict)

    @property
    def rounds(self) -> int:
        return min((len(t) for t in self.times.values()), default=0)

    def median(self, name: str) -> float:
        """Median seconds per call of one contender."""
        return statistics.median(self.times[name])

    def per_round_ratios(self, slower: str | list[str], base: str) -> list[float]:
        """time(slower) / time(base) in each round; with a list, the fastest of them per round."""
        names = [slower] if isinstance(slower, str) else slower
        return [
            min(self.times[n][r] for n in names) / self.times[base][r] for r in range(self.rounds)
        ]

    def ratio(self, slower: str | list[str], base: str) -> float:
        """Median over rounds of time(slower) / time(base): > 1 means `base` is faster."""
        return statistics.median(self.per_round_ratios(slower, base))

    def median_difference(self, name: str, base: str) -> float:
        """Median over rounds of time(name) - time(base), in seconds."""
        return statistics.median(
            self.times[name][r] - self.times[base][r] for r in range(self.rounds)
        )


def time_batch(fn: Callable[[], object], repeats: int) -> float:
    """Seconds per call of `fn`, over `repeats` back-to-back calls."""
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def calibrate(fn: Callable[[], object], target_s: float, warmup_s: float | None = None) -> int:
    """Warms `fn` up and returns how many calls make one batch of about `target_s` seconds
    (see :func:`calibrate_call`)."""
    return calibrate_call(fn, target_s, warmup_s)[0]


def calibrate_call(
    fn: Callable[[], object], target_s: float, warmup_s: float | None = None
) -> tuple[int, float]:
    """Warms `fn` up; returns the calls per batch of about `target_s` seconds and the estimated
    seconds per call.

    The first call pays one-time costs (allocation, packing buffers, thread start-up); it is run
    and discarded. The warm-up times calls one by one and takes their median, so that one call
    that lost its core to another process does not shrink the batch; a batch of the estimated
    size then refines the figure (the smaller of the two estimates wins, for the same reason).
    """
    fn()
    warmup_s = target_s if warmup_s is None else warmup_s
    singles: list[float] = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        singles.append(t1 - t0)
        if t1 - start >= warmup_s or len(singles) >= MAX_REPEATS:
            break
    per_call = max(statistics.median(singles), 1e-9)
    repeats = max(1, min(MAX_REPEATS, math.ceil(target_s / per_call)))
    if repeats > 1:
        per_call = max(min(per_call, time_batch(fn, repeats)), 1e-9)
        repeats = max(1, min(MAX_REPEATS, math.ceil(target_s / per_call)))
    return repeats, per_call


MIN_ROUNDS = 3  # a time budget never cuts a workload below this many rounds


def rounds_within(
    rounds: int, round_seconds: float, budget_s: float | None, min_rounds: int = MIN_ROUNDS
) -> int:
    """`rounds`, or fewer (not below `min_rounds`) when they would take more than `budget_s`.

    Example:
        >>> rounds_within(21, 0.5, 4.0), rounds_within(21, 0.5, None), rounds_within(2, 9.0, 1.0)
        (8, 21, 2)
    """
    if budget_s is None or round_seconds <= 0:
        return rounds
    return max(min(rounds, min_rounds), min(rounds, int(budget_s // round_seconds)))


def check_contenders(contenders: Sequence[Any], rounds: int) -> list[str]:
    """The contenders' names; raises ValueError when there are none, when `rounds` < 1 or when
    two share a name (the CPU and the GPU suites' measure() both take these)."""
    if not contenders:
        raise ValueError("[bench] measure needs at least one contender")
    if rounds < 1:
        raise ValueError(f"[bench] rounds must be >= 1, got {rounds}")
    names = [c.name for c in contenders]
    if len(set(names)) != len(names):
        raise ValueError(f"[bench] contender names must be unique, got {names}")
    return names


def measure(
    contenders: list[Contender],
    rounds: int,
    target_s: float,
    pause_s: float,
    on_round: Callable[[], None] | None = None,
    budget_s: float | None = None,
) -> Measurement:
    """Times `contenders` interleaved over `rounds` rounds (see the module docstring).

    Every contender is warmed up and calibrated first (with a pause after each); the repeat count
    stays fixed for all rounds so that every round measures the same thing. With `budget_s`, the
    rounds are cut (to no fewer than MIN_ROUNDS) so that they take about that many seconds: a
    slow workload (a reference kernel, a heavy training step) then cannot stretch a run.
    """
    check_contenders(contenders, rounds)
    repeats: dict[str, int] = {}
    round_seconds = 0.0
    for c in contenders:
        repeats[c.name], per_call = calibrate_call(c.fn, target_s)
        round_seconds += repeats[c.name] * per_call + pause_s
        time.sleep(pause_s)
    rounds = rounds_within(rounds, round_seconds, budget_s)
    times: dict[str, list[float]] = {c.name: [] for c in contenders}
    n = len(contenders)
    for r in range(rounds):
        for i in range(n):
            c = contenders[(r + i) % n]
            c.fn()  # untimed: wakes the worker threads that slept through the pause
            times[c.name].append(time_batch(c.fn, repeats[c.name]))
            time.sleep(pause_s)
        if on_round is not None:
            on_round()
    return Measurement(times, repeats)

"""Case, the decorators the case families register with, and the probe table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Case", "case", "cases", "f32", "probe", "probes"]


@dataclass
class Case:
    """One call of a kernel: ``make(rng)`` returns (args, kwargs); ``outputs`` are arg positions."""

    name: str
    make: Callable[[np.random.Generator], tuple[list, dict]]
    outputs: tuple[int, ...]
    reduction: int = 1  # length of the longest sum behind one output element (tolerance scale)
    flops: float = 0.0  # for timing reports
    tags: tuple[str, ...] = field(default=())


_CASES: dict[str, list[Case]] = {}
_PROBES: dict[str, Callable] = {}


def case(
    op: str,
    name: str,
    outputs: tuple[int, ...],
    reduction: int = 1,
    flops: float = 0.0,
    tags: tuple[str, ...] = (),
) -> Callable:
    """Decorator: registers ``make(rng) -> (args, kwargs)`` as a case of `op`."""

    def add(make: Callable) -> Callable:
        _CASES.setdefault(op, []).append(Case(name, make, outputs, reduction, flops, tags))
        return make

    return add


def cases(op: str) -> list[Case]:
    """The cases of `op` (empty when it has none)."""
    return list(_CASES.get(op, []))


def probe(op: str) -> Callable:
    """Decorator: registers ``fn(rng) -> list of arrays`` (outputs and gradients) as a probe of `op`."""

    def add(fn: Callable) -> Callable:
        _PROBES[op] = fn
        return fn

    return add


def probes(op: str) -> Callable | None:
    return _PROBES.get(op)


def f32(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """A standard-normal float32 array."""
    return rng.standard_normal(shape).astype(np.float32)

"""Test cases of the fused optimizer steps (SGD; Adam and AdamW).

Every combination of the options on lengths around the vector widths (1, 15, 16, 17), the first
step (a momentum buffer full of NaN, which must not be read; Adam's zero moments at step 1) and
a later one (random state), and a few combinations on a length large enough to use threads.
"""

from __future__ import annotations

import itertools

import numpy as np

from .base import case, f32

SMALL = (1, 15, 16, 17)
LARGE = 1000003

# (momentum, dampening, nesterov)
SGD_MOMENTA = ((0.0, 0.0, False), (0.9, 0.0, False), (0.9, 0.0, True), (0.8, 0.25, False))


def _sgd_case(n: int, momentum: float, dampening: float, nesterov: bool, **flags) -> None:
    first = flags["first_step"]
    name = f"n={n} momentum={momentum:g} dampening={dampening:g} nesterov={nesterov} " + " ".join(
        f"{k}={v}" for k, v in flags.items()
    )

    def make(rng: np.random.Generator) -> tuple[list, dict]:
        p, g = f32(rng, n), f32(rng, n)
        if momentum == 0:
            buf = None
        elif first:
            buf = np.full(n, np.nan, np.float32)  # never read on the first step
        else:
            buf = f32(rng, n)
        kwargs = {
            "lr": 0.05,
            "momentum": momentum,
            "dampening": dampening,
            "nesterov": nesterov,
            **flags,
        }
        return [p, g, buf], kwargs

    outputs = (0,) if momentum == 0 else (0, 2)
    case("sgd_step", name, outputs=outputs, flops=6.0 * n)(make)


def _adam_case(n: int, step: int, **flags) -> None:
    name = f"n={n} step={step} " + " ".join(f"{k}={v}" for k, v in flags.items())

    def make(rng: np.random.Generator) -> tuple[list, dict]:
        p, g = f32(rng, n), f32(rng, n)
        if step == 1:
            m, v = np.zeros(n, np.float32), np.zeros(n, np.float32)
        else:
            m = f32(rng, n) * 0.1
            v = (m * m + rng.random(n).astype(np.float32) * 0.01).astype(np.float32)
        vmax = None
        if flags["amsgrad"]:
            vmax = (v + rng.random(n).astype(np.float32) * 0.01 * (step > 1)).astype(np.float32)
            vmax[::2] = v[::2] * 0.5  # half the entries take the new v
        kwargs = {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "step": step, **flags}
        return [p, g, m, v, vmax], kwargs

    outputs = (0, 2, 3, 4) if flags["amsgrad"] else (0, 2, 3)
    case("adam_step", name, outputs=outputs, flops=12.0 * n)(make)


for _n in SMALL:
    for (_mom, _damp, _nest), _wd, _max, _first in itertools.product(
        SGD_MOMENTA, (0.0, 0.01), (False, True), (False, True)
    ):
        if _mom == 0 and _first:
            continue  # no buffer: first_step changes nothing
        _sgd_case(_n, _mom, _damp, _nest, weight_decay=_wd, maximize=_max, first_step=_first)
    for _step, (_wd, _dec), _ams, _max in itertools.product(
        (1, 7), ((0.0, False), (0.1, False), (0.1, True)), (False, True), (False, True)
    ):
        _adam_case(_n, _step, weight_decay=_wd, decoupled=_dec, amsgrad=_ams, maximize=_max)

_sgd_case(LARGE, 0.0, 0.0, False, weight_decay=0.0, maximize=False, first_step=False)
_sgd_case(LARGE, 0.9, 0.0, True, weight_decay=1e-4, maximize=False, first_step=False)
_adam_case(LARGE, 5, weight_decay=0.01, decoupled=True, amsgrad=True, maximize=False)
_adam_case(LARGE, 3, weight_decay=0.0, decoupled=False, amsgrad=False, maximize=True)

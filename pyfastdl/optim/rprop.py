"""Rprop: resilient backpropagation, per-coordinate step sizes driven by gradient signs.

PyTorch's update rule, per parameter p with gradient g (negated first when ``maximize``)::

    s = sign(g * prev)
    step_size = clamp(step_size * (etaplus if s > 0, etaminus if s < 0, 1 if s == 0),
                      step_size_min, step_size_max)        (starts at lr)
    g = 0 where s < 0                                      (skip the step after a sign change)
    p = p - sign(g) * step_size
    prev = g

Example:
    >>> import pyfastdl as fd
    >>> w = fd.tensor([1.0], requires_grad=True)
    >>> opt = fd.optim.Rprop([w], lr=0.1)
    >>> w.grad = fd.tensor([2.0])
    >>> opt.step(); opt.step()
    >>> round(w.item(), 4)
    0.78
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..arrays import xp as xp_of
from .optimizer import Optimizer, _check_not_differentiable, _check_number

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Rprop (PyTorch's ``torch.optim.Rprop``, same options, defaults and state layout)."""

    _scalar_state = ("step",)

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_not_differentiable("Rprop", differentiable)
        defaults = {
            "lr": lr,
            "etas": etas,
            "step_sizes": step_sizes,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        group["lr"] = _check_number("Rprop", "lr", group["lr"], 0.0)
        for key in ("etas", "step_sizes"):
            pair = group[key]
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"[Rprop] {key} must be a pair, got {pair!r}")
            group[key] = tuple(_check_number("Rprop", key, v, -np.inf) for v in pair)
        etaminus, etaplus = group["etas"]
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise ValueError(
                f"[Rprop] etas must satisfy 0 < etaminus < 1 < etaplus, got ({etaminus:g}, "
                f"{etaplus:g})"
            )

    def step(self, closure: Callable | None = None) -> Any:
        """Updates every parameter that has a gradient; returns closure() when given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            etaminus, etaplus = group["etas"]
            size_min, size_max = group["step_sizes"]
            for p, g, state in self._params_with_grad(group):
                pa = p.array
                xp = xp_of(pa)
                if "step" not in state:
                    state["step"] = 0.0
                    state["prev"] = xp.zeros_like(pa)
                    state["step_size"] = xp.full_like(pa, group["lr"])
                state["step"] += 1.0
                g = self._decayed_grad(state, p, g, 0.0, group["maximize"])
                prev, size = state["prev"], state["step_size"]
                factor = self._scratch(state, p, 1)
                xp.multiply(g, prev, out=factor)
                xp.sign(factor, out=factor)
                flipped = factor < 0
                factor[factor > 0] = etaplus
                factor[flipped] = etaminus
                factor[factor == 0] = 1
                size *= factor
                xp.clip(size, size_min, size_max, out=size)
                xp.copyto(prev, g)
                prev[factor == etaminus] = 0
                xp.sign(prev, out=factor)
                factor *= size
                pa -= factor
        return loss

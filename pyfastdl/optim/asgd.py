"""ASGD: averaged stochastic gradient descent (Polyak-Juditsky averaging).

PyTorch's update rule, per parameter p with gradient g (negated first when ``maximize``) at step
t = 1, 2, ...::

    g = g + weight_decay * p
    p = p * (1 - lambd * eta) - eta * g
    ax = ax + mu * (p - ax)                  (ax = p while mu == 1)
    eta = lr / (1 + lambd * lr * t) ** alpha
    mu = 1 / max(1, t - t0)

``eta`` and ``mu`` are rounded to float32, as PyTorch keeps them in float32 scalar tensors.

Example:
    >>> import pyfastdl as fd
    >>> w = fd.tensor([1.0], requires_grad=True)
    >>> opt = fd.optim.ASGD([w], lr=0.1, lambd=0.0)
    >>> w.grad = fd.tensor([2.0])
    >>> opt.step()
    >>> round(w.item(), 4)
    0.8
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..arrays import xp as xp_of
from .optimizer import Optimizer, _check_not_differentiable, _check_number

__all__ = ["ASGD"]


def _f32(x: float) -> float:
    return float(np.float32(x))


class ASGD(Optimizer):
    """ASGD (PyTorch's ``torch.optim.ASGD``, same options, defaults and state layout)."""

    _scalar_state = ("step", "eta", "mu")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        _check_not_differentiable("ASGD", differentiable)
        defaults = {
            "lr": lr,
            "lambd": lambd,
            "alpha": alpha,
            "t0": t0,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        group["lr"] = _check_number("ASGD", "lr", group["lr"], 0.0)
        group["weight_decay"] = _check_number("ASGD", "weight_decay", group["weight_decay"], 0.0)
        for key in ("lambd", "alpha", "t0"):
            group[key] = _check_number("ASGD", key, group[key], -np.inf)

    def step(self, closure: Callable | None = None) -> Any:
        """Updates every parameter that has a gradient; returns closure() when given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
            for p, g, state in self._params_with_grad(group):
                pa = p.array
                xp = xp_of(pa)
                if "step" not in state:
                    state["step"] = 0.0
                    state["eta"] = _f32(lr)
                    state["mu"] = 1.0
                    state["ax"] = xp.zeros_like(pa)
                state["step"] = t = state["step"] + 1.0
                g = self._decayed_grad(state, p, g, group["weight_decay"], group["maximize"])
                eta = state["eta"]
                tmp = self._scratch(state, p, 1)
                pa *= 1 - lambd * eta
                xp.multiply(g, eta, out=tmp)
                pa -= tmp
                ax = state["ax"]
                if state["mu"] != 1:
                    xp.subtract(pa, ax, out=tmp)
                    tmp *= state["mu"]
                    ax += tmp
                else:
                    ax[...] = pa
                state["eta"] = _f32(lr / ((1 + lambd * lr * t) ** alpha))
                state["mu"] = _f32(1 / max(1, t - t0))
        return loss

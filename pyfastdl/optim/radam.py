"""RAdam: Adam with a rectified (variance-corrected) adaptive learning rate.

PyTorch's update rule, per parameter p with gradient g (negated first when ``maximize``) at step
t = 1, 2, ...::

    g = g + weight_decay * p                 (or p = p * (1 - lr * weight_decay) when decoupled)
    m, v: Adam's moments
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
    rect = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
    p = p - lr * m / (1 - beta1**t) * sqrt(1 - beta2**t) / (sqrt(v) + eps) * rect   (rho_t > 5)
    p = p - lr * m / (1 - beta1**t)                                                   (otherwise)

Example:
    >>> import pyfastdl as fd
    >>> w = fd.tensor([1.0], requires_grad=True)
    >>> opt = fd.optim.RAdam([w], lr=0.1)
    >>> w.grad = fd.tensor([2.0])
    >>> opt.step()
    >>> round(w.item(), 4)
    0.8
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from ..arrays import xp as xp_of
from ._moments import update_moments
from .optimizer import Optimizer, _check_betas, _check_not_differentiable, _check_number

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam (PyTorch's ``torch.optim.RAdam``, same options, defaults and state layout)."""

    _scalar_state = ("step",)

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_not_differentiable("RAdam", differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "decoupled_weight_decay": decoupled_weight_decay,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        group["lr"] = _check_number("RAdam", "lr", group["lr"], 0.0)
        group["eps"] = _check_number("RAdam", "eps", group["eps"], 0.0)
        group["betas"] = _check_betas("RAdam", group["betas"])
        group["weight_decay"] = _check_number("RAdam", "weight_decay", group["weight_decay"], 0.0)

    def step(self, closure: Callable | None = None) -> Any:
        """Updates every parameter that has a gradient; returns closure() when given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            decoupled = group["decoupled_weight_decay"]
            for p, g, state in self._params_with_grad(group):
                pa = p.array
                xp = xp_of(pa)
                if "step" not in state:
                    state["step"] = 0.0
                    state["exp_avg"] = xp.zeros_like(pa)
                    state["exp_avg_sq"] = xp.zeros_like(pa)
                state["step"] = t = state["step"] + 1.0
                if decoupled and wd != 0:
                    pa *= 1 - lr * wd
                g = self._decayed_grad(state, p, g, 0.0 if decoupled else wd, group["maximize"])
                m, v = state["exp_avg"], state["exp_avg_sq"]
                tmp = self._scratch(state, p, 1)
                update_moments(m, v, g, beta1, beta2, tmp)
                bias_correction1 = 1 - beta1**t
                bias_correction2 = 1 - beta2**t
                rho_inf = 2 / (1 - beta2) - 1
                rho_t = rho_inf - 2 * t * (beta2**t) / bias_correction2
                step = self._scratch(state, p, 2)
                xp.divide(m, bias_correction1, out=step)
                step *= lr
                if rho_t > 5.0:
                    rect = math.sqrt(
                        (rho_t - 4)
                        * (rho_t - 2)
                        * rho_inf
                        / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                    )
                    xp.sqrt(v, out=tmp)
                    tmp += eps
                    xp.divide(bias_correction2**0.5, tmp, out=tmp)
                    step *= tmp
                    step *= rect
                pa -= step
        return loss

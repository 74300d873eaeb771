"""NAdam: Adam with Nesterov momentum and a momentum-decay schedule.

PyTorch's update rule, per parameter p with gradient g (negated first when ``maximize``) at step
t = 1, 2, ...::

    g = g + weight_decay * p                 (or p = p * (1 - lr * weight_decay) when decoupled)
    mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_product = mu_product * mu_t           (kept in float32, as PyTorch's scalar tensor)
    m, v: Adam's moments
    denom = sqrt(v / (1 - beta2**t)) + eps
    p = p - lr * (1 - mu_t) / (1 - mu_product) * g / denom
          - lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / denom

Example:
    >>> import pyfastdl as fd
    >>> w = fd.tensor([1.0], requires_grad=True)
    >>> opt = fd.optim.NAdam([w], lr=0.1)
    >>> w.grad = fd.tensor([2.0])
    >>> opt.step()
    >>> round(w.item(), 4)
    0.8944
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..arrays import xp as xp_of
from ._moments import update_moments
from .optimizer import Optimizer, _check_betas, _check_not_differentiable, _check_number

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam (PyTorch's ``torch.optim.NAdam``, same options, defaults and state layout)."""

    _scalar_state = ("step", "mu_product")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_not_differentiable("NAdam", differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        group["lr"] = _check_number("NAdam", "lr", group["lr"], 0.0)
        group["eps"] = _check_number("NAdam", "eps", group["eps"], 0.0)
        group["betas"] = _check_betas("NAdam", group["betas"])
        group["weight_decay"] = _check_number("NAdam", "weight_decay", group["weight_decay"], 0.0)
        group["momentum_decay"] = _check_number(
            "NAdam", "momentum_decay", group["momentum_decay"], 0.0
        )

    def step(self, closure: Callable | None = None) -> Any:
        """Updates every parameter that has a gradient; returns closure() when given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            psi = group["momentum_decay"]
            decoupled = group["decoupled_weight_decay"]
            for p, g, state in self._params_with_grad(group):
                pa = p.array
                xp = xp_of(pa)
                if "step" not in state:
                    state["step"] = 0.0
                    state["mu_product"] = 1.0
                    state["exp_avg"] = xp.zeros_like(pa)
                    state["exp_avg_sq"] = xp.zeros_like(pa)
                state["step"] = t = state["step"] + 1.0
                if decoupled and wd != 0:
                    pa *= 1 - lr * wd
                g = self._decayed_grad(state, p, g, 0.0 if decoupled else wd, group["maximize"])
                mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * psi)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * psi)))
                mu_product = float(np.float32(state["mu_product"]) * np.float32(mu))
                state["mu_product"] = mu_product
                m, v = state["exp_avg"], state["exp_avg_sq"]
                tmp = self._scratch(state, p, 1)
                update_moments(m, v, g, beta1, beta2, tmp)
                denom = self._scratch(state, p, 2)
                xp.divide(v, 1 - beta2**t, out=denom)
                xp.sqrt(denom, out=denom)
                denom += eps
                xp.divide(g, denom, out=tmp)
                tmp *= -lr * (1.0 - mu) / (1.0 - mu_product)
                pa += tmp
                xp.divide(m, denom, out=tmp)
                tmp *= (-lr * mu_next) / (1.0 - mu_product * mu_next)
                pa += tmp
        return loss

"""Adamax: Adam with the infinity norm in place of the second moment.

PyTorch's update rule, per parameter p with gradient g (negated first when ``maximize``) at step
t = 1, 2, ...::

    g = g + weight_decay * p
    m = m + (1 - beta1) * (g - m)                      (exp_avg)
    u = max(beta2 * u, |g| + eps)                      (exp_inf)
    p = p - lr / (1 - beta1**t) * m / u

Example:
    >>> import pyfastdl as fd
    >>> w = fd.tensor([1.0], requires_grad=True)
    >>> opt = fd.optim.Adamax([w], lr=0.1)
    >>> w.grad = fd.tensor([2.0])
    >>> opt.step()
    >>> round(w.item(), 4)
    0.9
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..arrays import xp as xp_of
from .optimizer import Optimizer, _check_betas, _check_not_differentiable, _check_number

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax (PyTorch's ``torch.optim.Adamax``, same options, defaults and state layout)."""

    _scalar_state = ("step",)

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        _check_not_differentiable("Adamax", differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        group["lr"] = _check_number("Adamax", "lr", group["lr"], 0.0)
        group["eps"] = _check_number("Adamax", "eps", group["eps"], 0.0)
        group["betas"] = _check_betas("Adamax", group["betas"])
        group["weight_decay"] = _check_number("Adamax", "weight_decay", group["weight_decay"], 0.0)

    def step(self, closure: Callable | None = None) -> Any:
        """Updates every parameter that has a gradient; returns closure() when given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, eps = group["lr"], group["eps"]
            beta1, beta2 = group["betas"]
            for p, g, state in self._params_with_grad(group):
                pa = p.array
                xp = xp_of(pa)
                if "step" not in state:
                    state["step"] = 0.0
                    state["exp_avg"] = xp.zeros_like(pa)
                    state["exp_inf"] = xp.zeros_like(pa)
                state["step"] = t = state["step"] + 1.0
                g = self._decayed_grad(state, p, g, group["weight_decay"], group["maximize"])
                m, u = state["exp_avg"], state["exp_inf"]
                tmp = self._scratch(state, p, 1)
                xp.subtract(g, m, out=tmp)
                tmp *= 1 - beta1
                m += tmp
                u *= beta2
                xp.abs(g, out=tmp)
                tmp += eps
                xp.maximum(u, tmp, out=u)
                clr = lr / (1 - beta1**t)
                xp.divide(m, u, out=tmp)
                tmp *= clr
                pa -= tmp
        return loss

"""Adadelta: an adaptive learning rate from running averages of squared gradients and updates.

PyTorch's update rule, per parameter p with gradient g (negated first when ``maximize``)::

    g = g + weight_decay * p
    v = rho * v + (1 - rho) * g * g                          (square_avg)
    delta = sqrt(u + eps) / sqrt(v + eps) * g
    u = rho * u + (1 - rho) * delta * delta                  (acc_delta)
    p = p - lr * delta

Example:
    >>> import pyfastdl as fd
    >>> w = fd.tensor([1.0], requires_grad=True)
    >>> opt = fd.optim.Adadelta([w])
    >>> w.grad = fd.tensor([1.0])
    >>> opt.step()
    >>> round(w.item(), 6)
    0.996838
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..arrays import xp as xp_of
from .optimizer import Optimizer, _check_not_differentiable, _check_number

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta (PyTorch's ``torch.optim.Adadelta``, same options, defaults and state layout)."""

    _scalar_state = ("step",)

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_not_differentiable("Adadelta", differentiable)
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "capturable": capturable,
            "foreach": foreach,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        group["lr"] = _check_number("Adadelta", "lr", group["lr"], 0.0)
        group["rho"] = _check_number("Adadelta", "rho", group["rho"], 0.0)
        if group["rho"] > 1.0:
            raise ValueError(f"[Adadelta] rho must be in [0, 1], got {group['rho']:g}")
        group["eps"] = _check_number("Adadelta", "eps", group["eps"], 0.0)
        group["weight_decay"] = _check_number(
            "Adadelta", "weight_decay", group["weight_decay"], 0.0
        )

    def step(self, closure: Callable | None = None) -> Any:
        """Updates every parameter that has a gradient; returns closure() when given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, rho, eps = group["lr"], group["rho"], group["eps"]
            for p, g, state in self._params_with_grad(group):
                pa = p.array
                xp = xp_of(pa)
                if "step" not in state:
                    state["step"] = 0.0
                    state["square_avg"] = xp.zeros_like(pa)
                    state["acc_delta"] = xp.zeros_like(pa)
                state["step"] += 1.0
                g = self._decayed_grad(state, p, g, group["weight_decay"], group["maximize"])
                v, u = state["square_avg"], state["acc_delta"]
                tmp = self._scratch(state, p, 1)
                delta = self._scratch(state, p, 2)
                v *= rho
                xp.multiply(g, 1 - rho, out=tmp)
                tmp *= g
                v += tmp
                xp.add(v, eps, out=tmp)
                xp.sqrt(tmp, out=tmp)  # std
                xp.add(u, eps, out=delta)
                xp.sqrt(delta, out=delta)
                delta /= tmp
                delta *= g
                u *= rho
                xp.multiply(delta, 1 - rho, out=tmp)
                tmp *= delta
                u += tmp
                xp.multiply(delta, lr, out=tmp)
                pa -= tmp
        return loss

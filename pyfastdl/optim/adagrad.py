"""Adagrad: per-coordinate learning rates from the sum of all past squared gradients.

PyTorch's update rule, per parameter p with gradient g (negated first when ``maximize``) at step
t = 1, 2, ...::

    g = g + weight_decay * p
    clr = lr / (1 + (t - 1) * lr_decay)
    sum = sum + g * g                       (starts at initial_accumulator_value)
    p = p - clr * g / (sqrt(sum) + eps)

The state (``step``, ``sum``) is created for every parameter at construction, as in PyTorch.

Example:
    >>> import pyfastdl as fd
    >>> w = fd.tensor([1.0], requires_grad=True)
    >>> opt = fd.optim.Adagrad([w], lr=0.1)
    >>> w.grad = fd.tensor([3.0])
    >>> opt.step()
    >>> round(w.item(), 4)
    0.9
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..arrays import xp as xp_of
from .optimizer import Optimizer, _check_not_differentiable, _check_number

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (PyTorch's ``torch.optim.Adagrad``, same options, defaults and state layout)."""

    _scalar_state = ("step",)

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _check_not_differentiable("Adagrad", differentiable)
        # foreach/fused select PyTorch's other implementations; results are the same.
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(self.state.setdefault(p, {}), p, group)

    def _check_group(self, group: dict) -> None:
        for key in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            group[key] = _check_number("Adagrad", key, group[key], 0.0)

    @staticmethod
    def _init_state(state: dict, p: Any, group: dict) -> None:
        if "step" not in state:
            state["step"] = 0.0
            state["sum"] = xp_of(p.array).full_like(p.array, group["initial_accumulator_value"])

    def step(self, closure: Callable | None = None) -> Any:
        """Updates every parameter that has a gradient; returns closure() when given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
            for p, g, state in self._params_with_grad(group):
                self._init_state(state, p, group)
                state["step"] = t = state["step"] + 1.0
                g = self._decayed_grad(state, p, g, group["weight_decay"], group["maximize"])
                clr = lr / (1 + (t - 1) * lr_decay)
                acc = state["sum"]
                std = self._scratch(state, p, 1)
                xp = xp_of(std)
                xp.multiply(g, g, out=std)
                acc += std
                xp.sqrt(acc, out=std)
                std += eps
                xp.divide(g, std, out=std)
                std *= clr
                xp.subtract(p.array, std, out=p.array)
        return loss

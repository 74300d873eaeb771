"""Adam (and, with decoupled weight decay, AdamW): adaptive moment estimation.

PyTorch's update rule, per parameter p with gradient g (negated first when ``maximize``), at
step t = 1, 2, ...::

    g = g + weight_decay * p            (Adam: L2 penalty in the gradient)
    p = p * (1 - lr * weight_decay)     (AdamW: decoupled decay, instead of the line above)
    m = m + (1 - beta1) * (g - m)       (torch's lerp)
    v = beta2 * v + (1 - beta2) * g * g
    v_max = max(v_max, v)               (amsgrad; then v_max replaces v below)
    denom = sqrt(v) / sqrt(1 - beta2**t) + eps
    p = p - lr / (1 - beta1**t) * m / denom

in the parameter's dtype (float32 for float32 parameters), in place; the bias corrections are
Python doubles as in PyTorch. Float32 parameters take the fused kernel ``adam_step`` (each value
read and written once); for others one scratch buffer per parameter holds the temporaries.

Example:
    >>> import pyfastdl as fd
    >>> w = fd.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = fd.optim.Adam([w], lr=0.1)
    >>> w.grad = fd.tensor([0.5, -2.0])
    >>> opt.step()
    >>> [round(v, 4) for v in w.tolist()]
    [0.9, -0.9]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from .. import kernels
from ..arrays import xp as xp_of
from .optimizer import (
    Optimizer,
    _check_betas,
    _check_not_differentiable,
    _check_number,
    _flat_float32,
)

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam (PyTorch's ``torch.optim.Adam``, same options, defaults and state layout)."""

    _scalar_state = ("step",)

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        _check_not_differentiable(type(self).__name__, differentiable)
        # foreach/fused/capturable select PyTorch's other implementations; results are the same.
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        op = type(self).__name__
        group["lr"] = _check_number(op, "lr", group["lr"], 0.0)
        group["eps"] = _check_number(op, "eps", group["eps"], 0.0)
        group["betas"] = _check_betas(op, group["betas"])
        group["weight_decay"] = _check_number(op, "weight_decay", group["weight_decay"], 0.0)

    def step(self, closure: Callable | None = None) -> Any:
        """Updates every parameter that has a gradient; returns closure() when given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = group["lr"]
            beta1, beta2 = group["betas"]
            eps = group["eps"]
            wd = group["weight_decay"]
            amsgrad = group["amsgrad"]
            maximize = group["maximize"]
            decoupled = group["decoupled_weight_decay"]
            for p, g, state in self._params_with_grad(group):
                pa = p.array
                xp = xp_of(pa)
                if "step" not in state:
                    state["step"] = 0.0
                    state["exp_avg"] = xp.zeros_like(pa)
                    state["exp_avg_sq"] = xp.zeros_like(pa)
                if amsgrad and "max_exp_avg_sq" not in state:
                    state["max_exp_avg_sq"] = xp.zeros_like(pa)
                m = state["exp_avg"]
                v = state["exp_avg_sq"]
                state["step"] = t = state["step"] + 1.0
                flats = _flat_float32(pa, g, m, v, state["max_exp_avg_sq"] if amsgrad else None)
                if flats is not None:
                    kernels.for_array("adam_step", pa)(
                        *flats,
                        lr=lr,
                        beta1=beta1,
                        beta2=beta2,
                        eps=eps,
                        weight_decay=wd,
                        amsgrad=amsgrad,
                        maximize=maximize,
                        step=t,
                        decoupled=decoupled,
                    )
                    continue
                scr = self._scratch(state, p)
                if maximize:
                    g = -g
                if wd != 0:
                    if decoupled:
                        pa *= 1 - lr * wd
                    else:
                        g = g + wd * pa
                # m = m + (1 - beta1) * (g - m)
                xp.subtract(g, m, out=scr)
                scr *= 1 - beta1
                m += scr
                # v = beta2 * v + ((1 - beta2) * g) * g
                v *= beta2
                xp.multiply(g, 1 - beta2, out=scr)
                scr *= g
                v += scr
                if amsgrad:
                    v_max = state["max_exp_avg_sq"]
                    xp.maximum(v_max, v, out=v_max)
                    v = v_max
                bias_correction1 = 1 - beta1**t
                bias_correction2_sqrt = math.sqrt(1 - beta2**t)
                step_size = lr / bias_correction1
                xp.sqrt(v, out=scr)
                scr /= bias_correction2_sqrt
                scr += eps
                xp.divide(m, scr, out=scr)
                scr *= step_size
                pa -= scr
        return loss

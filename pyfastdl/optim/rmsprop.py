"""RMSprop: divides the gradient by a running root mean square of its recent magnitudes.

PyTorch's update rule, per parameter p with gradient g (negated first when ``maximize``)::

    g = g + weight_decay * p
    v = alpha * v + (1 - alpha) * g * g                  (square_avg)
    g_avg = g_avg + (1 - alpha) * (g - g_avg)            (centered: grad_avg)
    avg = sqrt(v - g_avg * g_avg) + eps   if centered else sqrt(v) + eps
    buf = momentum * buf + g / avg; p = p - lr * buf     (momentum > 0: momentum_buffer)
    p = p - lr * g / avg                                 (otherwise)

Example:
    >>> import pyfastdl as fd
    >>> w = fd.tensor([1.0], requires_grad=True)
    >>> opt = fd.optim.RMSprop([w], lr=0.01)
    >>> w.grad = fd.tensor([2.0])
    >>> opt.step()
    >>> round(w.item(), 4)
    0.9
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..arrays import xp as xp_of
from .optimizer import Optimizer, _check_not_differentiable, _check_number

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (PyTorch's ``torch.optim.RMSprop``, same options, defaults and state layout)."""

    _scalar_state = ("step",)

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_not_differentiable("RMSprop", differentiable)
        # foreach/capturable select PyTorch's other implementations; results are the same.
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        for key in ("lr", "eps", "momentum", "weight_decay", "alpha"):
            group[key] = _check_number("RMSprop", key, group[key], 0.0)

    def step(self, closure: Callable | None = None) -> Any:
        """Updates every parameter that has a gradient; returns closure() when given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            momentum, centered = group["momentum"], group["centered"]
            for p, g, state in self._params_with_grad(group):
                pa = p.array
                xp = xp_of(pa)
                if "step" not in state:
                    state["step"] = 0.0
                    state["square_avg"] = xp.zeros_like(pa)
                    if momentum > 0:
                        state["momentum_buffer"] = xp.zeros_like(pa)
                    if centered:
                        state["grad_avg"] = xp.zeros_like(pa)
                state["step"] += 1.0
                g = self._decayed_grad(state, p, g, group["weight_decay"], group["maximize"])
                avg = self._scratch(state, p, 1)
                v = state["square_avg"]
                v *= alpha
                xp.multiply(g, 1 - alpha, out=avg)
                avg *= g
                v += avg
                if centered:
                    g_avg = state["grad_avg"]
                    xp.subtract(g, g_avg, out=avg)
                    avg *= 1 - alpha
                    g_avg += avg
                    xp.multiply(g_avg, g_avg, out=avg)
                    xp.subtract(v, avg, out=avg)
                    xp.sqrt(avg, out=avg)
                else:
                    xp.sqrt(v, out=avg)
                avg += eps
                xp.divide(g, avg, out=avg)
                if momentum > 0:
                    buf = state["momentum_buffer"]
                    buf *= momentum
                    buf += avg
                    xp.multiply(buf, lr, out=avg)
                else:
                    avg *= lr
                pa -= avg
        return loss

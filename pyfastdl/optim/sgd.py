"""SGD: stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

PyTorch's update rule, per parameter p with gradient g (negated first when ``maximize``)::

    g = g + weight_decay * p
    buf = g                                   (first step: a copy of the gradient)
    buf = momentum * buf + (1 - dampening) * g (later steps)
    d = g + momentum * buf  if nesterov else buf   (d = g when momentum == 0)
    p = p - lr * d

computed in the parameter's dtype, in place: float32 parameters by the fused kernel ``sgd_step``
(each value read and written once), others through one reused scratch buffer per parameter.

Example:
    >>> import pyfastdl as fd
    >>> w = fd.tensor([1.0], requires_grad=True)
    >>> opt = fd.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> w.grad = fd.tensor([1.0])
    >>> opt.step(); opt.step()
    >>> round(w.item(), 4)
    0.71
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import kernels
from ..arrays import xp as xp_of
from .optimizer import Optimizer, _check_number, _flat_float32

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent (PyTorch's ``torch.optim.SGD``, same options and defaults)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        if differentiable:
            raise NotImplementedError("[SGD] differentiable=True is not supported")
        # foreach/fused select PyTorch's multi-tensor implementations; results are the same.
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        group["lr"] = _check_number("SGD", "lr", group["lr"], 0.0)
        group["momentum"] = _check_number("SGD", "momentum", group["momentum"], 0.0)
        group["dampening"] = _check_number("SGD", "dampening", group["dampening"], -np.inf)
        group["weight_decay"] = _check_number("SGD", "weight_decay", group["weight_decay"], 0.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "[SGD] nesterov momentum requires momentum > 0 and dampening == 0, "
                f"got momentum={group['momentum']:g}, "
                f"dampening={group['dampening']:g}"
            )

    def step(self, closure: Callable | None = None) -> Any:
        """Updates every parameter that has a gradient; returns closure() when given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = group["lr"]
            momentum = group["momentum"]
            dampening = group["dampening"]
            wd = group["weight_decay"]
            nesterov = group["nesterov"]
            maximize = group["maximize"]
            for p, g, state in self._params_with_grad(group):
                pa = p.array
                xp = xp_of(pa)
                buf = state.get("momentum_buffer") if momentum != 0 else None
                first_step = momentum != 0 and buf is None
                if first_step and pa.dtype == np.float32:
                    buf = xp.empty_like(pa, order="C")  # the kernel writes it, never reads it
                flats = _flat_float32(pa, g, buf)
                if flats is not None:
                    if first_step:
                        state["momentum_buffer"] = buf
                    kernels.for_array("sgd_step", pa)(
                        *flats,
                        lr=lr,
                        momentum=momentum,
                        dampening=dampening,
                        weight_decay=wd,
                        nesterov=nesterov,
                        maximize=maximize,
                        first_step=first_step,
                    )
                    continue
                scr = self._scratch(state, p)
                d = g  # the update direction; never written while it is the gradient itself
                if maximize:
                    xp.negative(g, out=scr)
                    d = scr  # (not the ufunc's return value: `d is scr` is tested below)
                if wd != 0:
                    if d is scr:
                        scr += wd * pa
                    else:
                        xp.multiply(pa, wd, out=scr)
                        scr += g
                    d = scr
                if momentum != 0:
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = d.copy()
                    else:
                        buf *= momentum
                        if dampening == 0:
                            buf += d
                        else:
                            buf += (1 - dampening) * d
                    if nesterov:
                        if d is scr:
                            scr += momentum * buf
                        else:
                            xp.multiply(buf, momentum, out=scr)
                            scr += d
                            d = scr
                    else:
                        d = buf
                # p = p - lr * d (scr may alias d: the multiply reads before it writes)
                xp.multiply(d, lr, out=scr)
                xp.subtract(pa, scr, out=pa)
        return loss

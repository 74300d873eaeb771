"""LBFGS: limited-memory BFGS, a quasi-Newton method (PyTorch's ``torch.optim.LBFGS``).

Each ``step(closure)`` runs up to `max_iter` iterations on the parameters viewed as one flat
vector: the two-loop recursion turns the gradient into a direction from the last `history_size`
(step, gradient change) pairs, then it moves by `lr` along it (the first iteration by
``min(1, 1 / |g|_1) * lr``), or by the step a strong-Wolfe line search finds
(``line_search_fn="strong_wolfe"``). It stops when the gradient's largest entry is at most
`tolerance_grad`, when the loss or the step changes less than `tolerance_change`, or after
`max_eval` closure evaluations. One parameter group only; the state (kept across steps) lives in
the first parameter's entry of ``state``, under PyTorch's names.

Example:
    >>> import pyfastdl as fd
    >>> x = fd.tensor([3.0, -2.0], dtype=fd.float64, requires_grad=True)
    >>> opt = fd.optim.LBFGS([x], line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = ((x - 1.0) ** 2).sum()
    ...     loss.backward()
    ...     return loss
    >>> _ = opt.step(closure)
    >>> [round(v, 6) for v in x.tolist()]
    [1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..arrays import is_gpu
from ..arrays import xp as xp_of
from ..autograd import bump_version
from ..tensor import Tensor, _place
from ._line_search import strong_wolfe
from .optimizer import Optimizer, _check_number

__all__ = ["LBFGS"]


def _as_float(loss: Any) -> float:
    return float(loss.item() if isinstance(loss, Tensor) else loss)


class LBFGS(Optimizer):
    """LBFGS (PyTorch's ``torch.optim.LBFGS``, same options, defaults and state names)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = {
            "lr": lr,
            "max_iter": max_iter,
            "max_eval": max_eval,
            "tolerance_grad": tolerance_grad,
            "tolerance_change": tolerance_change,
            "history_size": history_size,
            "line_search_fn": line_search_fn,
        }
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("[LBFGS] doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _check_group(self, group: dict) -> None:
        group["lr"] = _check_number("LBFGS", "lr", group["lr"], 0.0)
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(
                "[LBFGS] line_search_fn must be None or 'strong_wolfe', got "
                f"{group['line_search_fn']!r}"
            )

    # ------------------------------------------------------------------ flat views
    def _gather_flat_grad(self) -> Any:
        xp = xp_of(self._params[0].array)
        return xp.concatenate(
            [
                xp.zeros(p.array.size, p.array.dtype)
                if p.grad is None
                else self._grad_array(p).reshape(-1)
                for p in self._params
            ]
        )

    def _add_grad(self, step_size: Any, update: np.ndarray) -> None:
        offset = 0
        for p in self._params:
            n = p.array.size
            p.array[...] += step_size * update[offset : offset + n].reshape(p.array.shape)
            bump_version(p)
            offset += n

    def _directional_evaluate(
        self, closure: Callable, x: list[np.ndarray], t: Any, d: np.ndarray
    ) -> tuple[float, np.ndarray]:
        self._add_grad(t, d)
        loss = _as_float(self._closure_loss(closure))
        flat_grad = self._gather_flat_grad()
        for p, saved in zip(self._params, x):
            p.array[...] = saved
            bump_version(p)
        return loss, flat_grad

    # ------------------------------------------------------------------ state dicts
    def _export(self, key: str, value: Any) -> Any:
        if isinstance(value, list):
            return [self._export(key, v) for v in value]
        if isinstance(value, np.generic) or (is_gpu(value) and value.ndim == 0):
            return value.item()  # scalars (a GPU run's are 0-d arrays) are saved as numbers
        return super()._export(key, value)

    def _import(self, key: str, value: Any, p: Tensor) -> Any:
        if isinstance(value, list):
            return [self._import(key, v, p) for v in value]
        if isinstance(value, Tensor):
            return _place(value.array, p.device).copy()
        return super()._import(key, value, p)

    # ------------------------------------------------------------------ the step
    def step(self, closure: Callable | None = None) -> Any:  # noqa: C901 - one algorithm
        """Runs up to `max_iter` iterations; `closure` clears the gradients, computes the
        loss, calls ``backward()`` and returns the loss. Returns the first loss."""
        if closure is None:
            raise TypeError("[LBFGS] step() requires a closure that reevaluates the loss")
        group = self.param_groups[0]
        lr = group["lr"]
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        state = self.state.setdefault(self._params[0], {})
        xp = xp_of(self._params[0].array)
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._closure_loss(closure)
        loss = _as_float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if xp.abs(flat_grad).max() <= tolerance_grad:
            return orig_loss  # already optimal

        d = state.get("d")
        t = state.get("t")
        old_dirs = state.get("old_dirs")
        old_stps = state.get("old_stps")
        ro = state.get("ro")
        h_diag = state.get("H_diag")
        prev_flat_grad = state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # the descent direction
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                h_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:  # keep the pair only where the curvature is positive
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / y.dot(y)
                num_old = len(old_dirs)
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]
                # two-loop recursion: d = -H g
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q -= al[i] * old_dirs[i]
                d = r = q * h_diag
                for i in range(num_old):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            # the step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / xp.abs(flat_grad).sum()) * lr
            else:
                t = lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:
                break  # not a descent direction

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = [p.array.copy() for p in self._params]

                def obj_func(x: list[np.ndarray], t: Any, d: np.ndarray) -> tuple:
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
                )
                self._add_grad(t, d)
                opt_cond = xp.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    loss = _as_float(self._closure_loss(closure))
                    flat_grad = self._gather_flat_grad()
                    opt_cond = xp.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # the stopping conditions
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if xp.abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state["d"] = d
        state["t"] = t
        state["old_dirs"] = old_dirs
        state["old_stps"] = old_stps
        state["ro"] = ro
        state["H_diag"] = h_diag
        state["prev_flat_grad"] = prev_flat_grad
        state["prev_loss"] = prev_loss
        return orig_loss

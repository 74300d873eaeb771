"""What every training-step benchmark shares: the step closure and the check that the contenders
compute the same training (losses and weights) before they are timed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["check_steps", "compare_steps", "run_steps", "step_fn"]


def step_fn(model: Any, loss_fn: Any, opt: Any, x: Any, y: Any) -> Callable[[], Any]:
    """One training step on (x, y) as a closure, for pyfastdl and PyTorch alike:
    forward, loss, zero_grad, backward, optimizer step; returns the loss."""

    def step() -> Any:
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


def _loss_value(loss: Any) -> float:
    return float(loss) if isinstance(loss, float) else float(loss.item())


def run_steps(
    steps: dict[str, tuple[Callable, Callable]], n_steps: int = 2
) -> tuple[dict[str, list[float]], dict[str, np.ndarray]]:
    """Runs `n_steps` steps of each; returns their losses and the probed weight after them."""
    losses = {k: [_loss_value(step()) for _ in range(n_steps)] for k, (step, _) in steps.items()}
    return losses, {k: w() for k, (_, w) in steps.items()}


def compare_steps(
    losses: dict[str, list[float]],
    weights: dict[str, np.ndarray],
    names: list[str],
    ref: str,
    rtol: float = 1e-4,
    atol: float = 1e-5,
) -> str:
    """'ok' when the losses and weights of `names` agree with `ref`'s, else the first that
    does not ("wrong: <name> ...")."""
    for name in names:
        if not np.allclose(losses[name], losses[ref], rtol=rtol, atol=atol):
            return f"wrong: {name} losses {losses[name]} vs {ref} {losses[ref]}"
        if not np.allclose(weights[name], weights[ref], rtol=rtol, atol=atol):
            err = float(np.max(np.abs(weights[name] - weights[ref])))
            n_steps = len(losses[name])
            return f"wrong: {name} weights after {n_steps} steps differ from {ref}'s by {err:.3g}"
    return "ok"


def check_steps(
    steps: dict[str, tuple[Callable, Callable]],
    n_steps: int = 2,
    rtol: float = 1e-4,
    atol: float = 1e-5,
) -> str:
    """Runs `n_steps` steps of each; 'ok' when every loss and the probed weight after them agree
    (float32, SGD: relative 1e-4 on the losses, absolute 1e-5 on the weights; Adam's normalised
    updates amplify rounding where a gradient is tiny, so its callers pass wider tolerances)."""
    losses, weights = run_steps(steps, n_steps)
    return compare_steps(losses, weights, list(steps), next(iter(steps)), rtol, atol)

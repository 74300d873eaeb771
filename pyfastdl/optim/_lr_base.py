"""LRScheduler: the base class of the learning-rate schedulers, and their argument helpers."""

from __future__ import annotations

from typing import Any

from .optimizer import Optimizer

__all__ = ["LRScheduler"]


def _check_optimizer(optimizer: Any, op: str) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"[{op}] expected an Optimizer, got {type(optimizer).__name__}")


class LRScheduler:
    """Base class: ``get_lr()`` gives the lrs of the current epoch (``last_epoch``).

    Args:
        optimizer: the wrapped optimizer.
        last_epoch: the index of the last epoch when resuming; -1 starts afresh (and records each
            group's ``initial_lr``).
    """

    _is_initial = False  # True during the step taken at construction
    _get_lr_called_within_step = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        _check_optimizer(optimizer, name)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"[{name}] param 'initial_lr' is not specified in "
                        f"param_groups[{i}] when resuming an optimizer"
                    )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """The step every scheduler takes at construction (``_is_initial`` is True during it)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:  # pragma: no cover - abstract
        raise NotImplementedError(f"[{type(self).__name__}] get_lr() is not implemented")

    def get_last_lr(self) -> list[float]:
        """The lrs set by the last ``step()``."""
        return self._last_lr

    def step(self, epoch: int | None = None) -> None:
        """Moves to the next epoch (or to `epoch`, using the closed form when one exists)."""
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: float | None = None) -> None:
        self._get_lr_called_within_step = True  # as PyTorch (it is part of the state dict)
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed = getattr(self, "_get_closed_form_lr", None)
                values = closed() if closed is not None else self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        self._set_lrs(values)

    def _set_lrs(self, values: list[float]) -> None:
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = self._group_lrs()

    def _group_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Everything but the optimizer (numbers and lists: saveable with ``pyfastdl.save``)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)


def _format_param(op: str, name: str, optimizer: Optimizer, value: Any) -> list:
    """`value` once per parameter group: a list or tuple of one per group, or one for all."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"[{op}] expected {n} {name}s (one per group), got {len(value)}")
        return list(value)
    return [value] * n

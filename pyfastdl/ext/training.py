"""Training utilities (ours: PyTorch has no such names): checkpoints of a whole training run that
resume bit for bit, early stopping, and the course's L1 / L2 penalties.

Checkpoints. :func:`save_checkpoint` writes, through :func:`pyfastdl.save` (safetensors, an
atomic write: a crash never leaves a truncated file where a good one was), one nested dict::

    {"model": model.state_dict(), "optimizer": ..., "scheduler": ..., "epoch": ...,
     "rng_state": pyfastdl.get_rng_state(), **extra}

and :func:`load_checkpoint` puts each part back. The default generator feeds every random draw
of pyfastdl (initialisation, dropout masks, ``randn``, random transforms, DataLoader shuffling
without an explicit ``generator``), so a run stopped after epoch k and resumed from its
checkpoint in a fresh process gives the same losses, bit for bit, as a run that never stopped.
A DataLoader with its own Generator is not covered: save ``g.get_state()`` in ``extra``.

Data-parallel runs: call both on every rank. With a process group of more than one rank, only
rank 0 writes (its generator state is the one saved) and every rank waits until the file is
there; a DistributedDataParallel model is saved without its ``module.`` prefix, so the file loads
into the bare model, or into DDP at any world size.

Penalties (the course's "explicit regularisation terms"): :func:`l2_penalty` is
``||W||² = Σ w²`` and :func:`l1_penalty` is ``||W||₁ = Σ |w|``, to be added to the loss with a
factor λ: ``loss + λ·l2_penalty(model)`` adds ``2λw`` to each gradient, ``loss +
λ·l1_penalty(model)`` adds ``λ·sign(w)``. SGD's ``weight_decay=wd`` adds ``wd·w`` to the gradient
inside the optimizer: the same step as the explicit penalty ``(wd/2)·||W||²``. Adam's
``weight_decay`` is that same L2 penalty too (its gradient then goes through the moments);
AdamW's decoupled decay, ``w -= lr·wd·w`` beside the Adam step, is not a penalty on the loss.

Example:
    >>> import os, tempfile
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> from pyfastdl.ext.training import load_checkpoint, save_checkpoint
    >>> model = nn.Linear(3, 2)
    >>> opt = fd.optim.SGD(model.parameters(), lr=0.1)
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> save_checkpoint(path, model, opt, epoch=4, best_loss=0.25)
    >>> ckpt = load_checkpoint(path, model, opt)
    >>> ckpt["epoch"], ckpt["best_loss"]
    (4, 0.25)
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any

from .. import distributed, nn
from ..io import load, save
from ..nn.modules.utils import consume_prefix_in_state_dict_if_present
from ..nn.parallel import DistributedDataParallel
from ..random import get_rng_state, set_rng_state
from ..tensor import Tensor, tensor

__all__ = ["EarlyStopping", "l1_penalty", "l2_penalty", "load_checkpoint", "save_checkpoint"]

_RESERVED = ("model", "optimizer", "scheduler", "epoch", "rng_state")


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: Any = None,
    scheduler: Any = None,
    epoch: int | None = None,
    **extra: Any,
) -> None:
    """Saves model, optimizer and scheduler state dicts, `epoch`, the default generator's state
    and `extra` (numbers, strings, Tensors, nested dicts/lists of them) to `path`, atomically.

    Example:
        >>> import os, tempfile
        >>> from pyfastdl import nn
        >>> from pyfastdl.ext.training import save_checkpoint
        >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
        >>> save_checkpoint(path, nn.Linear(2, 2), epoch=1)
        >>> os.path.exists(path)
        True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"[save_checkpoint] model must be an nn.Module, got {type(model).__name__}")
    clash = sorted(set(extra) & set(_RESERVED))
    if clash:
        raise ValueError(f"[save_checkpoint] extra entries may not be named {clash}")
    if isinstance(model, DistributedDataParallel):
        model = model.module
    ckpt: dict[str, Any] = {"model": model.state_dict(), "epoch": epoch}
    if optimizer is not None:
        ckpt["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        ckpt["scheduler"] = scheduler.state_dict()
    ckpt["rng_state"] = get_rng_state()
    ckpt.update(extra)
    if distributed.is_initialized() and distributed.get_world_size() > 1:
        if distributed.get_rank() == 0:
            save(ckpt, path)
        distributed.barrier()  # no rank goes on (and reads it) before the file is complete
    else:
        save(ckpt, path)


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: Any = None,
    scheduler: Any = None,
    *,
    restore_rng: bool = True,
) -> dict:
    """Loads a :func:`save_checkpoint` file into `model` (strictly), `optimizer` and `scheduler`
    (when given), restores the default generator (unless ``restore_rng=False``) and returns the
    whole checkpoint dict (``ckpt["epoch"]``, the extras, ...).

    Build the optimizer and the scheduler as for a fresh run before calling it; their state then
    replaces the fresh one.

    Example:
        >>> import os, tempfile
        >>> from pyfastdl import nn
        >>> from pyfastdl.ext.training import load_checkpoint, save_checkpoint
        >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
        >>> save_checkpoint(path, nn.Linear(2, 2), epoch=7)
        >>> load_checkpoint(path, nn.Linear(2, 2))["epoch"]
        7
    """
    ckpt = load(path)
    if not isinstance(ckpt, dict) or "model" not in ckpt or "rng_state" not in ckpt:
        raise ValueError(f"[load_checkpoint] '{os.fspath(path)}' is not a save_checkpoint file")
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is not None and name not in ckpt:
            raise ValueError(
                f"[load_checkpoint] '{os.fspath(path)}' holds no {name} state, but a {name} "
                "was given"
            )
    if isinstance(model, DistributedDataParallel):
        model = model.module
    state = ckpt["model"]
    if state and all(key.startswith("module.") for key in state):  # a DDP state_dict
        consume_prefix_in_state_dict_if_present(state, "module.")
    model.load_state_dict(state)
    if optimizer is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(ckpt["scheduler"])
    if restore_rng:
        set_rng_state(ckpt["rng_state"])
    return ckpt


class EarlyStopping:
    """Stops training when a monitored value (validation loss, accuracy) stops improving.

    Call ``step(value, model)`` once per epoch; it returns True when the value has not improved
    for `patience` epochs in a row. Improving means ``value < best - min_delta`` in mode "min"
    (``value > best + min_delta`` in mode "max"); a NaN never improves. With
    `restore_best_weights`, each improvement keeps a copy of ``model.state_dict()`` and the
    stopping step loads it back into the model; :meth:`restore` does so on demand (e.g. when the
    epochs ran out first).

    Attributes: best (the best value so far), best_epoch (1-based step of it), num_bad_epochs,
    should_stop.

    Example:
        >>> from pyfastdl.ext.training import EarlyStopping
        >>> stopper = EarlyStopping(patience=2)
        >>> [stopper.step(v) for v in [1.0, 0.8, 0.9, 0.85]]
        [False, False, False, True]
        >>> stopper.best, stopper.best_epoch
        (0.8, 2)
    """

    def __init__(
        self,
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "min",
        restore_best_weights: bool = True,
    ) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"[EarlyStopping] patience must be an int >= 0, got {patience!r}")
        if not math.isfinite(float(min_delta)) or min_delta < 0:
            raise ValueError(f"[EarlyStopping] min_delta must be >= 0, got {min_delta!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"[EarlyStopping] mode must be 'min' or 'max', got {mode!r}")
        self.patience = patience
        self.min_delta = float(min_delta)
        self.mode = mode
        self.restore_best_weights = bool(restore_best_weights)
        self.best: float | None = None
        self.best_epoch = 0
        self.epoch = 0
        self.num_bad_epochs = 0
        self.should_stop = False
        self.best_state: dict[str, Tensor] | None = None

    def is_better(self, value: float) -> bool:
        """Whether `value` improves on the best by more than min_delta."""
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def step(self, value: Any, model: nn.Module | None = None) -> bool:
        """Records one epoch's `value` (a number or a one-element Tensor); True: stop now."""
        value = float(value.item() if isinstance(value, Tensor) else value)
        self.epoch += 1
        if self.is_better(value):
            self.best, self.best_epoch, self.num_bad_epochs = value, self.epoch, 0
            if self.restore_best_weights and model is not None:
                self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.num_bad_epochs += 1
        # patience 0: stop at the first epoch that does not improve
        self.should_stop = self.num_bad_epochs >= max(self.patience, 1) and self.best is not None
        if self.should_stop and self.restore_best_weights and model is not None:
            self.restore(model)
        return self.should_stop

    def restore(self, model: nn.Module) -> None:
        """Loads the best weights seen into `model` (ValueError when none were kept)."""
        if self.best_state is None:
            raise ValueError(
                "[EarlyStopping] no best weights kept: pass the model to step() with "
                "restore_best_weights=True"
            )
        model.load_state_dict(self.best_state)

    def state_dict(self) -> dict:
        """The stopper's state (best weights included), for a checkpoint's extras."""
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "epoch": self.epoch,
            "num_bad_epochs": self.num_bad_epochs,
            "should_stop": self.should_stop,
            "best_state": self.best_state,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restores what :meth:`state_dict` returned."""
        self.best = state["best"]
        self.best_epoch = int(state["best_epoch"])
        self.epoch = int(state["epoch"])
        self.num_bad_epochs = int(state["num_bad_epochs"])
        self.should_stop = bool(state["should_stop"])
        self.best_state = state["best_state"]


def _params(op: str, params: Any) -> list[Tensor]:
    """The Tensors of a Module (all its parameters), a Tensor, or an iterable of Tensors."""
    if isinstance(params, nn.Module):
        return list(params.parameters())
    if isinstance(params, Tensor):
        return [params]
    if isinstance(params, Iterable):
        out = list(params)
        bad = [type(p).__name__ for p in out if not isinstance(p, Tensor)]
        if not bad:
            return out
        got = f"an iterable holding {bad[0]}"
    else:
        got = type(params).__name__
    raise TypeError(f"[{op}] expected an nn.Module, a Tensor or an iterable of Tensors, got {got}")


def _total(terms: list[Tensor]) -> Tensor:
    """The sum of one-element Tensors (0.0 for none), keeping the graph."""
    if not terms:
        return tensor(0.0)
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def l1_penalty(params: Any) -> Tensor:
    """``Σ |w|`` over the parameters (a Module's, one Tensor, or an iterable of Tensors).

    Add ``λ · l1_penalty(model)`` to the loss: its gradient is ``λ · sign(w)`` (LASSO; it drives
    weights to exactly zero). Pass ``[p for n, p in model.named_parameters() if "weight" in n]``
    to leave the biases unpenalised.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.ext.training import l1_penalty
        >>> l1_penalty([fd.tensor([1.0, -2.0]), fd.tensor([[0.5]])]).item()
        3.5
    """
    terms = [p.abs().sum() for p in _params("l1_penalty", params)]
    return _total(terms)


def l2_penalty(params: Any) -> Tensor:
    """``||W||² = Σ w²`` over the parameters (a Module's, one Tensor, or an iterable of Tensors).

    Add ``λ · l2_penalty(model)`` to the loss (Tikhonov / ridge): its gradient is ``2λ · w``, so
    ``(wd / 2) · l2_penalty(model)`` gives SGD the same step as ``weight_decay=wd``.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.ext.training import l2_penalty
        >>> l2_penalty([fd.tensor([1.0, -2.0]), fd.tensor([[0.5]])]).item()
        5.25
    """
    terms = [(p * p).sum() for p in _params("l2_penalty", params)]
    return _total(terms)

"""Optimizer: the base class of every optimizer (PyTorch's ``torch.optim.Optimizer`` API).

Parameters live in ``param_groups`` (a list of dicts: ``"params"`` plus per-group options such as
``"lr"``); per-parameter state (momentum buffers, Adam moments) lives in ``state[param]``.
``state_dict()`` uses PyTorch's layout, with parameters replaced by their position across all
groups: ``{"state": {0: {...}, 1: {...}}, "param_groups": [{"lr": ..., "params": [0, 1]}]}``.

Subclasses update ``p.array`` in place from ``p.grad.array`` with NumPy ufuncs writing into
preallocated buffers (``out=``), so one step allocates nothing after the first. SGD, Adam and
AdamW run the fused kernels of the ``optimizer`` family instead (``sgd_step``, ``adam_step``: each
value read and written once) where the parameter, its gradient and its state are C-contiguous
float32 NumPy arrays (:func:`_flat_float32`).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.optim import SGD
    >>> w = fd.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.5)
    >>> w.grad = fd.tensor([1.0, 1.0])
    >>> opt.step()
    >>> w.tolist()
    [0.5, 1.5]
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ..arrays import is_gpu
from ..arrays import xp as xp_of
from ..autograd import bump_version, enable_grad
from ..tensor import Tensor, _place

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks an option with no default (PyTorch's ``torch.optim.optimizer.required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

# Keys of state entries that are scratch space, never saved.
_SCRATCH = "_scratch"


def _check_betas(op: str, betas: Any) -> tuple[float, float]:
    """`betas` as a checked pair of floats in [0, 1), or ValueError naming `op`."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"[{op}] betas must be a pair (beta1, beta2), got {betas!r}")
    return (
        _check_number(op, "beta1", betas[0], 0.0, high=1.0),
        _check_number(op, "beta2", betas[1], 0.0, high=1.0),
    )


def _check_not_differentiable(op: str, differentiable: bool) -> None:
    """PyTorch's differentiable=True (autograd through the step) is not supported."""
    if differentiable:
        raise NotImplementedError(f"[{op}] differentiable=True is not supported")


def _check_number(
    op: str,
    name: str,
    value: Any,
    low: float,
    low_inclusive: bool = True,
    high: float | None = None,
) -> float:
    """`value` as a float, or ValueError('[op] name must be >= low, got value')."""
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"[{op}] {name} must be a number, got {type(value).__name__}")
    value = float(value)
    bad_low = value < low if low_inclusive else value <= low
    if bad_low or (high is not None and not value < high) or math.isnan(value):
        rng = (f">= {low}" if low_inclusive else f"> {low}") + (
            "" if high is None else f" and < {high}"
        )
        raise ValueError(f"[{op}] {name} must be {rng}, got {value:g}")
    return value


def _flat_float32(param: Any, grad: Any, *state: Any) -> list | None:
    """1-D views of `param`, `grad` and the `state` arrays (None passes as None) when every one is
    a C-contiguous float32 array of the parameter's shape on the parameter's device (NumPy, or
    CuPy for a GPU parameter) and the gradient shares no memory with the parameter: the operands
    of the fused kernels (``sgd_step``, ``adam_step``, run by the registry's kernel for the
    device). None otherwise (other dtypes and strided arrays take the array-module code)."""
    flats = []
    kind = type(param)
    for a in (param, grad, *state):
        if a is None:
            flats.append(None)
            continue
        if (
            type(a) is not kind
            or a.dtype != np.float32
            or not a.flags.c_contiguous
            or a.shape != param.shape
        ):
            return None
        flats.append(a.reshape(-1))
    if xp_of(param).may_share_memory(param, grad):
        return None
    return flats


class Optimizer:
    """Base class: holds parameter groups and per-parameter state; subclasses define ``step``.

    Args:
        params: an iterable of Tensors, or of dicts (parameter groups) each with a ``"params"``
            entry and optional per-group options overriding `defaults`.
        defaults: the default value of each option.
    """

    # State entries PyTorch keeps as 0-d float32 tensors (e.g. "step"); floats here.
    _scalar_state: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Any], defaults: dict) -> None:
        self.defaults = defaults
        self.state: dict = {}
        self.param_groups: list[dict] = []
        name = type(self).__name__
        if isinstance(params, (Tensor, np.ndarray)):
            raise TypeError(
                f"[{name}] params must be an iterable of Tensors or dicts, got "
                f"{type(params).__name__}"
            )
        if isinstance(params, set):
            raise TypeError(
                f"[{name}] optimizer parameters need to be an ordered collection, "
                "not a set; use a list"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"[{name}] got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict) -> None:
        """Adds a group of parameters with its own options (e.g. a new layer to fine-tune)."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(
                f"[{name}] a param group must be a dict, got {type(param_group).__name__}"
            )
        params = param_group.get("params")
        if params is None:
            raise ValueError(f"[{name}] a param group needs a 'params' entry")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                f"[{name}] optimizer parameters need to be an ordered collection, "
                "not a set; use a list"
            )
        else:
            params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"[{name}] can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"[{name}] can't optimize a non-leaf Tensor")
            if p.dtype.kind != "f":
                raise TypeError(f"[{name}] can only optimize floating-point Tensors, got {p.dtype}")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"[{name}] a parameter appears twice in one parameter group")
        group = {k: v for k, v in param_group.items() if k != "params"}
        group["params"] = params
        for key, default in self.defaults.items():
            if default is required and key not in group:
                raise ValueError(
                    f"[{name}] parameter group didn't specify a value of required option '{key}'"
                )
            group.setdefault(key, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"[{name}] some parameters appear in more than one parameter group")
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict) -> None:
        """Validates a group's options; subclasses raise ValueError for bad values."""

    # ------------------------------------------------------------------ gradients
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears the gradients: sets ``p.grad = None`` (default) or fills them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.array[...] = 0

    def _closure_loss(self, closure: Callable | None) -> Any:
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def step(self, closure: Callable | None = None) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"[{type(self).__name__}] step() is not implemented")

    def _params_with_grad(self, group: dict) -> Iterator[tuple[Tensor, np.ndarray, dict]]:
        """(parameter, its checked gradient array, its state dict) for each parameter of `group`
        that has a gradient; the state dict is created on first use. The caller updates the
        parameter in place, so its version counter moves (a graph that saved it can't backward)."""
        state_of = self.state
        for p in group["params"]:
            if p.grad is None:
                continue
            state = state_of.get(p)
            if state is None:
                state = state_of[p] = {}
            bump_version(p)
            yield p, self._grad_array(p), state

    def _grad_array(self, p: Tensor) -> np.ndarray:
        """``p.grad.array`` after checking that it matches the parameter (shape and dtype)."""
        g = p.grad.array
        if g.shape != p.array.shape:
            raise ValueError(
                f"[{type(self).__name__}] gradient of shape {tuple(g.shape)} does not "
                f"match its parameter of shape {tuple(p.array.shape)}"
            )
        if g.dtype != p.array.dtype:
            g = g.astype(p.array.dtype)
        return g

    def _scratch(self, state: dict, p: Tensor, slot: int = 0) -> np.ndarray:
        """A per-parameter buffer shaped like `p`, reused by every step (never saved); `slot`
        picks one of several independent buffers."""
        key = _SCRATCH if slot == 0 else f"{_SCRATCH}{slot}"
        buf = state.get(key)
        if buf is None or buf.shape != p.array.shape or buf.dtype != p.array.dtype:
            buf = xp_of(p.array).empty_like(p.array)
            state[key] = buf
        return buf

    def _decayed_grad(
        self, state: dict, p: Tensor, g: np.ndarray, weight_decay: float, maximize: bool
    ) -> np.ndarray:
        """``(-g if maximize else g) + weight_decay * p``: `g` itself when nothing changes, else
        scratch slot 0 (the gradient is never written)."""
        if not maximize and weight_decay == 0:
            return g
        scr = self._scratch(state, p)
        xp = xp_of(scr)
        if maximize:
            xp.negative(g, out=scr)
        else:
            scr[...] = g
        if weight_decay != 0:
            xp.multiply(p.array, weight_decay, out=self._scratch(state, p, 1))
            scr += state[f"{_SCRATCH}1"]
        return scr

    # ------------------------------------------------------------------ state dicts
    def state_dict(self) -> dict:
        """The optimizer's state in PyTorch's layout (parameters replaced by their indices).

        State arrays are returned as Tensors sharing memory with the optimizer (as in PyTorch);
        ``pyfastdl.save`` writes them to a file.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                entry = self.state.get(p)
                if entry is None:
                    continue
                saved = {
                    k: self._export(k, v) for k, v in entry.items() if not k.startswith(_SCRATCH)
                }
                if saved:
                    state[index[id(p)]] = saved
        return {"state": state, "param_groups": groups}

    def _export(self, key: str, value: Any) -> Any:
        """One state value as saved: arrays become Tensors, scalar state float32 Tensors."""
        if key in self._scalar_state:
            return Tensor(np.array(value, dtype=np.float32))
        if isinstance(value, np.ndarray) or is_gpu(value):
            return Tensor(value)
        return value

    def _import(self, key: str, value: Any, p: Tensor) -> Any:
        """One saved state value as kept in `state` (scalar state becomes a float)."""
        if key in self._scalar_state:
            return float(value.item() if isinstance(value, Tensor) else value)
        if isinstance(value, Tensor):
            value = value.array
        if isinstance(value, np.ndarray) or is_gpu(value):
            if value.shape != p.array.shape:
                raise ValueError(
                    f"[{type(self).__name__}] state '{key}' has shape "
                    f"{tuple(value.shape)}, its parameter has shape "
                    f"{tuple(p.array.shape)}"
                )
            # a copy on the parameter's device (a CPU checkpoint loads into a GPU optimizer):
            # the optimizer owns its state
            return _place(value, p.device).astype(p.array.dtype)
        return copy.deepcopy(value)

    def load_state_dict(self, state_dict: dict) -> None:
        """Restores options and state saved by :meth:`state_dict` (same parameter layout)."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict:
            raise ValueError(f"[{name}] state_dict must be a dict with 'state' and 'param_groups'")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"[{name}] loaded state dict has {len(saved_groups)} parameter "
                f"groups, the optimizer has {len(self.param_groups)}"
            )
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(
                    f"[{name}] loaded state dict's group {i} has {len(s['params'])} "
                    f"parameters, the optimizer's has {len(g['params'])}"
                )
        by_index: dict = {}
        for g, s in zip(self.param_groups, saved_groups):
            for p, i in zip(g["params"], s["params"]):
                by_index[int(i)] = p
        state: dict = {}
        for key, entry in state_dict.get("state", {}).items():
            p = by_index.get(int(key))
            if p is None:
                continue
            state[p] = {k: self._import(k, v, p) for k, v in entry.items()}
        self.state = state
        new_groups = []
        for g, s in zip(self.param_groups, saved_groups):
            group = {k: copy.deepcopy(v) for k, v in s.items() if k != "params"}
            if isinstance(g.get("betas"), tuple) and isinstance(group.get("betas"), list):
                group["betas"] = tuple(group["betas"])  # JSON round trips turn tuples into lists
            group["params"] = g["params"]
            new_groups.append(group)
        self.param_groups = new_groups

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

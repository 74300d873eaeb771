"""Weight normalization, the older hook form (PyTorch's ``torch.nn.utils.weight_norm``).

w = g * v / ||v||, the norm taken over every dim but `dim` (over all of v for dim=None or -1,
as PyTorch does). ``weight_norm(module)`` replaces the parameter ``weight`` by ``weight_g`` and
``weight_v`` and recomputes ``module.weight`` in a forward pre-hook; PyTorch deprecates it in
favour of ``nn.utils.parametrizations.weight_norm`` (and warns, as here).

Example:
    >>> import warnings
    >>> from pyfastdl import nn
    >>> from pyfastdl.nn.utils import weight_norm
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     layer = weight_norm(nn.Linear(4, 3))
    >>> layer.weight_g.shape, layer.weight_v.shape
    ((3, 1), (3, 4))
"""

from __future__ import annotations

import warnings
from typing import Any

from ... import ops
from ...tensor import Tensor
from ..parameter import Parameter

__all__ = ["norm_except_dim", "remove_weight_norm", "weight_norm", "weight_norm_of"]


def norm_except_dim(v: Tensor, pow: float = 2, dim: int = 0) -> Tensor:
    """The 2-norm of `v` over every dim but `dim`, keeping dims (a scalar for dim = -1)."""
    if pow != 2:
        raise ValueError(f"[norm_except_dim] only pow=2 is supported, got {pow}")
    if dim == -1:
        return ops.sqrt((v * v).sum())
    d = dim % v.ndim
    others = tuple(i for i in range(v.ndim) if i != d)
    return ops.sqrt((v * v).sum(dim=others, keepdim=True)) if others else ops.abs(v)


def weight_norm_of(v: Tensor, g: Tensor, dim: int) -> Tensor:
    """g * v / ||v|| (PyTorch's ``torch._weight_norm``)."""
    return v * (g / norm_except_dim(v, 2, dim))


class _WeightNormHook:
    """The forward pre-hook that recomputes ``module.<name>`` from ``<name>_g`` and ``_v``."""

    def __init__(self, name: str, dim: int) -> None:
        self.name, self.dim = name, dim

    def compute_weight(self, module: Any) -> Tensor:
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return weight_norm_of(v, g, self.dim)

    def __call__(self, module: Any, inputs: Any) -> None:
        object.__setattr__(module, self.name, self.compute_weight(module))


def weight_norm(module: Any, name: str = "weight", dim: int | None = 0) -> Any:
    """Reparametrizes ``module.<name>`` as g * v / ||v||, parameters ``<name>_g``, ``<name>_v``."""
    warnings.warn(
        "`torch.nn.utils.weight_norm` is deprecated in favor of "
        "`torch.nn.utils.parametrizations.weight_norm`.",
        FutureWarning,
        stacklevel=2,
    )
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, _WeightNormHook) and hook.name == name:
            raise RuntimeError(
                f"[weight_norm] Cannot register two weight_norm hooks on the same parameter {name}"
            )
    if name not in module._parameters or module._parameters[name] is None:
        raise ValueError(f"[weight_norm] module {module._get_name()} has no parameter '{name}'")
    hook = _WeightNormHook(name, -1 if dim is None else dim)
    weight = module._parameters.pop(name)
    g = norm_except_dim(weight.detach(), 2, hook.dim)
    module.register_parameter(name + "_g", Parameter(g.array.copy()))
    module.register_parameter(name + "_v", Parameter(weight.array))
    hook(module, ())
    module.register_forward_pre_hook(hook)
    return module


def remove_weight_norm(module: Any, name: str = "weight") -> Any:
    """Undoes :func:`weight_norm`: ``<name>`` is one parameter again (its current value)."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, _WeightNormHook) and hook.name == name:
            weight = hook.compute_weight(module)
            object.__delattr__(module, name)
            del module._parameters[name + "_g"]
            del module._parameters[name + "_v"]
            module.register_parameter(name, Parameter(weight.array.copy()))
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"[remove_weight_norm] weight_norm of '{name}' not found in {module}")

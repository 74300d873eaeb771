"""Spectral normalization, the older hook form (PyTorch's ``torch.nn.utils.spectral_norm``).

W / sigma(W), sigma the largest singular value of W seen as a matrix (dim `dim` first, the rest
flattened), estimated by power iteration on the buffers ``<name>_u`` and ``<name>_v``: in
training each forward first runs `n_power_iterations` steps v <- normalize(W^T u),
u <- normalize(W v); then sigma = u^T W v with u and v constants for the gradient. The
parameter is ``<name>_orig``; ``module.<name>`` is recomputed by a forward pre-hook.
``nn.utils.parametrizations.spectral_norm`` is the newer form.

Example:
    >>> from pyfastdl import nn
    >>> from pyfastdl.nn.utils import spectral_norm
    >>> layer = spectral_norm(nn.Linear(4, 3))
    >>> sorted(layer.state_dict())
    ['bias', 'weight_orig', 'weight_u', 'weight_v']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import ops
from ...arrays import xp
from ...random import numpy_rng
from ...tensor import Tensor, _place
from ..parameter import Parameter

__all__ = ["normalized", "remove_spectral_norm", "spectral_norm", "weight_matrix"]


def normalized(a: Any, eps: float) -> Any:
    """The raw array `a` / max(||a||, eps) (F.normalize of a vector); a GPU array's norm stays
    on the device (no synchronisation)."""
    m = xp(a)
    if m is np:
        return a / max(float(np.linalg.norm(a)), eps)
    return a / m.maximum(m.linalg.norm(a), eps).astype(a.dtype)


def weight_matrix(weight: Tensor, dim: int) -> Tensor:
    """`weight` as a matrix: dim `dim` first, the others flattened."""
    if dim != 0:
        weight = weight.permute(dim, *(d for d in range(weight.ndim) if d != dim))
    return weight.reshape(weight.shape[0], -1)


def random_unit(n: int, like: Tensor, eps: float) -> Tensor:
    """A random unit vector of n entries, on the device and dtype of `like`."""
    u = numpy_rng(None).standard_normal(n).astype(like.dtype)
    return Tensor(_place(normalized(u, eps), like.device))


def divide_by_sigma(weight: Tensor, mat: Tensor, u: Any, v: Any) -> Tensor:
    """weight / (u^T mat v), u and v raw arrays (constants for the gradient)."""
    sigma = (Tensor(u.copy()) * ops.mv(mat, Tensor(v.copy()))).sum()
    return weight / sigma


class _SpectralNormHook:
    def __init__(self, name: str, n_power_iterations: int, dim: int, eps: float) -> None:
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def compute_weight(self, module: Any, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u").array
        v = getattr(module, self.name + "_v").array
        mat = weight_matrix(weight, self.dim)
        if do_power_iteration:
            m = mat.detach().array
            for _ in range(self.n_power_iterations):
                v[...] = normalized(m.T @ u, self.eps)
                u[...] = normalized(m @ v, self.eps)
        return divide_by_sigma(weight, mat, u, v)

    def __call__(self, module: Any, inputs: Any) -> None:
        object.__setattr__(module, self.name, self.compute_weight(module, module.training))


def spectral_norm(
    module: Any,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: int | None = None,
) -> Any:
    """Replaces ``module.<name>`` by W / sigma(W) (``<name>_orig``, ``<name>_u``, ``<name>_v``).

    dim defaults to 1 for ConvTranspose layers, else 0.
    """
    op = "spectral_norm"
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, _SpectralNormHook) and hook.name == name:
            raise RuntimeError(
                f"[{op}] Cannot register two spectral_norm hooks on the same parameter {name}"
            )
    if n_power_iterations <= 0:
        raise ValueError(
            f"[{op}] Expected n_power_iterations to be positive, but got "
            f"n_power_iterations={n_power_iterations}"
        )
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"[{op}] `SpectralNorm` cannot be applied as parameter `{name}` is None")
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    hook = _SpectralNormHook(name, n_power_iterations, dim, eps)
    h, w = weight_matrix(weight, dim).shape
    u, v = random_unit(h, weight, eps), random_unit(w, weight, eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    object.__setattr__(module, name, weight.detach())
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module.register_forward_pre_hook(hook)
    return module


def remove_spectral_norm(module: Any, name: str = "weight") -> Any:
    """Undoes :func:`spectral_norm`: ``<name>`` is one parameter again (its normalized value)."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, _SpectralNormHook) and hook.name == name:
            weight = hook.compute_weight(module, do_power_iteration=False)
            object.__delattr__(module, name)
            del module._parameters[name + "_orig"]
            del module._buffers[name + "_u"]
            del module._buffers[name + "_v"]
            module.register_parameter(name, Parameter(weight.detach().array.copy()))
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"[remove_spectral_norm] spectral_norm of '{name}' not found in {module}")

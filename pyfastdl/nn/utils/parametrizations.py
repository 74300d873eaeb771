"""weight_norm and spectral_norm as parametrizations (``torch.nn.utils.parametrizations``).

weight_norm: ``module.weight`` = g * v / ||v|| (norm over every dim but `dim`), the originals
``parametrizations.weight.original0`` (g) and ``original1`` (v), PyTorch's keys.

spectral_norm: ``module.weight`` = W / sigma(W), sigma the largest singular value of W seen as
a matrix (dim `dim` first, the rest flattened), estimated by power iteration: buffers ``_u`` and
``_v`` (``parametrizations.weight.0._u``) hold the singular vectors, refined by
`n_power_iterations` steps at each access in training mode (15 at registration), and treated as
constants in the gradient, as in PyTorch: sigma = u^T W v.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> from pyfastdl.nn.utils.parametrizations import weight_norm
    >>> layer = weight_norm(nn.Linear(4, 3))
    >>> sorted(layer.state_dict())
    ['bias', 'parametrizations.weight.original0', 'parametrizations.weight.original1']
"""

from __future__ import annotations

from typing import Any

from ... import ops
from ...tensor import Tensor
from ..modules.module import Module
from .parametrize import register_parametrization
from .spectral_norm import divide_by_sigma, normalized, random_unit, weight_matrix
from .weight_norm import norm_except_dim, weight_norm_of

__all__ = ["spectral_norm", "weight_norm"]


class _WeightNorm(Module):
    """(g, v) -> g * v / ||v||; right_inverse(w) = (||w||, w)."""

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_norm_of(weight_v, weight_g, self.dim)

    def right_inverse(self, weight: Tensor) -> tuple:
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module: Any, name: str = "weight", dim: int | None = 0) -> Any:
    """Parametrizes ``module.<name>`` as g * v / ||v|| (``original0`` = g, ``original1`` = v).

    ``dim=None`` (or -1) takes the norm over the whole tensor.
    """
    register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    """W -> W / sigma(W) with power-iteration buffers _u (rows) and _v (columns)."""

    def __init__(
        self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12
    ) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(
                f"[spectral_norm] Dimension out of range (expected to be in range of "
                f"[-{ndim}, {ndim - 1}] but got {dim})"
            )
        if n_power_iterations <= 0:
            raise ValueError(
                "[spectral_norm] Expected n_power_iterations to be positive, but got "
                f"n_power_iterations={n_power_iterations}"
            )
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            mat = weight_matrix(weight.detach(), self.dim).array
            self.register_buffer("_u", random_unit(mat.shape[0], weight, eps))
            self.register_buffer("_v", random_unit(mat.shape[1], weight, eps))
            self._power_method(mat, 15)

    def _power_method(self, mat: Any, iterations: int) -> None:
        """u <- normalize(W v), v <- normalize(W^T u), on the raw arrays (no graph)."""
        u, v = self._u.array, self._v.array
        for _ in range(iterations):
            u[...] = normalized(mat @ v, self.eps)
            v[...] = normalized(mat.T @ u, self.eps)

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            norm = ops.clamp_min(ops.sqrt((weight * weight).sum()), self.eps)
            return weight / norm
        mat = weight_matrix(weight, self.dim)
        if self.training:
            self._power_method(mat.detach().array, self.n_power_iterations)
        return divide_by_sigma(weight, mat, self._u.array, self._v.array)

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(
    module: Any,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: int | None = None,
) -> Any:
    """Parametrizes ``module.<name>`` as W / sigma(W) (dim defaults to 1 for ConvTranspose)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(
            f"[spectral_norm] Module '{module}' has no parameter or buffer with name '{name}'"
        )
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    sn = _SpectralNorm(weight, n_power_iterations, dim, eps)
    register_parametrization(module, name, sn)
    return module

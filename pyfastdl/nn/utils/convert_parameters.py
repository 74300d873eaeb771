"""Flattening parameters into one vector and back (PyTorch's ``parameters_to_vector``).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> from pyfastdl.nn.utils import parameters_to_vector, vector_to_parameters
    >>> layer = nn.Linear(3, 2)
    >>> vec = parameters_to_vector(layer.parameters())
    >>> vec.shape
    (8,)
    >>> vector_to_parameters(vec * 0, layer.parameters())
    >>> float(abs(layer.weight.array).sum())
    0.0
"""

from __future__ import annotations

from collections.abc import Iterable

from ... import ops
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All `parameters` flattened and concatenated into one 1-d tensor (differentiable)."""
    params = list(parameters)
    if not params:
        raise ValueError("[parameters_to_vector] expected at least one parameter")
    devices = {p.device.type for p in params}
    if len(devices) > 1:
        raise RuntimeError(f"[parameters_to_vector] parameters are on different devices: {devices}")
    return ops.cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copies consecutive slices of the 1-d `vec` into `parameters`, in place."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"[vector_to_parameters] expected a Tensor, but got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"[vector_to_parameters] vec must be 1-d, got shape {tuple(vec.shape)}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if total != vec.numel():
        raise ValueError(
            f"[vector_to_parameters] vec has {vec.numel()} elements, the parameters have {total}"
        )
    offset = 0
    for p in params:
        n = p.numel()
        p.array[...] = vec.array[offset : offset + n].reshape(p.shape)
        offset += n

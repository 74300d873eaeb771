"""Sampling from distributions given as tensors: multinomial, bernoulli, normal, poisson.

PyTorch's functions of the same names and signatures; none records a gradient (a sample is not a
differentiable function of its parameters; ``pyfastdl.distributions`` has ``rsample`` where a
reparameterised sample is). Each draws from pyfastdl's default generator, or `generator`, on
the host (as the random factories do), and returns the samples on the device of its inputs.

Example:
    >>> import pyfastdl as fd
    >>> _ = fd.manual_seed(0)
    >>> fd.multinomial(fd.tensor([0.0, 1.0, 0.0]), 2, replacement=True).tolist()
    [1, 1]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..arrays import device_of, to_gpu, to_host
from ..dtypes import get_default_dtype
from ..random import Generator, numpy_rng
from ..tensor import Tensor, _place
from ._util import arr, wrap

__all__ = ["bernoulli", "multinomial", "normal", "poisson"]


def _on_host(x: Any) -> np.ndarray:
    """The parameters `x` (a Tensor, array or number) as a NumPy array, read on the host."""
    return np.asarray(to_host(arr(x)))


def _placed(samples: np.ndarray, op: str, *inputs: Any) -> Tensor:
    """The samples, drawn on the host, on the device of the inputs (a GPU one among them)."""
    if any(device_of(arr(x)) == "cuda" for x in inputs):
        return wrap(to_gpu(samples, op))
    return wrap(samples)


def multinomial(
    input: Tensor,
    num_samples: int,
    replacement: bool = False,
    *,
    generator: Generator | None = None,
) -> Tensor:
    """Indices drawn from the categories whose (unnormalised, non-negative) weights are the rows
    of `input` (1-d, or 2-d: one row per draw); int64 of shape (num_samples,) or (rows,
    num_samples). Without replacement, a row needs at least `num_samples` non-zero weights."""
    op = "multinomial"
    w = _on_host(input)
    if w.dtype.kind != "f":
        raise TypeError(f"[{op}] input must be floating-point, got {w.dtype}")
    if w.ndim not in (1, 2) or w.shape[-1] == 0:
        raise ValueError(f"[{op}] input must be 1-d or 2-d with categories, got {tuple(w.shape)}")
    if not isinstance(num_samples, (int, np.integer)) or isinstance(num_samples, bool):
        raise TypeError(f"[{op}] num_samples must be an int, got {type(num_samples).__name__}")
    if num_samples <= 0:
        raise ValueError(f"[{op}] num_samples must be positive, got {num_samples}")
    rows = w.reshape(-1, w.shape[-1]).astype(np.float64)
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise ValueError(f"[{op}] probabilities must be finite and non-negative")
    totals = rows.sum(axis=1)
    if (totals <= 0).any():
        raise ValueError(f"[{op}] each row of probabilities must have a positive sum")
    if not replacement and ((rows > 0).sum(axis=1) < num_samples).any():
        raise ValueError(
            f"[{op}] cannot draw {num_samples} samples without replacement from a row with fewer "
            "non-zero probabilities"
        )
    rng = numpy_rng(generator)
    out = np.empty((rows.shape[0], int(num_samples)), dtype=np.int64)
    for i, (row, total) in enumerate(zip(rows, totals)):
        out[i] = rng.choice(row.size, size=int(num_samples), replace=replacement, p=row / total)
    return _placed(out.reshape(*w.shape[:-1], int(num_samples)), op, input)


def bernoulli(input: Tensor, p: Any = None, *, generator: Generator | None = None) -> Tensor:
    """1 with probability `input` (or `p` where given), else 0, in input's dtype and shape."""
    probs = _on_host(input)
    if probs.dtype.kind != "f":
        raise TypeError(f"[bernoulli] input must be floating-point, got {probs.dtype}")
    chance = probs if p is None else np.broadcast_to(_on_host(p), probs.shape)
    if ((chance < 0) | (chance > 1) | np.isnan(chance)).any():
        raise ValueError("[bernoulli] probabilities must be in [0, 1]")
    draws = numpy_rng(generator).random(probs.shape) < chance
    return _placed(draws.astype(probs.dtype), "bernoulli", input, p)


def normal(
    mean: Any,
    std: Any = 1.0,
    size: Any = None,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
) -> Tensor:
    """Samples of N(mean, std^2): elementwise over broadcast tensors `mean` and `std` (on their
    device), or of `size` when both are numbers (``torch.normal(0.0, 1.0, size=(2, 3))``, on
    `device`)."""
    m, s = _on_host(mean), _on_host(std)
    if (s < 0).any():
        raise ValueError("[normal] std must be non-negative")
    is_tensor = isinstance(mean, Tensor) or isinstance(std, Tensor)
    if size is not None and is_tensor:
        raise ValueError("[normal] size is only for a number mean and std")
    if size is None and not is_tensor:
        raise ValueError("[normal] pass size when mean and std are numbers")
    shape = tuple(size) if size is not None else np.broadcast_shapes(m.shape, s.shape)
    if dtype is None:
        kinds = [a.dtype for a in (m, s) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
        dtype = kinds[0] if is_tensor and kinds else get_default_dtype()
    values = np.asarray(numpy_rng(generator).normal(m, s, shape), dtype=dtype)
    if device is not None:
        return wrap(_place(values, device, "normal"))
    return _placed(values, "normal", mean, std)


def poisson(input: Tensor, generator: Generator | None = None) -> Tensor:
    """Samples of Poisson(rate) for each rate in `input`, in its dtype."""
    rates = _on_host(input)
    if rates.dtype.kind != "f":
        raise TypeError(f"[poisson] input must be floating-point, got {rates.dtype}")
    if (rates < 0).any() or np.isnan(rates).any():
        raise ValueError("[poisson] rates must be non-negative")
    return _placed(numpy_rng(generator).poisson(rates).astype(rates.dtype), "poisson", input)

"""Reference embedding kernels: a row gather and its scatter-add backward.

  forward   out[..., :] = weight[indices[...], :]        indices int64 of any shape, weight (V, E),
                                                        out indices.shape + (E,)
  backward  grad_weight[v] = sum of grad_out rows whose index is v (duplicates add up), divided by
            the number of times v occurs when scale_grad_by_freq; the row padding_idx (when not
            None, in [0, V)) gets zero. grad_weight is overwritten, not accumulated into.
Indices outside [0, V) raise IndexError (no wrap-around of negative indices). Each row's sum runs
in grad_weight's dtype in the order the indices occur (k increasing), then is scaled by
1 / count: the deterministic order the native kernel keeps, so both agree to the last bit.
"""

from __future__ import annotations

from typing import Any

from ...arrays import add_at
from ...arrays import xp as xp_of

__all__ = ["check_indices", "embedding_backward", "embedding_forward"]


def check_indices(indices: Any, rows: int, op: str = "embedding") -> None:
    """Raises IndexError naming the first index outside [0, rows)."""
    bad = (indices < 0) | (indices >= rows)
    if indices.size and bool(bad.any()):
        first = int(indices[bad].reshape(-1)[0])
        raise IndexError(f"[{op}] index {first} is out of range for an embedding of {rows} rows")


def embedding_forward(indices: Any, weight: Any, out: Any) -> None:
    """out = weight[indices] (rows gathered)."""
    check_indices(indices, weight.shape[0])
    out[...] = weight[indices]


def embedding_backward(
    indices: Any,
    grad_out: Any,
    grad_weight: Any,
    padding_idx: int | None = None,
    scale_grad_by_freq: bool = False,
) -> None:
    """grad_weight = scatter-add of the rows of grad_out at indices (see the module docstring)."""
    xp = xp_of(grad_out)
    v, e = grad_weight.shape
    check_indices(indices, v)
    idx = indices.reshape(-1)
    acc = xp.zeros((v, e), grad_weight.dtype)
    add_at(acc, idx, grad_out.reshape(-1, e).astype(grad_weight.dtype))  # k in order on the host
    if scale_grad_by_freq:
        counts = xp.maximum(xp.bincount(idx, minlength=v), 1).astype(acc.dtype)
        acc *= (acc.dtype.type(1) / counts)[:, None]
    if padding_idx is not None:
        acc[padding_idx] = 0
    grad_weight[...] = acc


KERNELS = {
    "embedding_forward": embedding_forward,
    "embedding_backward": embedding_backward,
}

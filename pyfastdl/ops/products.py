"""Products built from the differentiable ops: cross, kron, cartesian_prod, block_diag.

Each composes indexing, broadcasting multiplication, reshape and cat, so its gradient comes from
theirs.
"""

from __future__ import annotations

from ..tensor import Tensor, zeros
from ._util import norm_dim
from .elementwise import mul, sub
from .indexing import getitem
from .layout import meshgrid
from .shape import cat, reshape, stack

__all__ = ["block_diag", "cartesian_prod", "cross", "kron"]


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """The cross product of 3-vectors along `dim` (default: the first dim of size 3; inputs
    broadcast).

    Example:
        >>> import pyfastdl as fd
        >>> fd.cross(fd.tensor([1.0, 0.0, 0.0]), fd.tensor([0.0, 1.0, 0.0])).tolist()
        [0.0, 0.0, 1.0]
    """
    if input.array.ndim != other.array.ndim:
        raise RuntimeError(
            f"[cross] inputs must have the same number of dims, got {input.array.ndim} and "
            f"{other.array.ndim}"
        )
    shape = tuple(max(a, b) for a, b in zip(input.array.shape, other.array.shape))
    if dim is None:
        dim = next((i for i, n in enumerate(shape) if n == 3), None)
        if dim is None:
            raise RuntimeError("[cross] no dimension of size 3 in input")
    d = norm_dim(dim, len(shape), "cross")
    if input.array.shape[d] != 3 or other.array.shape[d] != 3:
        raise RuntimeError(f"[cross] inputs dimension {d} must have length 3")
    lead = (slice(None),) * d

    def part(t: Tensor, i: int) -> Tensor:
        return getitem(t, lead + (slice(i, i + 1),))

    a = [part(input, i) for i in range(3)]
    b = [part(other, i) for i in range(3)]
    pieces = [
        sub(mul(a[1], b[2]), mul(a[2], b[1])),
        sub(mul(a[2], b[0]), mul(a[0], b[2])),
        sub(mul(a[0], b[1]), mul(a[1], b[0])),
    ]
    return cat(pieces, d)


def kron(input: Tensor, other: Tensor) -> Tensor:
    """The Kronecker product: every element of `input` times the whole of `other`, in blocks.

    Example:
        >>> import pyfastdl as fd
        >>> fd.kron(fd.eye(2), fd.ones(1, 2)).tolist()
        [[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]
    """
    n = max(input.array.ndim, other.array.ndim)
    sa = (1,) * (n - input.array.ndim) + tuple(input.array.shape)
    sb = (1,) * (n - other.array.ndim) + tuple(other.array.shape)
    # (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...) -> (a0, b0, a1, b1, ...) -> (a0*b0, a1*b1, ...)
    a = reshape(input, *[s for x in sa for s in (x, 1)])
    b = reshape(other, *[s for x in sb for s in (1, x)])
    return reshape(mul(a, b), *[x * y for x, y in zip(sa, sb)])


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """Every combination of one element from each 1-d tensor, as rows (one tensor: itself)."""
    for t in tensors:
        if t.array.ndim != 1:
            raise RuntimeError("[cartesian_prod] expects 1-d tensors")
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([reshape(g, -1) for g in grids], 1)


def block_diag(*tensors: Tensor) -> Tensor:
    """The block-diagonal matrix of the given 0-, 1- or 2-d tensors (zeros elsewhere)."""
    mats = []
    for t in tensors:
        if t.array.ndim > 2:
            raise RuntimeError(
                f"[block_diag] input tensors must have 2 or fewer dimensions, got {t.array.ndim}"
            )
        mats.append(reshape(t, *((1,) * (2 - t.array.ndim) + tuple(t.array.shape))))
    if not mats:
        return zeros(1, 0)
    dtype, device = mats[0].array.dtype, mats[0].device
    total = sum(m.array.shape[1] for m in mats)
    rows, left = [], 0
    for m in mats:
        r, c = m.array.shape
        pad_l = zeros(r, left, dtype=dtype, device=device)
        pad_r = zeros(r, total - left - c, dtype=dtype, device=device)
        rows.append(cat([pad_l, m, pad_r], 1))
        left += c
    return cat(rows, 0)

"""Matrix ops with autograd: tril/triu, diagonal/diag/diag_embed, addmm/addmv/baddbmm, einsum.

A diagonal is addressed as in PyTorch: `offset` > 0 above the main diagonal, < 0 below, taken over
dims `dim1` and `dim2` and appended as the last dim of the result. Taking a diagonal and embedding
one are each other's adjoint, so each op's backward is the other.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from ..arrays import xp
from ..autograd import Function
from ..dtypes import check_dtype, int64
from ..tensor import Tensor, _place
from ._util import norm_dim, wrap
from .elementwise import add, mul
from .matmul import bmm, mm, mv
from .reduction import sum
from .shape import reshape

__all__ = [
    "addmm",
    "addmv",
    "baddbmm",
    "diag",
    "diag_embed",
    "diagflat",
    "diagonal",
    "einsum",
    "trace",
    "tril",
    "tril_indices",
    "triu",
    "triu_indices",
]


# ---------------------------------------------------------------------- tril / triu
class TriangleFn(Function):
    @staticmethod
    def forward(ctx, a, diagonal, upper):
        ctx.diagonal, ctx.upper = diagonal, upper
        return xp(a).triu(a, diagonal) if upper else xp(a).tril(a, diagonal)

    @staticmethod
    def backward(ctx, g):
        m = xp(g)
        return (m.triu(g, ctx.diagonal) if ctx.upper else m.tril(g, ctx.diagonal)), None, None


def _triangle(input: Tensor, diagonal: int, upper: bool, op: str) -> Tensor:
    if input.array.ndim < 2:
        raise RuntimeError(f"[{op}] input tensor must have at least 2 dimensions")
    if not isinstance(diagonal, (int, np.integer)) or isinstance(diagonal, bool):
        raise TypeError(f"[{op}] diagonal must be an int, got {type(diagonal).__name__}")
    return TriangleFn.apply(input, int(diagonal), upper)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the matrices (last two dims) of `input`, on and below `diagonal`.

    Example:
        >>> import pyfastdl as fd
        >>> fd.tril(fd.ones(2, 2)).tolist()
        [[1.0, 0.0], [1.0, 1.0]]
    """
    return _triangle(input, diagonal, False, "tril")


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the matrices (last two dims) of `input`, on and above `diagonal`."""
    return _triangle(input, diagonal, True, "triu")


def _triangle_indices(
    row: int, col: int, offset: int, dtype: Any, upper: bool, op: str, device: Any
) -> Tensor:
    if row < 0 or col < 0:
        raise RuntimeError(f"[{op}] row and col must be non-negative, got row={row}, col={col}")
    rows, cols = (np.triu_indices if upper else np.tril_indices)(row, offset, col)
    out = np.stack([rows, cols]).astype(check_dtype(dtype, op)).reshape(2, -1)
    return wrap(_place(out, device, op))


def tril_indices(
    row: int, col: int, offset: int = 0, *, dtype: Any = int64, device: Any = None
) -> Tensor:
    """The (2, N) coordinates of the lower triangle (on and below diagonal `offset`) of a
    row x col matrix, row by row.

    Example:
        >>> import pyfastdl as fd
        >>> fd.tril_indices(2, 2).tolist()
        [[0, 1, 1], [0, 0, 1]]
    """
    return _triangle_indices(row, col, offset, dtype, False, "tril_indices", device)


def triu_indices(
    row: int, col: int, offset: int = 0, *, dtype: Any = int64, device: Any = None
) -> Tensor:
    """The (2, N) coordinates of the upper triangle (on and above diagonal `offset`) of a
    row x col matrix, row by row."""
    return _triangle_indices(row, col, offset, dtype, True, "triu_indices", device)


# ---------------------------------------------------------------------- diagonals
def _diag_rows_cols(length: int, offset: int, m: Any) -> tuple:
    r = m.arange(length)
    return r + max(-offset, 0), r + max(offset, 0)


def _take_diagonal(a: Any, offset: int, d1: int, d2: int) -> Any:
    return xp(a).diagonal(a, offset, d1, d2).copy()


def _put_diagonal(out: Any, v: Any, offset: int, d1: int, d2: int) -> Any:
    """Writes `v` (the diagonal as its last dim) into `out` over dims d1, d2; returns `out`."""
    m = xp(out)
    rows, cols = _diag_rows_cols(v.shape[-1], offset, m)
    m.moveaxis(out, (d1, d2), (-2, -1))[..., rows, cols] = v
    return out


class DiagonalFn(Function):
    @staticmethod
    def forward(ctx, a, offset, d1, d2):
        ctx.shape, ctx.args = a.shape, (offset, d1, d2)
        return _take_diagonal(a, offset, d1, d2)

    @staticmethod
    def backward(ctx, g):
        out = xp(g).zeros(ctx.shape, g.dtype)
        return _put_diagonal(out, g, *ctx.args), None, None, None


class DiagEmbedFn(Function):
    @staticmethod
    def forward(ctx, a, offset, d1, d2):
        n = a.shape[-1] + abs(offset)
        shape = list(a.shape[:-1])
        for d in sorted((d1, d2)):
            shape.insert(d, n)
        ctx.args = (offset, d1, d2)
        return _put_diagonal(xp(a).zeros(shape, a.dtype), a, offset, d1, d2)

    @staticmethod
    def backward(ctx, g):
        return _take_diagonal(g, *ctx.args), None, None, None


def _two_dims(dim1: int, dim2: int, ndim: int, op: str) -> tuple:
    d1, d2 = norm_dim(dim1, ndim, op), norm_dim(dim2, ndim, op)
    if d1 == d2:
        raise RuntimeError(f"[{op}] diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal `offset` of `input` over dims `dim1`, `dim2`, as the last dim.

    Example:
        >>> import pyfastdl as fd
        >>> fd.diagonal(fd.arange(9.0).reshape(3, 3), 1).tolist()
        [1.0, 5.0]
    """
    if input.array.ndim < 2:
        raise RuntimeError("[diagonal] input tensor must have at least 2 dimensions")
    d1, d2 = _two_dims(dim1, dim2, input.array.ndim, "diagonal")
    return DiagonalFn.apply(input, int(offset), d1, d2)


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices (over `dim1`, `dim2` of the result) whose diagonal `offset` holds the last dim
    of `input`; zeros elsewhere."""
    if input.array.ndim < 1:
        raise RuntimeError("[diag_embed] input tensor must have at least 1 dimension")
    d1, d2 = _two_dims(dim1, dim2, input.array.ndim + 1, "diag_embed")
    return DiagEmbedFn.apply(input, int(offset), d1, d2)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-d input: the square matrix with it on diagonal `diagonal`; a 2-d input: that diagonal.

    Example:
        >>> import pyfastdl as fd
        >>> fd.diag(fd.tensor([1.0, 2.0])).tolist()
        [[1.0, 0.0], [0.0, 2.0]]
    """
    nd = input.array.ndim
    if nd == 1:
        return DiagEmbedFn.apply(input, int(diagonal), 0, 1)
    if nd == 2:
        return DiagonalFn.apply(input, int(diagonal), 0, 1)
    raise RuntimeError(f"[diag] expected a 1-d or 2-d tensor, got {nd} dims")


def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """The square matrix with the flattened `input` on diagonal `offset`."""
    return DiagEmbedFn.apply(reshape(input, -1), int(offset), 0, 1)


def trace(input: Tensor) -> Tensor:
    """The sum of the main diagonal of a 2-d tensor."""
    if input.array.ndim != 2:
        raise RuntimeError(f"[trace] expected a matrix, got {input.array.ndim} dims")
    return sum(DiagonalFn.apply(input, 0, 0, 1))


# ---------------------------------------------------------------------- addmm family
def _scaled_sum(input: Any, product: Tensor, beta: Any, alpha: Any) -> Tensor:
    """beta * input + alpha * product; beta == 0 ignores input (NaN in it does not propagate)."""
    if alpha != 1:
        product = mul(product, alpha)
    if beta == 0:
        return product
    return add(product, input if beta == 1 else mul(input, beta))


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2); input broadcasts to the product's shape.

    Example:
        >>> import pyfastdl as fd
        >>> fd.addmm(fd.ones(2, 2), fd.eye(2), fd.eye(2), alpha=2).tolist()
        [[3.0, 1.0], [1.0, 3.0]]
    """
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * (mat @ vec)."""
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


def baddbmm(
    input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1
) -> Tensor:
    """beta * input + alpha * bmm(batch1, batch2)."""
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


# ---------------------------------------------------------------------- einsum
def _parse_einsum(equation: str, ndims: list) -> tuple:
    """(input subscripts, output subscripts) with every '...' replaced by explicit letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(
            f"[einsum] the equation names {len(terms)} operands but {len(ndims)} were given"
        )
    used = set(eq) - {".", ",", "-", ">"}
    bad = [c for c in used if c not in string.ascii_letters]
    if bad:
        raise ValueError(f"[einsum] subscripts must be letters, got {''.join(sorted(bad))!r}")
    spare = [c for c in string.ascii_letters if c not in used]
    n_ell = 0
    for t, nd in zip(terms, ndims):
        n_letters = len(t.replace("...", ""))
        if "..." in t:
            n_ell = max(n_ell, nd - n_letters)
        elif n_letters != nd:
            raise ValueError(
                f"[einsum] subscripts {t!r} name {n_letters} dims for an operand of {nd} dims"
            )
    ell = "".join(spare[:n_ell])
    ins = []
    for t, nd in zip(terms, ndims):
        k = nd - len(t.replace("...", ""))
        if k < 0:
            raise ValueError(f"[einsum] subscripts {t!r} name more dims than the operand's {nd}")
        ins.append(t.replace("...", ell[n_ell - k :] if k else ""))
    if arrow:
        out = rhs.replace("...", ell)
    else:
        letters = "".join(lhs.replace("...", "").split(","))
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    for c in out:
        if c not in "".join(ins):
            raise ValueError(f"[einsum] output subscript {c!r} does not appear in the inputs")
    return ins, out


class EinsumFn(Function):
    @staticmethod
    def forward(ctx, ins, out, *arrays):
        ctx.ins, ctx.out = ins, out
        ctx.save_for_backward(*arrays)
        return xp(arrays[0]).einsum(",".join(ins) + "->" + out, *arrays, optimize=len(ins) > 1)

    @staticmethod
    def backward(ctx, g):
        arrays = ctx.saved_tensors
        sizes: dict = {}
        for s, a in zip(ctx.ins, arrays):
            for c, n in zip(s, a.shape):
                sizes[c] = max(sizes.get(c, 1), n)
        grads = [None, None]
        for k in range(len(arrays)):
            need = ctx.needs_input_grad[k + 2]
            grads.append(_einsum_grad(g, ctx.out, ctx.ins, arrays, k, sizes) if need else None)
        return tuple(grads)


def _einsum_grad(g: Any, out: str, ins: list, arrays: Any, k: int, sizes: dict) -> Any:
    m = xp(g)
    s, a = ins[k], arrays[k]
    others = [(t, b) for i, (t, b) in enumerate(zip(ins, arrays)) if i != k]
    reachable = set(out).union(*[set(t) for t, _ in others])
    unique = "".join(dict.fromkeys(s))
    kept = "".join(c for c in unique if c in reachable)
    eq = ",".join([out] + [t for t, _ in others]) + "->" + kept
    r = m.einsum(eq, g, *[b for _, b in others], optimize=len(others) > 0)
    # letters summed within this operand only: the gradient is constant along them
    full = []
    for c in unique:
        if c not in reachable:
            r = m.expand_dims(r, unique.index(c))
        full.append(sizes[c])
    r = m.broadcast_to(r, full)
    if len(unique) != len(s):  # repeated letters: the gradient lies on that diagonal
        dense = m.zeros([sizes[c] for c in s], g.dtype)
        # dense[i, i, j] = r[i, j] for s = 'iij': each letter's arange, broadcast over `unique`
        # (an index, not einsum's writable diagonal view, which CuPy does not promise)
        n = len(unique)
        where = tuple(
            m.arange(sizes[c]).reshape([sizes[c] if k == unique.index(c) else 1 for k in range(n)])
            for c in s
        )
        dense[where] = r
        r = dense
    # dims of size 1 that broadcast against a larger one
    stretched = tuple(i for i, n in enumerate(a.shape) if n == 1 and r.shape[i] != 1)
    if stretched:
        r = r.sum(axis=stretched, keepdims=True)
    return m.ascontiguousarray(r).astype(a.dtype, copy=False)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Sums products of the operands' elements over the indices the `equation` names, like
    ``torch.einsum`` (``'...'`` for the broadcast dims; no ``'->'``: the output keeps the letters
    that appear once, in alphabetical order). Operands may also come as one list.

    Example:
        >>> import pyfastdl as fd
        >>> a, b = fd.ones(2, 3), fd.ones(3, 4)
        >>> fd.einsum("ij,jk->ik", a, b).shape
        (2, 4)
        >>> fd.einsum("ii", fd.eye(3)).item()
        3.0
    """
    if not isinstance(equation, str):
        raise TypeError(f"[einsum] equation must be a str, got {type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("[einsum] expected at least one operand")
    for o in operands:
        if not isinstance(o, Tensor):
            raise TypeError(f"[einsum] operands must be Tensors, got {type(o).__name__}")
    dtypes = {o.array.dtype for o in operands}
    if len(dtypes) > 1:
        raise RuntimeError(
            f"[einsum] expected all operands to have the same dtype, got {sorted(map(str, dtypes))}"
        )
    ins, out = _parse_einsum(equation, [o.array.ndim for o in operands])
    for t, o in zip(ins, operands):
        for c, n in zip(t, o.array.shape):
            for t2, o2 in zip(ins, operands):
                for c2, n2 in zip(t2, o2.array.shape):
                    if c == c2 and n != n2 and 1 not in (n, n2):
                        raise RuntimeError(
                            f"[einsum] subscript {c!r} has size {n} in one operand and {n2} in "
                            "another"
                        )
    return EinsumFn.apply(ins, out, *operands)

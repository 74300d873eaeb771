"""nn.functional: embedding, a row lookup whose backward is a scatter-add.

``F.embedding`` gathers rows of a (V, E) weight by integer indices of any shape with the kernel
``embedding_forward``; its backward, ``embedding_backward``, adds each gradient row into the
weight's gradient at its index (duplicates add up, padding_idx rows get none, optionally scaled
by 1 / count of the index in the batch). max_norm renormalizes the looked-up rows of the weight
in place before the lookup, as PyTorch does. Kernels are looked up per call in the registry.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import kernels
from ...arrays import empty, xp
from ...autograd import Function
from ...dtypes import int64
from ...kernels.reference import check_indices
from ...tensor import Tensor
from ._args import check_float, tensor_arg

__all__ = ["embedding", "one_hot"]

OP = "embedding"


class EmbeddingFn(Function):
    """out = weight[indices]; grad_weight = scatter-add of grad_out at indices."""

    @staticmethod
    def forward(ctx, weight, *, indices, padding_idx, scale_grad_by_freq):
        out = empty(indices.shape + (weight.shape[1],), weight.dtype, weight)
        kernels.for_array("embedding_forward", weight)(indices, weight, out)
        ctx.save_for_backward(indices)
        ctx.args = (weight.shape, padding_idx, scale_grad_by_freq)
        return out

    @staticmethod
    def backward(ctx, g):
        (indices,) = ctx.saved_tensors
        shape, padding_idx, scale_grad_by_freq = ctx.args
        gw = empty(shape, g.dtype, g)
        kernels.for_array("embedding_backward", gw)(indices, g, gw, padding_idx, scale_grad_by_freq)
        return (gw,)


def padding_index(padding_idx: Any, rows: int, op: str = OP) -> int | None:
    """padding_idx in [0, rows) (a negative one counts from the end, as in PyTorch), or None."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
        raise TypeError(f"[{op}] padding_idx must be an int or None, got {padding_idx!r}")
    if not -rows <= padding_idx < rows:
        raise ValueError(
            f"[{op}] padding_idx must be within [-{rows}, {rows}) for an embedding of {rows} rows, "
            f"got {padding_idx}"
        )
    return int(padding_idx) % rows


def renorm_rows_(weight: Any, indices: Any, max_norm: float, norm_type: float) -> None:
    """Scales the rows of `weight` named in `indices` whose norm exceeds max_norm to that norm."""
    m = xp(weight)
    rows = m.unique(indices.reshape(-1))
    if rows.size == 0:
        return
    picked = weight[rows].astype(m.float64)
    norms = m.linalg.norm(picked, ord=norm_type, axis=1) if picked.shape[1] else m.zeros(len(rows))
    over = norms > max_norm
    if bool(over.any()):
        scale = max_norm / (norms[over] + 1e-7)
        weight[rows[over]] = (picked[over] * scale[:, None]).astype(weight.dtype)


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of `weight` (V, E) looked up by the integer indices `input` (PyTorch's ``F.embedding``).

    The result has shape input.shape + (E,). The gradient of weight row `padding_idx` stays zero;
    `max_norm` renormalizes (in place) each looked-up row whose `norm_type`-norm exceeds it;
    `scale_grad_by_freq` divides each row's gradient by how often its index occurs in `input`.
    Indices outside [0, V) raise IndexError.

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> w = fd.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
        >>> F.embedding(fd.tensor([[2, 1], [1, 1]]), w).tolist()
        [[[3.0, 4.0], [1.0, 2.0]], [[1.0, 2.0], [1.0, 2.0]]]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"[{OP}] input must be a Tensor, got {type(input).__name__}")
    if not isinstance(weight, Tensor):
        raise TypeError(f"[{OP}] weight must be a Tensor, got {type(weight).__name__}")
    indices = input.array
    if indices.dtype.kind not in "iu":
        raise TypeError(f"[{OP}] indices must be an integer tensor, got {indices.dtype}")
    w = weight.array
    check_float(w, OP, "weight")
    if w.ndim != 2:
        raise ValueError(
            f"[{OP}] weight must have 2 dims (num_embeddings, embedding_dim), got shape "
            f"{tuple(w.shape)}"
        )
    if sparse:
        raise NotImplementedError(
            f"[{OP}] sparse=True (sparse gradients) is not supported; use sparse=False"
        )
    if (type(indices) is np.ndarray) != (type(w) is np.ndarray):
        raise RuntimeError(f"[{OP}] input and weight must be on the same device")
    if indices.dtype != np.int64:
        indices = indices.astype(np.int64)
    padding_idx = padding_index(padding_idx, w.shape[0])
    if max_norm is not None:
        if not max_norm > 0:
            raise ValueError(f"[{OP}] max_norm must be positive, got {max_norm}")
        check_indices(indices, w.shape[0], OP)
        renorm_rows_(w, indices, float(max_norm), float(norm_type))
    return EmbeddingFn.apply(
        weight,
        indices=indices,
        padding_idx=padding_idx,
        scale_grad_by_freq=bool(scale_grad_by_freq),
    )


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding of class indices: shape (*tensor.shape, num_classes).

    Example:
        >>> import pyfastdl as fd
        >>> import pyfastdl.nn.functional as F
        >>> F.one_hot(fd.tensor([0, 2]), 3).tolist()
        [[1, 0, 0], [0, 0, 1]]
    """
    op = "one_hot"
    t = tensor_arg(tensor, op, "tensor").array
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"[{op}] one_hot is only applicable to index tensors (int64), got {t.dtype}"
        )
    m = xp(t)
    if t.size and int(t.min()) < 0:
        raise ValueError(f"[{op}] class values must be non-negative, got {int(t.min())}")
    if num_classes == -1:
        if t.size == 0:
            raise ValueError(
                f"[{op}] can not infer the total number of classes from an empty "
                "tensor; pass num_classes"
            )
        num_classes = int(t.max()) + 1
    if num_classes < 0:
        raise ValueError(f"[{op}] num_classes must be -1 or non-negative, got {num_classes}")
    if t.size and int(t.max()) >= num_classes:
        raise ValueError(
            f"[{op}] class values must be smaller than num_classes {num_classes}, "
            f"got {int(t.max())}"
        )
    out = (t[..., None] == m.arange(num_classes)).astype(int64)
    return Tensor(out)

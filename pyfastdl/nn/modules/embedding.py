"""Embedding: a lookup table of num_embeddings vectors of size embedding_dim.

``weight`` (num_embeddings, embedding_dim) is initialised from N(0, 1) with the ``padding_idx``
row zeroed, as in PyTorch; that row gets no gradient. ``Embedding.from_pretrained`` wraps an
existing table (frozen by default). The work is ``F.embedding`` (a row gather forward, a
scatter-add backward).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> emb = nn.Embedding(10, 3, padding_idx=0)
    >>> emb
    Embedding(10, 3, padding_idx=0)
    >>> emb(fd.tensor([[1, 2, 0], [4, 0, 0]])).shape
    (2, 3, 3)
    >>> emb.weight[0].tolist()
    [0.0, 0.0, 0.0]
"""

from __future__ import annotations

from typing import Any

from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..functional.embedding import padding_index
from ..parameter import Parameter
from ._checks import empty, size_arg
from .module import Module

__all__ = ["Embedding"]

LAYER = "Embedding"


class Embedding(Module):
    """A table of `num_embeddings` rows of size `embedding_dim`, looked up by integer indices.

    Arguments as PyTorch's: padding_idx (its row is zero at init and gets no gradient; negative
    counts from the end), max_norm and norm_type (looked-up rows renormalized in place),
    scale_grad_by_freq, sparse (False only), _weight (use this table), _freeze.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Tensor | None = None,
        _freeze: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.num_embeddings = size_arg(num_embeddings, "num_embeddings", LAYER)
        self.embedding_dim = size_arg(embedding_dim, "embedding_dim", LAYER)
        self.padding_idx = padding_index(padding_idx, self.num_embeddings, LAYER)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        if sparse:
            raise NotImplementedError(
                f"[{LAYER}] sparse=True (sparse gradients) is not supported; use sparse=False"
            )
        self.sparse = False
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is None:
            self.weight = Parameter(empty(shape, device, dtype, LAYER), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if not isinstance(_weight, Tensor):
                raise TypeError(f"[{LAYER}] _weight must be a Tensor, got {type(_weight).__name__}")
            if tuple(_weight.shape) != shape:
                raise ValueError(
                    f"[{LAYER}] shape of _weight {tuple(_weight.shape)} does not match "
                    f"num_embeddings and embedding_dim {shape}"
                )
            self.weight = Parameter(_weight.array, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """weight ~ N(0, 1), the padding_idx row zeroed (PyTorch's init)."""
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self) -> None:
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(
            input,
            self.weight,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.sparse,
        )

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        return s

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Tensor,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An Embedding whose table is `embeddings` (2-d, shared, not copied); frozen by default.

        Example:
            >>> import pyfastdl as fd
            >>> from pyfastdl import nn
            >>> emb = nn.Embedding.from_pretrained(fd.tensor([[1.0, 2.0], [3.0, 4.0]]))
            >>> emb(fd.tensor([1])).tolist(), emb.weight.requires_grad
            ([[3.0, 4.0]], False)
        """
        if not isinstance(embeddings, Tensor):
            raise TypeError(
                f"[{LAYER}] embeddings must be a Tensor, got {type(embeddings).__name__}"
            )
        if embeddings.ndim != 2:
            raise ValueError(
                f"[{LAYER}] embeddings must have 2 dims (num_embeddings, embedding_dim), got "
                f"shape {tuple(embeddings.shape)}"
            )
        rows, cols = embeddings.shape
        return cls(
            rows,
            cols,
            _weight=embeddings,
            _freeze=freeze,
            padding_idx=padding_idx,
            max_norm=max_norm,
            norm_type=norm_type,
            scale_grad_by_freq=scale_grad_by_freq,
            sparse=sparse,
        )

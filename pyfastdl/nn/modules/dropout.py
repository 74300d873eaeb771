"""Dropout: zeroes each element with probability p in training mode and scales the rest by 1/(1-p).

In eval mode it is the identity. Masks come from pyfastdl's default generator.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> drop = nn.Dropout(0.5).eval()
    >>> drop(fd.ones(3)).tolist()
    [1.0, 1.0, 1.0]
"""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ._checks import probability
from .module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    """Randomly zeroes elements with probability `p` during training (inverted dropout)."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        probability(p, "Dropout")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Any) -> Any:
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"

"""Dropout layers: zero elements (Dropout) or whole channels (Dropout1d, Dropout2d) with
probability p in training mode and scale the rest by 1/(1-p).

In eval mode they are the identity. Masks come from pyfastdl's default generator.

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

__all__ = [
    "AlphaDropout",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "FeatureAlphaDropout",
]


class Dropout(Module):
    """Randomly zeroes elements with probability `p` during training (inverted dropout)."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        probability(p, self._get_name())
        self.p = p
        self.inplace = inplace

    def forward(self, input: Any) -> Any:
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(Dropout):
    """Zeroes whole channels of (N, C, L) or (C, L) input with probability `p` during training.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> nn.Dropout1d(0.5)
        Dropout1d(p=0.5, inplace=False)
        >>> nn.Dropout1d(0.5).eval()(fd.ones(2, 3, 4)).shape
        (2, 3, 4)
    """

    def forward(self, input: Any) -> Any:
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(Dropout):
    """Zeroes whole channels of (N, C, H, W) or (C, H, W) input with probability `p` during
    training (spatial dropout).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> nn.Dropout2d(0.25)
        Dropout2d(p=0.25, inplace=False)
        >>> nn.Dropout2d().eval()(fd.ones(2, 3, 4, 4)).shape
        (2, 3, 4, 4)
    """

    def forward(self, input: Any) -> Any:
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(Dropout):
    """Zeroes whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability `p`
    during training."""

    def forward(self, input: Any) -> Any:
        return F.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(Dropout):
    """Alpha dropout for SELU networks (see ``F.alpha_dropout``): keeps zero mean and unit
    variance; the identity in eval mode.

    Example:
        >>> from pyfastdl import nn
        >>> nn.AlphaDropout(0.2)
        AlphaDropout(p=0.2, inplace=False)
    """

    def forward(self, input: Any) -> Any:
        return F.alpha_dropout(input, self.p, self.training, self.inplace)


class FeatureAlphaDropout(Dropout):
    """Alpha dropout of whole channels (see ``F.feature_alpha_dropout``)."""

    def forward(self, input: Any) -> Any:
        return F.feature_alpha_dropout(input, self.p, self.training, self.inplace)

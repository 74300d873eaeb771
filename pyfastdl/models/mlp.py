"""The course's MLP for MNIST: 784 → 64 → 32 → 10 with ReLU (52,650 parameters).

It returns logits; the softmax of the course sits inside ``nn.CrossEntropyLoss`` (log-softmax
fused with the negative log-likelihood), and ``logits.argmax(1)`` is the predicted digit.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.models import MnistMLP
    >>> model = MnistMLP()
    >>> model(fd.randn(8, 1, 28, 28)).shape
    (8, 10)
    >>> sum(p.numel() for p in model.parameters())
    52650
"""

from __future__ import annotations

from .. import nn
from ..tensor import Tensor

__all__ = ["MnistMLP"]


class MnistMLP(nn.Module):
    """Flatten, Linear(784, 64), ReLU, Linear(64, 32), ReLU, Linear(32, 10).

    Args:
        in_features: pixels per image (28 × 28); hidden: the two hidden widths;
        num_classes: the number of logits.
    """

    def __init__(
        self, in_features: int = 784, hidden: tuple[int, int] = (64, 32), num_classes: int = 10
    ) -> None:
        super().__init__()
        h1, h2 = hidden
        self.layers = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_features, h1),
            nn.ReLU(),
            nn.Linear(h1, h2),
            nn.ReLU(),
            nn.Linear(h2, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes) of images (N, 1, 28, 28) or (N, 784)."""
        return self.layers(x)

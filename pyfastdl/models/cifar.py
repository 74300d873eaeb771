"""The course's three CIFAR-10 models (3×32×32 colour images, 10 classes), from the public API.

- model 1, :class:`CifarMLP`: 3072 → 1024 → 256 → 64 → 10 with ReLU (3,426,250 parameters);
- model 2, :class:`CifarLeNet`: LeNet-5 for colour images, Conv(3→6, 5) + ReLU, MaxPool 2,
  Conv(6→16, 5) + ReLU, MaxPool 2, then 400 → 120 → 84 → 10 (62,006 parameters);
- model 3, :class:`CifarVGG`: a small VGG, six 3×3 convolutions (padding 1) in three blocks
  32/64, 128/128, 256/256 with a 2×2 max pool after each block, BatchNorm after the 1st, 3rd
  and 5th convolution, then 4096 → 1024 → 512 → 10 with dropout 0.05 before the first and the
  last Linear (5,852,170 parameters).

Each returns logits (the softmax sits inside ``nn.CrossEntropyLoss``). Convolutional layers
are in ``features`` and the rest in ``classifier``, so the state-dict keys read like
torchvision's (``features.0.weight``, ``classifier.1.bias``, ...).

FLOPs of one forward pass per image (multiply-adds × 2): model 1 6.9 M, model 2 1.3 M,
model 3 0.28 G, of which 0.27 G in the six convolutions (32·32·(3·32 + 32·64)·9 +
16·16·(64·128 + 128·128)·9 + 8·8·(128·256 + 256·256)·9 = 133 M multiply-adds).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.models import CifarMLP
    >>> model = CifarMLP()
    >>> model(fd.randn(2, 3, 32, 32)).shape
    (2, 10)
    >>> sum(p.numel() for p in model.parameters())
    3426250
"""

from __future__ import annotations

from .. import nn
from ..tensor import Tensor

__all__ = ["CifarLeNet", "CifarMLP", "CifarVGG"]


class CifarMLP(nn.Module):
    """Model 1: Flatten, Linear(3072, 1024), ReLU, Linear(1024, 256), ReLU, Linear(256, 64), ReLU,
    Linear(64, 10).

    Args:
        in_features: values per image (3 × 32 × 32); hidden: the hidden widths;
        num_classes: the number of logits.
    """

    def __init__(
        self,
        in_features: int = 3072,
        hidden: tuple[int, ...] = (1024, 256, 64),
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes) of images (N, 3, 32, 32) or (N, 3072)."""
        return self.layers(x)


class CifarLeNet(nn.Module):
    """Model 2: LeNet-5 on 3×32×32 images (62,006 parameters).

    ``features``: Conv2d(3, 6, 5), ReLU, MaxPool2d(2), Conv2d(6, 16, 5), ReLU, MaxPool2d(2)
    (32 → 28 → 14 → 10 → 5); ``classifier``: Flatten, Linear(400, 120), ReLU, Linear(120, 84),
    ReLU, Linear(84, 10).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models import CifarLeNet
        >>> model = CifarLeNet()
        >>> model(fd.randn(2, 3, 32, 32)).shape, sum(p.numel() for p in model.parameters())
        ((2, 10), 62006)
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 6, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes) of images (N, 3, 32, 32)."""
        return self.classifier(self.features(x))


def _conv(c_in: int, c_out: int, batch_norm: bool) -> list[nn.Module]:
    """3×3 convolution (padding 1, size-preserving), optional BatchNorm, ReLU."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel_size=3, padding=1)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU())
    return layers


class CifarVGG(nn.Module):
    """Model 3: a small VGG on 3×32×32 images (5,852,170 parameters).

    ``features`` (32 → 16 → 8 → 4 pixels)::

        Conv 3→32, BN, ReLU, Conv 32→64, ReLU, MaxPool 2,
        Conv 64→128, BN, ReLU, Conv 128→128, ReLU, MaxPool 2,
        Conv 128→256, BN, ReLU, Conv 256→256, ReLU, MaxPool 2

    ``classifier``: Flatten, Dropout(0.05), Linear(4096, 1024), ReLU, Linear(1024, 512), ReLU,
    Dropout(0.05), Linear(512, 10). All convolutions are 3×3 with padding 1.

    Args:
        num_classes: the number of logits; dropout: the probability of both dropouts.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models import CifarVGG
        >>> model = CifarVGG().eval()
        >>> model(fd.randn(2, 3, 32, 32)).shape, sum(p.numel() for p in model.parameters())
        ((2, 10), 5852170)
    """

    def __init__(self, num_classes: int = 10, dropout: float = 0.05) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv(3, 32, batch_norm=True),
            *_conv(32, 64, batch_norm=False),
            nn.MaxPool2d(2),
            *_conv(64, 128, batch_norm=True),
            *_conv(128, 128, batch_norm=False),
            nn.MaxPool2d(2),
            *_conv(128, 256, batch_norm=True),
            *_conv(256, 256, batch_norm=False),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(256 * 4 * 4, 1024),
            nn.ReLU(),
            nn.Linear(1024, 512),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(512, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes) of images (N, 3, 32, 32)."""
        return self.classifier(self.features(x))

"""The course's two Q-networks for the mouse game (``pyfastdl.ext.envs.MouseGame``): from the
mouse's 5×5 view, one Q-value per action (up, right, down, left).

- model 1, :class:`QNetworkMLP`: the view flattened (4 × 5 × 5 = 100 numbers), then
  100 → 128 → 128 → 4 with ReLU (29,956 parameters);
- model 2, :class:`QNetworkCNN`: Conv(4→16, 3, padding 1) + ReLU on the 5×5 view,
  Conv(16→32, 3) + ReLU (5×5 → 3×3), then 288 → 128 → 4 (42,740 parameters). The convolutions
  share their weights over the view, so "cheese one step to my right" is the same feature
  wherever it appears.

Both return raw Q-values (N, 4): the greedy action is their argmax, and the loss compares the
value of the action taken with a Bellman target (``pyfastdl.ext.rl.q_learning_target``).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.models import QNetworkCNN, QNetworkMLP
    >>> views = fd.zeros(2, 4, 5, 5)
    >>> QNetworkMLP()(views).shape, QNetworkCNN()(views).shape
    ((2, 4), (2, 4))
"""

from __future__ import annotations

from .. import nn
from ..tensor import Tensor

__all__ = ["QNetworkCNN", "QNetworkMLP"]


class QNetworkMLP(nn.Module):
    """Model 1: Flatten, then Linear/ReLU layers of widths ``hidden``, then Linear to the
    ``num_actions`` Q-values (29,956 parameters with the defaults).

    Args:
        in_channels: planes of the view (4: wall, cheese, poison, trail); view: its side (5);
        hidden: the hidden widths; num_actions: the number of Q-values.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models import QNetworkMLP
        >>> model = QNetworkMLP()
        >>> model(fd.zeros(1, 4, 5, 5)).shape, sum(p.numel() for p in model.parameters())
        ((1, 4), 29956)
    """

    def __init__(
        self,
        in_channels: int = 4,
        view: int = 5,
        hidden: tuple[int, ...] = (128, 128),
        num_actions: int = 4,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_channels * view * view
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, num_actions))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Q-values (N, num_actions) of views (N, in_channels, view, view)."""
        return self.layers(x)


class QNetworkCNN(nn.Module):
    """Model 2: ``features`` Conv2d(4, 16, 3, padding=1), ReLU, Conv2d(16, 32, 3), ReLU
    (5×5 → 5×5 → 3×3); ``head`` Flatten, Linear(288, 128), ReLU, Linear(128, num_actions)
    (42,740 parameters with the defaults).

    Args:
        in_channels: planes of the view; view: its side (at least 3); channels: the widths of
        the two convolutions; hidden: the width of the hidden Linear; num_actions: Q-values.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models import QNetworkCNN
        >>> model = QNetworkCNN()
        >>> model(fd.zeros(1, 4, 5, 5)).shape, sum(p.numel() for p in model.parameters())
        ((1, 4), 42740)
    """

    def __init__(
        self,
        in_channels: int = 4,
        view: int = 5,
        channels: tuple[int, int] = (16, 32),
        hidden: int = 128,
        num_actions: int = 4,
    ) -> None:
        super().__init__()
        if view < 3:
            raise ValueError(f"[QNetworkCNN] view must be >= 3, got {view}")
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, kernel_size=3),
            nn.ReLU(),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c2 * (view - 2) ** 2, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_actions),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Q-values (N, num_actions) of views (N, in_channels, view, view)."""
        return self.head(self.features(x))

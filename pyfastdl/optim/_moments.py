"""The first and second moment updates shared by the Adam family (NAdam, RAdam)."""

from __future__ import annotations

import numpy as np

from ..arrays import xp as xp_of

__all__ = ["update_moments"]


def update_moments(
    m: np.ndarray, v: np.ndarray, g: np.ndarray, beta1: float, beta2: float, tmp: np.ndarray
) -> None:
    """In place: ``m += (1 - beta1) * (g - m)``, ``v = beta2 * v + (1 - beta2) * g * g``
    (`tmp` is a scratch buffer shaped like `g`)."""
    xp = xp_of(tmp)
    xp.subtract(g, m, out=tmp)
    tmp *= 1 - beta1
    m += tmp
    v *= beta2
    xp.multiply(g, 1 - beta2, out=tmp)
    tmp *= g
    v += tmp

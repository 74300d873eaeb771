"""Helpers shared by the reference kernels."""

from __future__ import annotations

from typing import Any

import numpy as np


def xp_of(a: Any):
    """The array module (numpy, or cupy for GPU arrays) of `a`."""
    if isinstance(a, np.ndarray):
        return np
    import cupy

    return cupy

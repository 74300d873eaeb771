"""What the embedded data sets (digits, colour images) share: balanced, seeded train/test splits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def check_split_args(op: str, n: Any, seed: Any) -> tuple[int, int]:
    """`n` and `seed` as ints, or ValueError naming `op` (both must be non-negative ints)."""
    for name, value in (("n", n), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"[{op}] {name} must be a non-negative int, got {value!r}")
    return int(n), int(seed)


def render_split(
    render: Callable[..., np.ndarray],
    num_classes: int,
    train: bool,
    n: int,
    seed: int,
    stream_key: tuple[int, ...] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """`n` images balanced over the classes, rendered by ``render(labels, seed=...)``, read-only.

    Train and test come from different random streams, so no image is in both; the training
    labels are shuffled. `stream_key` tells one data set's streams from another's.
    """
    stream = np.random.default_rng([seed, 0 if train else 1, *stream_key])
    labels = np.arange(n, dtype=np.int64) % num_classes
    if train:
        labels = stream.permutation(labels)
    images = render(labels, seed=int(stream.integers(2**63)))
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels

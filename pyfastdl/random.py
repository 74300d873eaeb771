"""Random number generation: a seedable default generator, like torch's.

``pyfastdl.manual_seed(s)`` makes every random factory (rand, randn, randint, init functions,
dropout, DataLoader shuffling without an explicit generator) reproducible.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed"]


class Generator:
    """A seedable source of random numbers (wraps ``numpy.random.Generator``).

    Example:
        >>> import pyfastdl as fd
        >>> g = fd.Generator().manual_seed(0)
        >>> fd.rand(2, generator=g).shape
        (2,)
    """

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self._seed = int(np.random.SeedSequence().entropy % (2**63))
        self.np = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> Generator:
        seed = int(seed)
        if seed < 0:
            raise ValueError(f"[manual_seed] seed must be non-negative, got {seed}")
        self._seed = seed
        self.np = np.random.default_rng(seed)
        return self

    def seed(self) -> int:
        self.manual_seed(int(np.random.SeedSequence().entropy % (2**63)))
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        return self.np.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.np.bit_generator.state = state


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seeds the default generator; returns it."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seeds the default generator from fresh entropy; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def numpy_rng(generator: Generator | None = None) -> np.random.Generator:
    """The numpy Generator behind `generator`, or behind the default generator."""
    return (generator or default_generator).np

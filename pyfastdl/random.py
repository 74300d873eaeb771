"""Random number generation: a seedable default generator, like torch's.

``pyfastdl.manual_seed(s)`` makes every random factory (rand, randn, randint, init functions,
dropout, DataLoader shuffling without an explicit generator) reproducible.

``get_rng_state()`` / ``set_rng_state(state)`` (and ``Generator.get_state`` / ``set_state``)
capture and restore a generator exactly, as in PyTorch: the state is an opaque uint8 Tensor
(``STATE_BYTES`` bytes), so a checkpoint that stores it resumes with the same dropout masks,
random numbers and shuffled orders as an uninterrupted run.

Example:
    >>> import pyfastdl as fd
    >>> state = fd.get_rng_state()
    >>> a = fd.rand(3)
    >>> fd.set_rng_state(state)
    >>> bool((fd.rand(3) == a).all()), state.dtype.name, state.shape
    (True, 'uint8', (48,))
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "Generator",
    "default_generator",
    "get_rng_state",
    "initial_seed",
    "manual_seed",
    "seed",
    "set_rng_state",
]

# The state's layout, little-endian: PCG64's 128-bit state and increment, its buffered 32-bit
# half-word (has_uint32, uinteger), then the generator's initial seed (for initial_seed()).
STATE_BYTES = 16 + 16 + 4 + 4 + 8
_tensor_class: Any = None  # set by tensor.py (a lower layer cannot import Tensor)


def set_tensor_class(cls: type) -> None:
    """Called by tensor.py: get_state then hands back Tensors, as torch does."""
    global _tensor_class
    _tensor_class = cls


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

    def get_state(self) -> Any:
        """The generator's state: a uint8 Tensor of ``STATE_BYTES`` bytes (a copy)."""
        st = self.np.bit_generator.state
        if st["bit_generator"] != "PCG64":  # default_rng is always PCG64
            raise RuntimeError(f"[get_state] unexpected bit generator {st['bit_generator']}")
        raw = b"".join(
            [
                st["state"]["state"].to_bytes(16, "little"),
                st["state"]["inc"].to_bytes(16, "little"),
                int(st["has_uint32"]).to_bytes(4, "little"),
                int(st["uinteger"]).to_bytes(4, "little"),
                (self._seed % 2**64).to_bytes(8, "little"),
            ]
        )
        array = np.frombuffer(raw, dtype=np.uint8).copy()
        return _tensor_class(array) if _tensor_class is not None else array

    def set_state(self, new_state: Any) -> Generator:
        """Restores a state from :meth:`get_state` (a uint8 Tensor or array); returns self."""
        array = getattr(new_state, "array", new_state)
        if not isinstance(array, np.ndarray):
            raise TypeError(
                f"[set_state] new_state must be a uint8 Tensor, got {type(new_state).__name__}"
            )
        if array.dtype != np.uint8:
            raise TypeError(f"[set_state] new_state must be a uint8 Tensor, got {array.dtype}")
        if array.shape != (STATE_BYTES,):
            raise ValueError(
                f"[set_state] new_state must have shape ({STATE_BYTES},), got {array.shape}"
            )
        raw = array.tobytes()
        has_uint32 = int.from_bytes(raw[32:36], "little")
        if has_uint32 not in (0, 1):
            raise ValueError("[set_state] new_state is not a state from get_state")
        self.np.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {
                "state": int.from_bytes(raw[0:16], "little"),
                "inc": int.from_bytes(raw[16:32], "little"),
            },
            "has_uint32": has_uint32,
            "uinteger": int.from_bytes(raw[36:40], "little"),
        }
        self._seed = int.from_bytes(raw[40:48], "little")
        return self


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seeds the default generator; returns it."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seeds the default generator from fresh entropy; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Any:
    """The default generator's state, a uint8 Tensor (``torch.get_rng_state``)."""
    return default_generator.get_state()


def set_rng_state(new_state: Any) -> None:
    """Restores the default generator from :func:`get_rng_state` (``torch.set_rng_state``)."""
    default_generator.set_state(new_state)


def numpy_rng(generator: Generator | None = None) -> np.random.Generator:
    """The numpy Generator behind `generator`, or behind the default generator."""
    return (generator or default_generator).np

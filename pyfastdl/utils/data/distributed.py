"""DistributedSampler: each rank's share of a dataset in data-parallel training (PyTorch's API).

Every rank builds the same order (a permutation seeded with ``seed + epoch``, or 0, 1, ..., n - 1),
pads it by repeating its start up to a multiple of the number of replicas (or, with
``drop_last=True``, cuts it down to one), and keeps every ``num_replicas``-th index from its rank
on. The ranks' shares are disjoint and of the same length; padding repeats a few samples.

Example:
    >>> from pyfastdl.utils.data import DistributedSampler
    >>> [list(DistributedSampler(range(5), num_replicas=2, rank=r, shuffle=False)) for r in (0, 1)]
    [[0, 2, 4], [1, 3, 0]]
    >>> [list(DistributedSampler(range(5), 2, r, shuffle=False, drop_last=True)) for r in (0, 1)]
    [[0, 2], [1, 3]]
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

import numpy as np

from ... import distributed
from .sampler import Sampler

__all__ = ["DistributedSampler"]

_OP = "DistributedSampler"


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


class DistributedSampler(Sampler):
    """The indices of `dataset` that this rank visits, a new shuffle each epoch.

    Args:
        dataset: a sized dataset.
        num_replicas: the number of ranks sharing the dataset (the world size by default).
        rank: this process's rank among them (``distributed.get_rank()`` by default).
        shuffle: a new random order each epoch (seeded with ``seed + epoch``, the same on every
            rank; call ``set_epoch`` at the start of each epoch, before iterating the DataLoader).
        seed: the shuffle's seed, which must be the same on every rank.
        drop_last: drop the tail so that every rank gets the same number of distinct samples,
            instead of padding with repeated samples.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.utils.data import DataLoader, DistributedSampler, TensorDataset
        >>> ds = TensorDataset(fd.arange(10))
        >>> sampler = DistributedSampler(ds, num_replicas=4, rank=1, seed=3)
        >>> loader = DataLoader(ds, batch_size=2, sampler=sampler)
        >>> len(sampler), len(loader)
        (3, 2)
        >>> sampler.set_epoch(1)
        >>> sum(len(x) for (x,) in loader)
        3
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            if not distributed.is_initialized():
                raise ValueError(
                    f"[{_OP}] num_replicas and rank default to the world size and this "
                    "process's rank, but the default process group has not been initialized: "
                    "call pyfastdl.distributed.init_process_group() first, or pass num_replicas "
                    "and rank"
                )
            if num_replicas is None:
                num_replicas = distributed.get_world_size()
            if rank is None:
                rank = distributed.get_rank()
        if not _is_int(num_replicas) or num_replicas < 1:
            raise ValueError(f"[{_OP}] num_replicas must be a positive int, got {num_replicas!r}")
        if not _is_int(rank) or not 0 <= rank < num_replicas:
            raise ValueError(
                f"[{_OP}] invalid rank {rank!r}: rank should be an int in the interval "
                f"[0, {num_replicas - 1}]"
            )
        if not _is_int(seed):
            raise TypeError(f"[{_OP}] seed must be an int, got {type(seed).__name__}")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.epoch = 0
        self.drop_last = bool(drop_last)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        n, r = len(dataset), self.num_replicas
        if self.drop_last and n % r != 0:
            # PyTorch's ceil((n - r) / r), which is n // r when r does not divide n
            self.num_samples = n // r
        else:
            self.num_samples = -(-n // r)
        self.total_size = self.num_samples * r

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch, which seeds the shuffle: call it before each epoch on every rank, or
        every epoch visits the same order."""
        if not _is_int(epoch):
            raise TypeError(f"[{_OP}.set_epoch] epoch must be an int, got {type(epoch).__name__}")
        self.epoch = int(epoch)

    def _order(self) -> np.ndarray:
        """This rank's indices for the current epoch, as an int64 array."""
        n = len(self.dataset)
        if self.shuffle:
            seed = self.seed + self.epoch
            # NumPy seeds are non-negative; map a negative one as torch.manual_seed does
            indices = np.random.default_rng(seed if seed >= 0 else seed % 2**64).permutation(n)
        else:
            indices = np.arange(n)
        if self.total_size > n:
            indices = np.resize(indices, self.total_size)  # repeats the whole order cyclically
        else:
            indices = indices[: self.total_size]
        return indices[self.rank : self.total_size : self.num_replicas].astype(np.int64, copy=False)

    def __iter__(self) -> Iterator[int]:
        return iter(self._order().tolist())

    def __len__(self) -> int:
        return self.num_samples

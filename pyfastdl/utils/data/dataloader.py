"""DataLoader: iterates over a dataset in (shuffled) mini-batches (PyTorch's API and defaults).

Each epoch (each ``iter(loader)``) draws a new order from the sampler; shuffling is reproducible
with ``generator=pyfastdl.Generator().manual_seed(s)`` or with ``pyfastdl.manual_seed(s)``.
When the dataset can hand over a whole batch at once (``TensorDataset``, the built-in image
datasets, and Subsets of them) and no custom ``collate_fn`` is given, a batch is one
fancy-indexing copy per tensor instead of per-sample fetches and a stack.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.utils.data import DataLoader, TensorDataset
    >>> ds = TensorDataset(fd.randn(10, 3), fd.arange(10))
    >>> loader = DataLoader(ds, batch_size=4, shuffle=True, generator=fd.Generator().manual_seed(0))
    >>> [tuple(xb.shape) for xb, yb in loader]
    [(4, 3), (4, 3), (2, 3)]
    >>> len(loader)
    3
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ...random import Generator
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]


class DataLoader:
    """Batches of samples from `dataset`.

    Args:
        dataset: a map-style dataset (``__getitem__`` + ``__len__``) or an IterableDataset.
        batch_size: samples per batch (None: yield samples one by one, unbatched).
        shuffle: a new random order each epoch.
        sampler / batch_sampler: custom orders (exclusive with shuffle / batch_size options).
        num_workers: 0 (loading happens in the calling process; worker processes are not
            supported).
        collate_fn: makes a batch from a list of samples (default: :func:`default_collate`).
        drop_last: drop the last batch when it is smaller than batch_size.
        generator: the random source of the shuffling.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Any = None,
        batch_sampler: Any = None,
        num_workers: int = 0,
        collate_fn: Callable | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable | None = None,
        multiprocessing_context: Any = None,
        generator: Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        name = "DataLoader"
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(
                f"[{name}] num_workers must be a non-negative int, got {num_workers!r}"
            )
        if num_workers > 0:
            raise NotImplementedError(
                f"[{name}] num_workers={num_workers}: worker processes are not supported; use "
                "num_workers=0 (batches of in-memory datasets are built by one indexing copy, "
                "so workers would not speed them up)"
            )
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0
        ):
            raise ValueError(
                f"[{name}] batch_size must be a positive int or None, got {batch_size!r}"
            )
        if not hasattr(dataset, "__getitem__") and not isinstance(dataset, IterableDataset):
            raise TypeError(
                f"[{name}] dataset must be indexable (a Dataset) or an "
                f"IterableDataset, got {type(dataset).__name__}"
            )
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout < 0:
            raise ValueError(f"[{name}] timeout option should be non-negative, got {timeout!r}")
        self.dataset = dataset
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.generator = generator
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle:
                raise ValueError(f"[{name}] shuffle is not supported for an IterableDataset")
            if sampler is not None or batch_sampler is not None:
                raise ValueError(
                    f"[{name}] sampler/batch_sampler are not supported for an IterableDataset"
                )
        if sampler is not None and shuffle:
            raise ValueError(f"[{name}] sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    f"[{name}] batch_sampler option is mutually exclusive with "
                    "batch_size, shuffle, sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(
                f"[{name}] batch_size=None option disables auto-batching and is "
                "mutually exclusive with drop_last"
            )
        if sampler is None and not self._iterable:
            sampler = (
                RandomSampler(dataset, generator=generator)
                if shuffle
                else SequentialSampler(dataset)
            )
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler: Sampler | None = sampler
        self.batch_sampler = batch_sampler
        self._custom_collate = collate_fn is not None
        if collate_fn is None:
            collate_fn = (
                default_collate
                if batch_size is not None or batch_sampler is not None
                else default_convert
            )
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # TypeError when the stream has no length, as in PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def __iter__(self) -> Iterator[Any]:
        if self._iterable:
            return self._iter_stream()
        if self.batch_sampler is None:
            return (self.collate_fn(self.dataset[i]) for i in self.sampler)
        fast = None if self._custom_collate else getattr(self.dataset, "_collated_batch", None)
        if fast is None:
            return self._iter_samples()
        batches = getattr(self.batch_sampler, "_batches", None)
        order = (
            batches()
            if batches is not None
            else (np.asarray(b, dtype=np.int64) for b in self.batch_sampler)
        )
        return self._iter_fast(fast, order)

    def _iter_fast(self, fast: Callable, batches: Iterator[np.ndarray]) -> Iterator[Any]:
        for index in batches:
            batch = fast(index)
            if batch is None:  # the dataset declined (e.g. a transform was set meanwhile)
                batch = self.collate_fn([self.dataset[i] for i in index.tolist()])
            yield batch

    def _iter_samples(self) -> Iterator[Any]:
        dataset, collate = self.dataset, self.collate_fn
        for index in self.batch_sampler:
            yield collate([dataset[i] for i in index])

    def _iter_stream(self) -> Iterator[Any]:
        if self.batch_size is None:
            for sample in self.dataset:
                yield self.collate_fn(sample)
            return
        batch: list = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

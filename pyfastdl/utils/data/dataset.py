"""Datasets: map-style collections of samples (PyTorch's ``torch.utils.data`` classes).

A dataset has ``__len__`` and ``__getitem__(i)``. Datasets whose samples are rows of arrays may
also define ``_collated_batch(indices)``: the whole batch at once, already collated, or None when
it cannot (e.g. a transform must run per sample). :class:`~pyfastdl.utils.data.DataLoader` uses
it instead of fetching and stacking sample by sample — one fancy-indexing copy per batch.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.utils.data import TensorDataset, random_split
    >>> ds = TensorDataset(fd.randn(10, 3), fd.arange(10))
    >>> x, y = ds[2]
    >>> x.shape, int(y)
    ((3,), 2)
    >>> train, val = random_split(ds, [0.8, 0.2], generator=fd.Generator().manual_seed(0))
    >>> len(train), len(val)
    (8, 2)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...arrays import to_gpu
from ...random import Generator, numpy_rng
from ...tensor import Tensor

__all__ = [
    "ConcatDataset",
    "Dataset",
    "IterableDataset",
    "Subset",
    "TensorDataset",
    "random_split",
]


class Dataset:
    """Base class of map-style datasets: subclasses define ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"[{type(self).__name__}] __getitem__ is not implemented")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])

    def _collated_batch(self, indices: np.ndarray) -> Any:
        """The collated batch of samples `indices`, or None (then samples are fetched one by one)."""
        return None


class IterableDataset(Dataset):
    """Base class of datasets that are streams: subclasses define ``__iter__``."""

    def __iter__(self):  # pragma: no cover - abstract
        raise NotImplementedError(f"[{type(self).__name__}] __iter__ is not implemented")


def _row(array: Any, index: Any) -> Tensor:
    # A 0-d row (a label) comes back from numpy as a scalar: keep it an array (a GPU array's
    # rows are arrays already).
    row = array[index]
    return Tensor(np.asarray(row) if isinstance(row, np.generic) else row)


def _on_device_of(indices: np.ndarray, array: Any) -> Any:
    """Host `indices` on the device of `array` (a GPU array is indexed with device indices)."""
    return indices if type(array) is np.ndarray else to_gpu(indices, "TensorDataset")


class TensorDataset(Dataset):
    """Samples are the rows of tensors that share their first dimension: ``ds[i] = (a[i], b[i])``."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("[TensorDataset] expected at least one tensor")
        arrays = []
        for i, t in enumerate(tensors):
            if isinstance(t, np.ndarray):
                t = Tensor(t)
            if not isinstance(t, Tensor):
                raise TypeError(
                    f"[TensorDataset] argument {i} must be a Tensor, got {type(t).__name__}"
                )
            if t.ndim == 0:
                raise ValueError(
                    f"[TensorDataset] argument {i} is 0-d; expected a first dimension of samples"
                )
            arrays.append(t)
        n = arrays[0].shape[0]
        sizes = [t.shape[0] for t in arrays]
        if any(s != n for s in sizes):
            raise ValueError(
                f"[TensorDataset] size mismatch between tensors: first dimensions {sizes}"
            )
        self.tensors = tuple(arrays)

    def __getitem__(self, index: Any) -> tuple:
        n = len(self)
        if isinstance(index, (int, np.integer)) and not -n <= index < n:
            raise IndexError(f"[TensorDataset] index {index} is out of range for {n} samples")
        return tuple(_row(t.array, index) for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def _collated_batch(self, indices: np.ndarray) -> Any:
        if type(self).__getitem__ is not TensorDataset.__getitem__:
            return None  # a subclass changed what a sample is
        return [Tensor(t.array[_on_device_of(indices, t.array)]) for t in self.tensors]


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)

    def _collated_batch(self, indices: np.ndarray) -> Any:
        fast = getattr(self.dataset, "_collated_batch", None)
        if fast is None or type(self).__getitem__ is not Subset.__getitem__:
            return None
        return fast(np.asarray(self.indices)[indices])


class ConcatDataset(Dataset):
    """The samples of several datasets, one after the other."""

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("[ConcatDataset] datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("[ConcatDataset] does not support IterableDataset")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> Any:
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise IndexError(f"[ConcatDataset] index {idx} is out of range for {n} samples")
            idx += n
        if idx >= n:
            raise IndexError(f"[ConcatDataset] index {idx} is out of range for {n} samples")
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][idx - start]


def random_split(
    dataset: Dataset, lengths: Sequence[int | float], generator: Generator | None = None
) -> list[Subset]:
    """Splits `dataset` into non-overlapping random subsets of the given lengths.

    `lengths` are sizes that sum to ``len(dataset)``, or fractions that sum to 1 (then each
    split gets ``floor(n * fraction)`` samples and the remainder goes round-robin to the first
    splits, as in PyTorch).
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1):
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(
                    f"[random_split] fraction at index {i} is not between 0 and 1: {frac}"
                )
        sizes = [math.floor(n * frac) for frac in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        lengths = sizes
    for x in lengths:
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 0:
            raise ValueError(
                f"[random_split] lengths must be non-negative ints or fractions "
                f"summing to 1, got {lengths}"
            )
    if sum(lengths) != n:
        raise ValueError(
            f"[random_split] sum of input lengths ({sum(lengths)}) does not equal "
            f"the length of the input dataset ({n})"
        )
    perm = numpy_rng(generator).permutation(n).tolist()
    out, offset = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[offset : offset + int(length)]))
        offset += int(length)
    return out

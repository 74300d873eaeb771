"""Datasets, samplers and the DataLoader, at PyTorch's import path ``torch.utils.data``.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.utils.data import DataLoader, TensorDataset
    >>> loader = DataLoader(TensorDataset(fd.randn(8, 2), fd.arange(8)), batch_size=4)
    >>> len(loader)
    2
"""

from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from .distributed import DistributedSampler
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler

__all__ = [
    "BatchSampler",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "default_collate",
    "default_convert",
    "random_split",
]

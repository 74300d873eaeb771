"""Datasets: the embedded digits (rendered, no download) and MNIST / Fashion-MNIST from IDX files.

Example:
    >>> from pyfastdl.data import EmbeddedDigits
    >>> from pyfastdl.utils.data import DataLoader
    >>> loader = DataLoader(EmbeddedDigits(train=False), batch_size=64)
    >>> images, labels = next(iter(loader))
    >>> images.shape, labels.dtype.name
    ((64, 1, 28, 28), 'int64')
"""

from .datasets import MNIST, EmbeddedDigits, FashionMNIST
from .digits import load_digits, render_digits
from .idx import read_idx, write_idx

__all__ = [
    "MNIST",
    "EmbeddedDigits",
    "FashionMNIST",
    "load_digits",
    "read_idx",
    "render_digits",
    "write_idx",
]

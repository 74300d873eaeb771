"""Image classification datasets: the embedded digits, MNIST and Fashion-MNIST.

A sample is ``(image, label)``: the image a float32 Tensor (1, 28, 28) in [0, 1] (what
``ToTensor`` gives in PyTorch), the label a Python int, each passed through ``transform`` /
``target_transform`` when given. Without transforms, a DataLoader takes whole batches by one
indexing copy (``_collated_batch``).

Example:
    >>> from pyfastdl.data import EmbeddedDigits
    >>> ds = EmbeddedDigits(train=False)
    >>> image, label = ds[0]
    >>> len(ds), image.shape, label
    (1000, (1, 28, 28), 0)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from ..tensor import Tensor
from ..utils.data import Dataset
from .digits import load_digits
from .idx import read_idx

__all__ = ["MNIST", "EmbeddedDigits", "FashionMNIST"]


class _ImageClassification(Dataset):
    """Images (N, 28, 28) uint8 or (N, 1, 28, 28) float32, integer labels, optional transforms."""

    classes: ClassVar[list[str]] = []

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        transform: Callable | None,
        target_transform: Callable | None,
    ) -> None:
        self._images = images
        self._labels = labels.astype(np.int64, copy=False)
        self.transform = transform
        self.target_transform = target_transform

    @property
    def data(self) -> Tensor:
        """All images as stored (MNIST: uint8 (N, 28, 28); embedded digits: float32)."""
        return Tensor(self._images)

    @property
    def targets(self) -> Tensor:
        """All labels, int64 (N,)."""
        return Tensor(self._labels)

    def __len__(self) -> int:
        return len(self._labels)

    def _to_float(self, images: np.ndarray, fresh: bool = False) -> np.ndarray:
        """Images as float32 (..., 1, 28, 28) in [0, 1]; copied unless `fresh` (already a copy)."""
        if images.dtype == np.uint8:
            out = images.astype(np.float32)
            out *= np.float32(1 / 255)
            return out[..., None, :, :]
        return images if fresh and images.dtype == np.float32 else np.array(images, np.float32)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        n = len(self)
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(
                f"[{type(self).__name__}] index must be an int, got {type(index).__name__}"
            )
        if not -n <= index < n:
            raise IndexError(
                f"[{type(self).__name__}] index {index} is out of range for {n} samples"
            )
        image: Any = Tensor(self._to_float(self._images[index]))
        label: Any = int(self._labels[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def _collated_batch(self, indices: np.ndarray) -> Any:
        if (
            self.transform is not None
            or self.target_transform is not None
            or type(self).__getitem__ is not _ImageClassification.__getitem__
        ):
            return None
        return [
            Tensor(self._to_float(self._images[indices], fresh=True)),
            Tensor(self._labels[indices]),
        ]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(split={'train' if self.train else 'test'}, n={len(self)})"


class EmbeddedDigits(_ImageClassification):
    """The embedded digits (``pyfastdl.data.digits``): 6000 training or 1000 test images.

    Args:
        train: the training split (True) or the test split.
        transform / target_transform: applied to each image Tensor / int label.
        n: the number of images (default 6000 / 1000); seed: the rendering seed.
    """

    classes: ClassVar[list[str]] = [str(d) for d in range(10)]

    def __init__(
        self,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        n: int | None = None,
        seed: int = 0,
    ) -> None:
        self.train = bool(train)
        images, labels = load_digits(train=self.train, n=n, seed=seed)
        super().__init__(images, labels, transform, target_transform)


class MNIST(_ImageClassification):
    """MNIST read from IDX files in `root` (nothing is downloaded: no network is assumed).

    `root` holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``), directly
    or in PyTorch's layout ``root/MNIST/raw/``.
    """

    classes: ClassVar[list[str]] = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ]

    def __init__(
        self,
        root: str | os.PathLike,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        name = type(self).__name__
        self.root = os.fspath(root)
        self.train = bool(train)
        prefix = "train" if self.train else "t10k"
        images = read_idx(self._find(f"{prefix}-images-idx3-ubyte", download))
        labels = read_idx(self._find(f"{prefix}-labels-idx1-ubyte", download))
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(
                f"[{name}] images must be uint8 of shape (N, rows, cols), got "
                f"{images.dtype} {images.shape}"
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(f"[{name}] {len(images)} images but labels of shape {labels.shape}")
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise ValueError(f"[{name}] labels must be in 0..{len(self.classes) - 1}")
        super().__init__(images, labels, transform, target_transform)

    def _find(self, base: str, download: bool) -> str:
        folders = [self.root, os.path.join(self.root, type(self).__name__, "raw")]
        tried = []
        for folder in folders:
            for name in (base, base + ".gz"):
                path = os.path.join(folder, name)
                if os.path.isfile(path):
                    return path
                tried.append(path)
        hint = " (download=True cannot help: pyfastdl does not download data)" if download else ""
        raise FileNotFoundError(
            f"[{type(self).__name__}] missing file '{base}[.gz]' in '{self.root}'; looked for: "
            + ", ".join(tried)
            + ". Download the dataset files yourself and pass their folder as "
            f"root; pyfastdl never downloads{hint}"
        )


class FashionMNIST(MNIST):
    """Fashion-MNIST read from IDX files in `root` (same file names and layout as MNIST)."""

    classes: ClassVar[list[str]] = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]

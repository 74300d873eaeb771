"""Segmentation datasets: the embedded overlapping shapes (rendered, no download) and image/mask
folders (read through Pillow, an optional dependency: the ``image`` extra).

A sample is ``(image, mask)``: the image a float32 Tensor (C, H, W) in [0, 1], the mask an int64
Tensor (H, W) of class indices, each passed through ``transform`` / ``target_transform`` and the
pair through ``transforms`` (torchvision's three hooks) when given.

The embedded set (``render_shapes``): 64×64 colour images holding 2-5 shapes, circles, squares
and triangles (``SHAPE_CLASSES``; class 0 is the background), of radius 5-10 pixels, rotated,
placed at random and allowed to overlap (centres at least 0.75 × the sum of the radii apart, so
that no shape hides another one whole); a later shape covers an earlier one, in the image and in
the mask. The background is a random colour with two smooth waves across it (1-4 periods per
image); each shape is a colour that differs from the background by 0.3-0.7 in every channel
(mod 1; different shapes of one image by at least about 0.1) with a faint stripe texture. Shapes
are the signed distance functions of the embedded CIFAR set (``cifar._shape_sdf``); the image
takes an antialiased edge ``clip(0.5 - d, 0, 1)`` and the mask the pixels where it reaches 1/2.
Gaussian pixel noise (sigma 0.02-0.1) comes last. The result depends only on (train, n, size,
seed); 2,000 images take about a second.

Example:
    >>> from pyfastdl.data import EmbeddedShapes
    >>> ds = EmbeddedShapes(train=False, n=8)
    >>> image, mask = ds[0]
    >>> image.shape, image.dtype.name, mask.shape, mask.dtype.name
    ((3, 64, 64), 'float32', (64, 64), 'int64')
    >>> sorted(set(ds.masks.reshape(-1).tolist()))
    [0, 1, 2, 3]
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from ..tensor import Tensor
from ..utils.data import Dataset
from ._embedded import check_split_args
from .cifar import _coverage, _shape_sdf

__all__ = ["SHAPE_CLASSES", "EmbeddedShapes", "SegmentationFolder", "render_shapes"]

SHAPE_CLASSES = ("background", "circle", "square", "triangle")
IMAGE_SIZE = 64
MAX_SHAPES = 5
# our class -> the kind of cifar._shape_sdf: disk (radius s), square (half-side 0.85 s),
# equilateral triangle (circumradius 1.2 s)
_SDF_KIND = {1: 0, 2: 2, 3: 3}
_COLOUR_LEVELS = np.linspace(0.3, 0.7, MAX_SHAPES)  # offsets from the background, per channel


def _layout(rng: np.random.Generator, n: int, size: int) -> dict:
    """Per image and shape slot (n, MAX_SHAPES): class (0 = empty slot), scale, centre, angle,
    colour offset; drawn image by image in a fixed order (rejection sampling of the centres)."""
    cls = np.zeros((n, MAX_SHAPES), np.int64)
    scale = np.ones((n, MAX_SHAPES))
    centre = np.zeros((n, MAX_SHAPES, 2))
    for i in range(n):
        placed: list[tuple[float, float, float]] = []
        for j in range(int(rng.integers(2, MAX_SHAPES + 1))):
            k, s = int(rng.integers(1, 4)), rng.uniform(0.08, 0.16) * size
            for _ in range(20):
                c = rng.uniform(s, size - s, 2)
                if all(np.hypot(*(c - (x, y))) >= 0.75 * (s + r) for x, y, r in placed):
                    cls[i, j], scale[i, j], centre[i, j] = k, s, c
                    placed.append((c[0], c[1], s))
                    break
    # distinct colour levels per channel for the slots of one image, jittered by ±0.02
    order = np.argsort(rng.random((n, 3, MAX_SHAPES)), axis=-1)
    offset = _COLOUR_LEVELS[order] + rng.uniform(-0.02, 0.02, (n, 3, MAX_SHAPES))
    return {
        "cls": cls,
        "scale": scale,
        "centre": centre,
        "angle": rng.uniform(0.0, 2 * np.pi, (n, MAX_SHAPES)),
        "offset": offset.transpose(0, 2, 1),  # (n, MAX_SHAPES, 3)
    }


def _waves(rng: np.random.Generator, n: int, size: int, x: np.ndarray, y: np.ndarray, **ranges):
    """Sum of two plane waves per image, (n, size, size): random direction and phase, a number
    of periods per image and an amplitude drawn from `ranges` (``periods``, ``amplitude``)."""
    total = np.zeros((n, size, size), np.float32)
    for _ in range(2):
        theta = rng.uniform(0.0, 2 * np.pi, n)[:, None, None]
        freq = (rng.uniform(*ranges["periods"], n) * 2 * np.pi / size)[:, None, None]
        phase = rng.uniform(0.0, 2 * np.pi, n)[:, None, None]
        amp = rng.uniform(*ranges["amplitude"], n)[:, None, None]
        total += (amp * np.sin(freq * (x * np.cos(theta) + y * np.sin(theta)) + phase)).astype(
            np.float32
        )
    return total


def render_shapes(n: int, size: int = IMAGE_SIZE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`n` images float32 (n, 3, size, size) in [0, 1] and masks int64 (n, size, size) with
    classes 0-3 (``SHAPE_CLASSES``), deterministic by seed.

    Example:
        >>> from pyfastdl.data import render_shapes
        >>> images, masks = render_shapes(3, size=32, seed=1)
        >>> images.shape, masks.shape, int(masks.max()) <= 3
        ((3, 3, 32, 32), (3, 32, 32), True)
    """
    n, seed = check_split_args("render_shapes", n, seed)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 16:
        raise ValueError(f"[render_shapes] size must be an int >= 16, got {size!r}")
    rng = np.random.default_rng(seed)
    p = _layout(rng, n, size)
    grid = np.arange(size, dtype=np.float32) + 0.5  # pixel centres
    x, y = grid[None, None, :], grid[None, :, None]
    bg = rng.uniform(0.0, 1.0, (n, 3)).astype(np.float32)
    light = _waves(rng, n, size, x, y, periods=(1.0, 4.0), amplitude=(0.03, 0.1))
    images = bg[:, :, None, None] + light[:, None]
    stripes = _waves(rng, n, size, x, y, periods=(10.0, 16.0), amplitude=(0.0, 0.06))
    masks = np.zeros((n, size, size), np.int64)
    for j in range(MAX_SHAPES):
        for k, kind in _SDF_KIND.items():
            idx = np.flatnonzero(p["cls"][:, j] == k)
            if idx.size == 0:
                continue
            angle, centre = p["angle"][idx, j], p["centre"][idx, j].astype(np.float32)
            c = np.cos(angle).astype(np.float32)[:, None, None]
            s = np.sin(angle).astype(np.float32)[:, None, None]
            dx, dy = x - centre[:, 0, None, None], y - centre[:, 1, None, None]
            u, v = c * dx + s * dy, c * dy - s * dx  # the shape's rotated frame
            scale = p["scale"][idx, j].astype(np.float32)[:, None, None]
            alpha = _coverage(_shape_sdf(kind, u, v, {"scale": scale}))
            colour = (bg[idx] + p["offset"][idx, j]) % 1.0  # (m, 3)
            fill = colour[:, :, None, None] + stripes[idx][:, None]
            images[idx] += alpha[:, None] * (fill - images[idx])
            masks[idx] = np.where(alpha >= 0.5, k, masks[idx])
    noise = rng.uniform(0.02, 0.1, n).astype(np.float32)[:, None, None, None]
    images += noise * rng.standard_normal(images.shape, dtype=np.float32)
    return np.clip(images, 0.0, 1.0, out=images), masks


@functools.lru_cache(maxsize=4)
def _cached(train: bool, n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # train and test come from different streams, so no image is in both
    stream = np.random.default_rng([seed, 0 if train else 1, 64])
    images, masks = render_shapes(n, size, seed=int(stream.integers(2**63)))
    images.flags.writeable = False
    masks.flags.writeable = False
    return images, masks


class _Segmentation(Dataset):
    """(image, mask) pairs with torchvision's hooks: `transform` (image), `target_transform`
    (mask), `transforms` (the pair, after the other two)."""

    def __init__(
        self,
        transform: Callable | None,
        target_transform: Callable | None,
        transforms: Callable | None,
    ) -> None:
        self.transform = transform
        self.target_transform = target_transform
        self.transforms = transforms

    def _check_index(self, index: Any) -> int:
        n, name = len(self), type(self).__name__
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"[{name}] index must be an int, got {type(index).__name__}")
        if not -n <= index < n:
            raise IndexError(f"[{name}] index {index} is out of range for {n} samples")
        return int(index) % n

    def _hooks(self, image: Any, mask: Any) -> tuple[Any, Any]:
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            mask = self.target_transform(mask)
        if self.transforms is not None:
            image, mask = self.transforms(image, mask)
        return image, mask

    def _plain(self) -> bool:
        return self.transform is None and self.target_transform is None and self.transforms is None


class EmbeddedShapes(_Segmentation):
    """The embedded overlapping shapes: 2000 training or 400 test images (3, 64, 64) with masks
    (64, 64) of 4 classes (``SHAPE_CLASSES``: background, circle, square, triangle).

    Args:
        train: the training split (True) or the test split.
        transform / target_transform / transforms: applied to each image Tensor / mask Tensor /
            (image, mask) pair.
        n: the number of images (default 2000 / 400); size: their height and width (>= 16);
        seed: the rendering seed.

    Example:
        >>> from pyfastdl.data import EmbeddedShapes
        >>> from pyfastdl.utils.data import DataLoader
        >>> images, masks = next(iter(DataLoader(EmbeddedShapes(n=4, size=32), batch_size=4)))
        >>> images.shape, masks.shape, EmbeddedShapes.classes[1:]
        ((4, 3, 32, 32), (4, 32, 32), ['circle', 'square', 'triangle'])
    """

    classes: ClassVar[list[str]] = list(SHAPE_CLASSES)

    def __init__(
        self,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        transforms: Callable | None = None,
        n: int | None = None,
        size: int = IMAGE_SIZE,
        seed: int = 0,
    ) -> None:
        super().__init__(transform, target_transform, transforms)
        self.train = bool(train)
        if n is None:
            n = 2000 if self.train else 400
        n, seed = check_split_args(type(self).__name__, n, seed)
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 16:
            raise ValueError(f"[{type(self).__name__}] size must be an int >= 16, got {size!r}")
        self.images, self.masks = _cached(self.train, n, int(size), seed)

    def __len__(self) -> int:
        return len(self.masks)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        i = self._check_index(index)
        return self._hooks(Tensor(self.images[i].copy()), Tensor(self.masks[i].copy()))

    def _collated_batch(self, indices: np.ndarray) -> Any:
        if not self._plain() or type(self).__getitem__ is not EmbeddedShapes.__getitem__:
            return None
        return [Tensor(self.images[indices]), Tensor(self.masks[indices])]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(split={'train' if self.train else 'test'}, n={len(self)})"


_EXTENSIONS = (".png", ".bmp", ".tif", ".tiff", ".gif", ".jpg", ".jpeg")
# Pillow modes whose pixels are class indices (1: bits, L: bytes, P: palette indices, I: int32)
_INDEX_MODES = ("1", "L", "P", "I", "I;16")


class SegmentationFolder(_Segmentation):
    """Image/mask pairs from two folders, matched by file name stem, read lazily through Pillow.

    Every image file of `images_dir` (``.png``, ``.bmp``, ``.tif``, ``.gif``, ``.jpg``; sorted by
    name) needs a mask of the same stem in `masks_dir` with one of these extensions: a one-channel
    image (Pillow mode ``1``, ``L``, ``P`` or ``I``) whose pixel values are the class indices
    (a palette PNG's indices, not its colours), of the image's size. Images become float32
    (C, H, W) in [0, 1] after conversion to Pillow mode `mode` (``"RGB"``: 3 channels, ``"L"``:
    1); masks int64 (H, W). Save masks losslessly (PNG): JPEG artefacts would invent classes.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> from PIL import Image
        >>> from pyfastdl.data import SegmentationFolder
        >>> root = tempfile.mkdtemp()
        >>> for sub in ("img", "mask"):
        ...     os.mkdir(os.path.join(root, sub))
        >>> Image.new("RGB", (5, 4), (255, 0, 0)).save(os.path.join(root, "img", "a.png"))
        >>> Image.fromarray(np.eye(4, 5, dtype=np.uint8)).save(os.path.join(root, "mask", "a.png"))
        >>> image, mask = SegmentationFolder(os.path.join(root, "img"), os.path.join(root, "mask"))[0]
        >>> image.shape, mask.shape, mask.sum().item()
        ((3, 4, 5), (4, 5), 4)
    """

    def __init__(
        self,
        images_dir: str | os.PathLike,
        masks_dir: str | os.PathLike,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        transforms: Callable | None = None,
        mode: str = "RGB",
    ) -> None:
        super().__init__(transform, target_transform, transforms)
        name = type(self).__name__
        try:
            from PIL import Image
        except ImportError:
            raise ImportError(
                f"[{name}] needs Pillow; install it with pip install 'pyfastdl[image]'"
            ) from None
        self._open = Image.open
        self.images_dir, self.masks_dir, self.mode = (
            os.fspath(images_dir),
            os.fspath(masks_dir),
            mode,
        )
        for what, folder in (("images_dir", self.images_dir), ("masks_dir", self.masks_dir)):
            if not os.path.isdir(folder):
                raise FileNotFoundError(f"[{name}] {what} '{folder}' is not a folder")
        files = sorted(f for f in os.listdir(self.images_dir) if f.lower().endswith(_EXTENSIONS))
        if not files:
            raise FileNotFoundError(
                f"[{name}] no image files ({', '.join(_EXTENSIONS)}) in '{self.images_dir}'"
            )
        masks = {}
        for f in os.listdir(self.masks_dir):
            stem, ext = os.path.splitext(f)
            if ext.lower() in _EXTENSIONS:
                masks.setdefault(stem, f)
        self.samples: list[tuple[str, str]] = []
        for f in files:
            stem = os.path.splitext(f)[0]
            if stem not in masks:
                raise FileNotFoundError(
                    f"[{name}] no mask for image '{f}': expected '{stem}' with one of "
                    f"{', '.join(_EXTENSIONS)} in '{self.masks_dir}'"
                )
            self.samples.append(
                (os.path.join(self.images_dir, f), os.path.join(self.masks_dir, masks[stem]))
            )

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        name = type(self).__name__
        image_path, mask_path = self.samples[self._check_index(index)]
        with self._open(image_path) as img:
            pixels = np.asarray(img.convert(self.mode))
        with self._open(mask_path) as img:
            if img.mode not in _INDEX_MODES:
                raise ValueError(
                    f"[{name}] mask '{mask_path}' must be a one-channel image of class indices "
                    f"(Pillow mode 1, L, P or I), got mode {img.mode}"
                )
            mask = np.asarray(img).astype(np.int64)
        if pixels.shape[:2] != mask.shape:
            raise ValueError(
                f"[{name}] image '{image_path}' is {pixels.shape[1]}x{pixels.shape[0]} but its "
                f"mask is {mask.shape[1]}x{mask.shape[0]} pixels"
            )
        image = pixels.reshape(pixels.shape[0], pixels.shape[1], -1).transpose(2, 0, 1)
        image = image.astype(np.float32) * np.float32(1 / 255)
        return self._hooks(Tensor(image), Tensor(mask))

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self.images_dir}', '{self.masks_dir}', n={len(self)})"

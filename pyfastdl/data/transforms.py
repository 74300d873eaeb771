"""Image transforms for data augmentation, torchvision-style callables.

Each transform takes an image (C, H, W) — or a stack (..., C, H, W) — as a numpy array or a
Tensor and returns the same kind (geometric transforms also accept (H, W)). Random transforms
draw their parameters once per call, from `generator` or else from pyfastdl's default generator,
so ``pyfastdl.manual_seed(s)`` makes a pipeline reproducible; a stack shares one draw, as in
torchvision. Transforms prepare data: they do not record autograd.

Datasets apply ``transform`` to each sample (a float32 Tensor (C, H, W) in [0, 1]); a DataLoader
then fetches samples one by one. A transform whose ``batchable`` is True (Normalize, ToTensor on
Tensors, a Compose of such) gives on a stack (N, C, H, W) exactly the stack of its per-sample
results, so pyfastdl's image datasets apply it to whole batches and keep the DataLoader's
one-copy batch path; random transforms are never batched (each sample draws its own
parameters).

Example:
    >>> import numpy as np
    >>> import pyfastdl as fd
    >>> from pyfastdl.data import transforms as T
    >>> augment = T.Compose([
    ...     T.RandomCrop(32, padding=4),
    ...     T.RandomHorizontalFlip(),
    ...     T.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    ... ])
    >>> _ = fd.manual_seed(0)
    >>> augment(fd.rand(3, 32, 32)).shape
    (3, 32, 32)
    >>> T.ToTensor()(np.zeros((32, 32, 3), np.uint8)).shape
    (3, 32, 32)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..random import Generator, numpy_rng
from ..tensor import Tensor

__all__ = [
    "Compose",
    "GaussianNoise",
    "Lambda",
    "MaskingNoise",
    "Normalize",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomRotation",
    "RandomVerticalFlip",
    "ToTensor",
]


def _unwrap(img: Any, op: str, min_dims: int = 2) -> tuple[np.ndarray, bool]:
    """(the numpy array of `img`, whether it was a Tensor); TypeError/ValueError otherwise."""
    is_tensor = isinstance(img, Tensor)
    arr = img.array if is_tensor else img
    if not isinstance(arr, np.ndarray):
        raise TypeError(
            f"[{op}] expected an image (C, H, W) as a numpy array or a CPU Tensor, got "
            f"{type(arr).__name__}"
        )
    if arr.ndim < min_dims:
        dims = "(C, H, W)" if min_dims == 3 else "(H, W) or (C, H, W)"
        raise ValueError(f"[{op}] expected an image {dims}, got shape {arr.shape}")
    return arr, is_tensor


def _wrap(arr: np.ndarray, is_tensor: bool) -> Any:
    return Tensor(arr) if is_tensor else arr


def _probability(p: Any, op: str) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"[{op}] p must be a probability in [0, 1], got {p!r}")
    return float(p)


def _pair(value: Any, op: str, what: str) -> tuple[int, int]:
    """An int or a 1-/2-sequence of ints as (height, width)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (int(value), int(value))
    elif isinstance(value, Sequence) and len(value) in (1, 2):
        value = (value[0], value[-1])
    else:
        raise ValueError(
            f"[{op}] {what} must be an int or a sequence of 1 or 2 ints, got {value!r}"
        )
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
        raise ValueError(f"[{op}] {what} must be ints, got {value!r}")
    return int(value[0]), int(value[1])


class Compose:
    """Applies `transforms` one after the other.

    Example:
        >>> from pyfastdl.data import transforms as T
        >>> T.Compose([T.RandomHorizontalFlip(p=1.0), T.RandomVerticalFlip(p=0.0)])
        Compose(
            RandomHorizontalFlip(p=1.0)
            RandomVerticalFlip(p=0.0)
        )
    """

    def __init__(self, transforms: Sequence[Callable]) -> None:
        transforms = list(transforms)
        for i, t in enumerate(transforms):
            if not callable(t):
                raise TypeError(f"[Compose] transform {i} is not callable: {t!r}")
        self.transforms = transforms

    @property
    def batchable(self) -> bool:
        """Whether every transform may run on a whole batch (see the module docstring)."""
        return all(getattr(t, "batchable", False) for t in self.transforms)

    def __call__(self, img: Any) -> Any:
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        body = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"{type(self).__name__}({body}\n)"


class Lambda:
    """Wraps a function of the image as a transform (``Lambda(lambda x: x * 2)``)."""

    def __init__(self, lambd: Callable) -> None:
        if not callable(lambd):
            raise TypeError(f"[Lambda] argument must be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img: Any) -> Any:
        return self.lambd(img)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ToTensor:
    """A numpy image (H, W, C) or (H, W) → a Tensor (C, H, W); uint8 is scaled to float32 [0, 1].

    As in torchvision, numpy input is read as height × width × channel; other dtypes keep their
    values (no scaling). A Tensor is returned unchanged: pyfastdl's datasets already give float32
    (C, H, W) Tensors in [0, 1], so torchvision-style pipelines that start with ``ToTensor()``
    run as they are.

    Example:
        >>> import numpy as np
        >>> from pyfastdl.data.transforms import ToTensor
        >>> ToTensor()(np.full((2, 2, 3), 255, np.uint8)).array[:, 0, 0].tolist()
        [1.0, 1.0, 1.0]
    """

    batchable = True  # datasets hand it Tensors, which pass through

    def __call__(self, pic: Any) -> Tensor:
        if isinstance(pic, Tensor):
            return pic
        if not isinstance(pic, np.ndarray):
            raise TypeError(f"[ToTensor] pic should be a numpy array, got {type(pic).__name__}")
        if pic.ndim not in (2, 3):
            raise ValueError(f"[ToTensor] pic should be 2 or 3 dimensional, got shape {pic.shape}")
        if pic.dtype.kind not in "biuf":
            raise TypeError(f"[ToTensor] pic has unsupported dtype {pic.dtype}")
        chw = pic[None] if pic.ndim == 2 else pic.transpose(2, 0, 1)
        if pic.dtype == np.uint8:
            out = chw.astype(np.float32)
            out *= np.float32(1 / 255)
            return Tensor(out)
        return Tensor(np.ascontiguousarray(chw))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Normalize:
    """``(image - mean[c]) / std[c]`` per channel c of a float image (..., C, H, W).

    Example:
        >>> import numpy as np
        >>> from pyfastdl.data.transforms import Normalize
        >>> Normalize([0.5], [0.5])(np.ones((1, 2, 2), np.float32))[0, 0].tolist()
        [1.0, 1.0]
    """

    batchable = True  # per channel, element by element: a stack gives the stacked results

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        mean_arr = np.asarray(mean, dtype=np.float64).reshape(-1)
        std_arr = np.asarray(std, dtype=np.float64).reshape(-1)
        if mean_arr.size == 0 or std_arr.size == 0:
            raise ValueError("[Normalize] mean and std must not be empty")
        if np.any(std_arr == 0):
            raise ValueError(
                f"[Normalize] std evaluated to zero after conversion, leading to division by "
                f"zero: std={list(std)}"
            )
        self.mean, self.std, self.inplace = mean, std, inplace
        self._mean, self._std = mean_arr, std_arr

    def __call__(self, img: Any) -> Any:
        arr, is_tensor = _unwrap(img, "Normalize", min_dims=3)
        if arr.dtype.kind != "f":
            raise TypeError(f"[Normalize] expected a float image, got {arr.dtype}")
        channels = arr.shape[-3]
        for name, v in (("mean", self._mean), ("std", self._std)):
            if v.size not in (1, channels):
                raise ValueError(
                    f"[Normalize] {name} has {v.size} values for an image of {channels} "
                    f"channels {arr.shape}"
                )
        mean = self._mean.astype(arr.dtype)[:, None, None]
        inv_std = (1.0 / self._std).astype(arr.dtype)[:, None, None]
        if self.inplace:
            arr -= mean
            arr *= inv_std
            return img
        return _wrap((arr - mean) * inv_std, is_tensor)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


class _RandomTransform:
    """Holds the generator; ``_rng()`` is looked up at each call (so reseeding takes effect)."""

    generator: Generator | None = None
    batchable = False  # one draw per call: a batch would share it

    def _rng(self) -> np.random.Generator:
        return numpy_rng(self.generator)


class RandomHorizontalFlip(_RandomTransform):
    """Mirrors the image left-right with probability `p`.

    Example:
        >>> import numpy as np
        >>> from pyfastdl.data.transforms import RandomHorizontalFlip
        >>> RandomHorizontalFlip(p=1.0)(np.array([[[1, 2, 3]]])).tolist()
        [[[3, 2, 1]]]
    """

    _axis = -1

    def __init__(self, p: float = 0.5, *, generator: Generator | None = None) -> None:
        self.p = _probability(p, type(self).__name__)
        self.generator = generator

    def __call__(self, img: Any) -> Any:
        arr, is_tensor = _unwrap(img, type(self).__name__)
        if self._rng().random() < self.p:
            return _wrap(np.flip(arr, axis=self._axis).copy(), is_tensor)
        return img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirrors the image top-bottom with probability `p`."""

    _axis = -2


_PAD_MODES = ("constant", "edge", "reflect", "symmetric")  # numpy.pad's names for them


class RandomCrop(_RandomTransform):
    """Crops a random (height, width) window, after optional padding (torchvision's arguments).

    Args:
        size: the output size, an int (square) or (height, width).
        padding: added first on each side: an int, (left/right, top/bottom) or
            (left, top, right, bottom).
        pad_if_needed: pad images smaller than `size` up to it (else ValueError).
        fill: the value of constant padding.
        padding_mode: 'constant', 'edge', 'reflect' or 'symmetric'.

    Example:
        >>> import numpy as np
        >>> from pyfastdl.data.transforms import RandomCrop
        >>> RandomCrop(2)(np.arange(9.0).reshape(1, 3, 3)).shape
        (1, 2, 2)
    """

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] | None = None,
        pad_if_needed: bool = False,
        fill: float = 0,
        padding_mode: str = "constant",
        *,
        generator: Generator | None = None,
    ) -> None:
        op = "RandomCrop"
        self.size = _pair(size, op, "size")
        if min(self.size) <= 0:
            raise ValueError(f"[{op}] size must be positive, got {size!r}")
        self._pad = self._padding(padding, op)
        if padding_mode not in _PAD_MODES:
            raise ValueError(
                f"[{op}] padding_mode must be one of {list(_PAD_MODES)}, got {padding_mode!r}"
            )
        if not isinstance(fill, numbers.Real):
            raise ValueError(f"[{op}] fill must be a number, got {fill!r}")
        self.padding, self.pad_if_needed = padding, bool(pad_if_needed)
        self.fill, self.padding_mode, self.generator = fill, padding_mode, generator

    @staticmethod
    def _padding(padding: Any, op: str) -> tuple[int, int, int, int]:
        """(left, top, right, bottom)."""
        if padding is None:
            return (0, 0, 0, 0)
        if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
            pads = (padding,) * 4
        elif isinstance(padding, Sequence) and len(padding) in (1, 2, 4):
            pads = tuple(padding) * (4 // len(padding))
        else:
            raise ValueError(
                f"[{op}] padding must be an int or a sequence of 1, 2 or 4 ints, got {padding!r}"
            )
        if not all(isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in pads):
            raise ValueError(f"[{op}] padding must be ints, got {padding!r}")
        if min(pads) < 0:
            raise ValueError(f"[{op}] padding must be non-negative, got {padding!r}")
        return tuple(int(p) for p in pads)  # type: ignore[return-value]

    def _pads(self, arr: np.ndarray) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) for this image, pad_if_needed included."""
        left, top, right, bottom = self._pad
        if self.pad_if_needed:
            # as torchvision: pad both sides by the whole shortfall
            th, tw = self.size
            extra_h = max(th - (arr.shape[-2] + top + bottom), 0)
            extra_w = max(tw - (arr.shape[-1] + left + right), 0)
            left, right = left + extra_w, right + extra_w
            top, bottom = top + extra_h, bottom + extra_h
        return left, top, right, bottom

    def __call__(self, img: Any) -> Any:
        arr, is_tensor = _unwrap(img, "RandomCrop")
        left, top, right, bottom = self._pads(arr)
        (h0, w0), (th, tw) = arr.shape[-2:], self.size
        h, w = h0 + top + bottom, w0 + left + right
        if h < th or w < tw:
            raise ValueError(
                f"[RandomCrop] required crop size {self.size} is larger than the (padded) image "
                f"size {(h, w)}"
            )
        mode = self.padding_mode
        if mode == "reflect" and (max(top, bottom) >= h0 or max(left, right) >= w0):
            raise ValueError(
                f"[RandomCrop] reflect padding of {(left, top, right, bottom)} needs an image "
                f"larger than the padding, got shape {arr.shape}"
            )
        rng = self._rng()
        i = int(rng.integers(0, h - th + 1))  # window origin in padded coordinates
        j = int(rng.integers(0, w - tw + 1))
        if mode == "constant":
            # no padded copy: the window's overlap with the image, on a `fill` background
            out = np.full(arr.shape[:-2] + (th, tw), self.fill, dtype=arr.dtype)
            y0, y1 = max(i - top, 0), min(i - top + th, h0)
            x0, x1 = max(j - left, 0), min(j - left + tw, w0)
            if y0 < y1 and x0 < x1:
                oy, ox = y0 - (i - top), x0 - (j - left)
                out[..., oy : oy + y1 - y0, ox : ox + x1 - x0] = arr[..., y0:y1, x0:x1]
            return _wrap(out, is_tensor)
        widths = [(0, 0)] * (arr.ndim - 2) + [(top, bottom), (left, right)]
        padded = np.pad(arr, widths, mode=mode) if (left or top or right or bottom) else arr
        return _wrap(np.ascontiguousarray(padded[..., i : i + th, j : j + tw]), is_tensor)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class RandomRotation(_RandomTransform):
    """Rotates the image by a random angle (degrees, counter-clockwise) about its centre.

    Sampling is bilinear by default (torchvision's default is 'nearest', also available);
    pixels that come from outside the image get `fill`. The output keeps the input's size.

    Args:
        degrees: the range (min, max), or a number d for (-d, d).
        interpolation: 'bilinear' or 'nearest'.
        expand: must be False (the output keeps the input's size).
        center: the (x, y) pixel to rotate about (default: the image centre).
        fill: the value of pixels from outside the image.

    Example:
        >>> import numpy as np
        >>> from pyfastdl.data.transforms import RandomRotation
        >>> img = np.arange(4.0).reshape(1, 2, 2)
        >>> RandomRotation((90, 90))(img)[0].tolist() == np.rot90(img[0]).tolist()
        True
    """

    def __init__(
        self,
        degrees: float | Sequence[float],
        interpolation: str = "bilinear",
        expand: bool = False,
        center: Sequence[float] | None = None,
        fill: float = 0,
        *,
        generator: Generator | None = None,
    ) -> None:
        op = "RandomRotation"
        if isinstance(degrees, numbers.Real) and not isinstance(degrees, bool):
            if degrees < 0:
                raise ValueError(f"[{op}] if degrees is a single number, it must be positive")
            degrees = (-float(degrees), float(degrees))
        elif isinstance(degrees, Sequence) and len(degrees) == 2:
            degrees = (float(degrees[0]), float(degrees[1]))
        else:
            raise ValueError(f"[{op}] degrees must be a number or a pair, got {degrees!r}")
        if not degrees[0] <= degrees[1] or not all(math.isfinite(d) for d in degrees):
            raise ValueError(f"[{op}] degrees must be a finite range (min <= max), got {degrees}")
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(
                f"[{op}] interpolation must be 'bilinear' or 'nearest', got {interpolation!r}"
            )
        if expand:
            raise ValueError(f"[{op}] expand=True is not supported (the output keeps its size)")
        if center is not None and (not isinstance(center, Sequence) or len(center) != 2):
            raise ValueError(f"[{op}] center must be a pair (x, y), got {center!r}")
        if not isinstance(fill, numbers.Real):
            raise ValueError(f"[{op}] fill must be a number, got {fill!r}")
        self.degrees, self.interpolation, self.expand = degrees, interpolation, expand
        self.center, self.fill, self.generator = center, fill, generator

    def __call__(self, img: Any) -> Any:
        arr, is_tensor = _unwrap(img, "RandomRotation")
        angle = float(self._rng().uniform(self.degrees[0], self.degrees[1]))
        return _wrap(rotate(arr, angle, self.interpolation, self.center, self.fill), is_tensor)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(degrees={list(self.degrees)}, "
            f"interpolation={self.interpolation}, expand={self.expand}, fill={self.fill})"
        )


def rotate(
    arr: np.ndarray,
    angle: float,
    interpolation: str = "bilinear",
    center: Sequence[float] | None = None,
    fill: float = 0,
) -> np.ndarray:
    """`arr` (..., H, W) rotated counter-clockwise by `angle` degrees about `center` (x, y).

    Output pixel (y, x) samples the input at ``xs = cx + dx cos a - dy sin a``,
    ``ys = cy + dx sin a + dy cos a`` with (dx, dy) = (x, y) - c (y points down, so the picture
    turns counter-clockwise, as np.rot90 does). Source coordinates within 1e-6 of an integer are
    snapped, so multiples of 90° are exact. The input is padded by two pixels of `fill` and the
    coordinates clamped into the padding, so every tap is a valid index and samples outside the
    image read (or blend into) `fill`. All channels share one flat gather: 4 taps per pixel
    (bilinear) or 1 (nearest), about 15 array operations on (H, W) whatever the angle.
    """
    h, w = arr.shape[-2:]
    cx, cy = ((w - 1) / 2, (h - 1) / 2) if center is None else (float(center[0]), float(center[1]))
    a = math.radians(angle)
    cos, sin = math.cos(a), math.sin(a)
    dx = np.arange(w, dtype=np.float64)[None, :] - cx
    dy = np.arange(h, dtype=np.float64)[:, None] - cy
    coords = []
    for c in (cx + dx * cos - dy * sin, cy + dx * sin + dy * cos):
        near = np.round(c)
        c = np.where(np.abs(c - near) < 1e-6, near, c)
        coords.append(c)
    work = arr.astype(np.float32) if arr.dtype.kind != "f" else arr
    pad, row = 2, w + 4
    padded = np.full(arr.shape[:-2] + (h + 2 * pad, row), fill, dtype=work.dtype)
    padded[..., pad : pad + h, pad : pad + w] = work
    flat = padded.reshape(arr.shape[:-2] + (-1,))
    # padded coordinates, clamped into the fill border: [0, size + 2] keeps taps p and p + 1 valid
    xs = np.clip(coords[0] + pad, 0, w + 2)
    ys = np.clip(coords[1] + pad, 0, h + 2)
    if interpolation == "nearest":
        idx = np.floor(ys + 0.5).astype(np.int64) * row + np.floor(xs + 0.5).astype(np.int64)
        out = flat[..., idx]
    else:
        x0, y0 = np.floor(xs), np.floor(ys)
        fx, fy = (xs - x0).astype(work.dtype), (ys - y0).astype(work.dtype)
        idx = y0.astype(np.int64) * row + x0.astype(np.int64)
        top = flat[..., idx] * (1 - fx) + flat[..., idx + 1] * fx
        bottom = flat[..., idx + row] * (1 - fx) + flat[..., idx + row + 1] * fx
        out = top * (1 - fy) + bottom * fy
    if arr.dtype.kind in "iub":
        out = np.round(out)
        if arr.dtype.kind != "b":
            info = np.iinfo(arr.dtype)
            out = np.clip(out, info.min, info.max)
    return out.astype(arr.dtype, copy=False)


class GaussianNoise(_RandomTransform):
    """Adds independent normal noise N(mean, std²) to every pixel (a pyfastdl addition).

    Args:
        mean, std: of the noise; std >= 0.
        clip: clamp the result to [0, 1] (images in [0, 1] before Normalize).

    Example:
        >>> import numpy as np
        >>> from pyfastdl.data.transforms import GaussianNoise
        >>> GaussianNoise(std=0.0, mean=0.25)(np.zeros((1, 2, 2), np.float32)).tolist()
        [[[0.25, 0.25], [0.25, 0.25]]]
    """

    def __init__(
        self,
        mean: float = 0.0,
        std: float = 0.1,
        clip: bool = False,
        *,
        generator: Generator | None = None,
    ) -> None:
        for name, v in (("mean", mean), ("std", std)):
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise ValueError(f"[GaussianNoise] {name} must be a finite number, got {v!r}")
        if std < 0:
            raise ValueError(f"[GaussianNoise] std must be non-negative, got {std}")
        self.mean, self.std, self.clip, self.generator = float(mean), float(std), clip, generator

    def __call__(self, img: Any) -> Any:
        arr, is_tensor = _unwrap(img, "GaussianNoise")
        if arr.dtype.kind != "f":
            raise TypeError(f"[GaussianNoise] expected a float image, got {arr.dtype}")
        kind = arr.dtype if arr.dtype in (np.float32, np.float64) else np.dtype(np.float32)
        noise = self._rng().standard_normal(arr.shape, dtype=kind).astype(arr.dtype, copy=False)
        out = arr + (noise * arr.dtype.type(self.std) + arr.dtype.type(self.mean))
        if self.clip:
            np.clip(out, 0, 1, out=out)
        return _wrap(out, is_tensor)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={self.std}, clip={self.clip})"


class MaskingNoise(_RandomTransform):
    """Masking noise of denoising autoencoders: each value independently set to `value` (0:
    the pixel is erased) with probability `p`, kept otherwise (a pyfastdl addition; no rescaling,
    unlike dropout).

    Args:
        p: the fraction of values masked, in [0, 1]; value: what a masked value becomes.

    Example:
        >>> import numpy as np
        >>> from pyfastdl.data.transforms import MaskingNoise
        >>> MaskingNoise(p=1.0)(np.ones((1, 2, 2), np.float32)).tolist()
        [[[0.0, 0.0], [0.0, 0.0]]]
        >>> MaskingNoise(p=0.0)(np.ones((1, 1, 2), np.float32)).tolist()
        [[[1.0, 1.0]]]
    """

    def __init__(
        self, p: float = 0.25, value: float = 0.0, *, generator: Generator | None = None
    ) -> None:
        self.p = _probability(p, "MaskingNoise")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"[MaskingNoise] value must be a number, got {value!r}")
        self.value, self.generator = float(value), generator

    def __call__(self, img: Any) -> Any:
        arr, is_tensor = _unwrap(img, "MaskingNoise")
        mask = self._rng().random(arr.shape) < self.p
        out = np.where(mask, arr.dtype.type(self.value), arr)
        return _wrap(out, is_tensor)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p}, value={self.value})"

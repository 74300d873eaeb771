"""CIFAR-style colour images: the embedded shapes-and-textures set and CIFAR-10 from its files.

The embedded set (no download needed) has 10 classes of 3×32×32 colour images, six shapes and
four textures (``EMBEDDED_CLASSES``). A sample draws its class's figure with a random colour
pair, position, scale and rotation over a background with a lighting gradient, maybe adds a
small distractor dot, then pixel noise. Shapes are signed distance functions d(u, v) (pixels,
negative inside) in the figure's rotated frame; coverage is ``clip(0.5 - d, 0, 1)``, an
antialiased edge one pixel wide. Textures fill an ellipse with a periodic pattern (period 4-7
pixels). Rendering is vectorised over the samples of each class (about 30 array operations on
(n, 32, 32) float32); 6,000 images take well under a second, and the result depends only on
(train, n, seed).

CIFAR-10 is read from the files the user has, never downloaded: the python version
(``data_batch_1`` ... ``data_batch_5``, ``test_batch``: pickled dicts, read by a restricted
unpickler that only rebuilds numpy arrays, so no code from the file runs) or the binary version
(``data_batch_1.bin`` ... ``test_batch.bin``: records of 1 label byte + 3072 pixel bytes, the
red, green and blue 32×32 planes row by row).

Layout after loading: images float32 (N, 3, 32, 32) in [0, 1] (what ``ToTensor`` gives in
PyTorch), labels int64.

Example:
    >>> from pyfastdl.data import EmbeddedCifar, load_cifar_like
    >>> images, labels = load_cifar_like(train=False, n=20)
    >>> images.shape, images.dtype.name, labels[:4].tolist()
    ((20, 3, 32, 32), 'float32', [0, 1, 2, 3])
    >>> EmbeddedCifar.classes[:3]
    ['disk', 'ring', 'square']
"""

from __future__ import annotations

import functools
import io
import os
import pickle
import pickletools
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from ..tensor import Tensor
from ._embedded import check_split_args, render_split
from .datasets import _ImageClassification

__all__ = [
    "CIFAR10",
    "EMBEDDED_CLASSES",
    "EmbeddedCifar",
    "load_cifar_like",
    "read_cifar_batch",
    "render_cifar_like",
]

IMAGE_SIZE = 32
EMBEDDED_CLASSES = (
    "disk",
    "ring",
    "square",
    "triangle",
    "cross",
    "star",
    "stripes",
    "checkerboard",
    "dots",
    "grid",
)
_PIXELS = 3 * IMAGE_SIZE * IMAGE_SIZE  # 3072 bytes per CIFAR image


# ----------------------------------------------------------------------------- embedded set
def _coverage(d: np.ndarray) -> np.ndarray:
    """Antialiased inside-ness of a signed distance in pixels (negative inside)."""
    return np.clip(0.5 - d, 0.0, 1.0)


def _to_lattice(t: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Distance from t to the nearest multiple of `period` (both in pixels)."""
    return np.abs(t - period * np.round(t / period))


def _shape_sdf(k: int, u: np.ndarray, v: np.ndarray, p: dict) -> np.ndarray:
    """Signed distance (pixels) to the figure of shape class k, in its frame (u, v)."""
    s = p["scale"]
    if k == 0:  # disk of radius s
        return np.hypot(u, v) - s
    if k == 1:  # ring: radius 0.72 s, half-width 0.15-0.28 s
        return np.abs(np.hypot(u, v) - 0.72 * s) - p["width"] * s
    if k == 2:  # square of half-side 0.85 s
        return np.maximum(np.abs(u), np.abs(v)) - 0.85 * s
    if k == 3:  # equilateral triangle, circumradius 1.2 s: three half-planes at inradius 0.6 s
        d = np.full_like(u, -np.inf)
        for a in (np.pi / 2, np.pi / 2 + 2 * np.pi / 3, np.pi / 2 + 4 * np.pi / 3):
            d = np.maximum(d, u * np.float32(np.cos(a)) + v * np.float32(np.sin(a)))
        return d - 0.6 * s
    if k == 4:  # cross: two bars of half-length s and half-width 0.25-0.38 s
        au, av, t = np.abs(u), np.abs(v), p["width"] * s + 0.1 * s
        return np.minimum(np.maximum(au - s, av - t), np.maximum(au - t, av - s))
    # k == 5: five-pointed star, radius from 0.16 s (between the points) to s (the tips)
    r = np.hypot(u, v)
    outline = s * (0.58 + 0.42 * np.cos(5 * np.arctan2(v, u)))
    return 0.6 * (r - outline)


def _texture_coverage(k: int, u: np.ndarray, v: np.ndarray, p: dict) -> np.ndarray:
    """Coverage of texture class k (6-9) in its frame: pattern inside an ellipse patch."""
    period = p["period"]
    rx, ry = p["patch"][..., 0], p["patch"][..., 1]
    patch = _coverage((np.hypot(u / rx, v / ry) - 1.0) * np.minimum(rx, ry))
    du, dv = _to_lattice(u, period), _to_lattice(v, period)
    if k == 6:  # stripes: lines of half-width period/4 along v
        pattern = _coverage(du - 0.25 * period)
    elif k == 7:  # checkerboard: cells of side `period`, the even ones filled
        even = (np.floor(u / period) + np.floor(v / period)) % 2 == 0
        edge = np.minimum(np.abs(du - 0.5 * period), np.abs(dv - 0.5 * period))
        pattern = np.where(even, _coverage(-edge), _coverage(edge))
    elif k == 8:  # dots of radius 0.3 period on a square lattice
        pattern = _coverage(np.hypot(du, dv) - 0.3 * period)
    else:  # k == 9: grid of lines of half-width 0.14 period
        pattern = _coverage(np.minimum(du, dv) - 0.14 * period)
    return patch * pattern


def _random_params(rng: np.random.Generator, n: int) -> dict:
    """Per-sample random parameters, drawn in a fixed order (float32, pixels)."""
    f32 = np.float32
    scale = rng.uniform(6.0, 11.0, n)
    bg = rng.uniform(0.0, 1.0, (n, 3))
    # Each channel of the figure differs from the background by 0.3-0.7 (mod 1): always visible.
    fg = (bg + rng.uniform(0.3, 0.7, (n, 3))) % 1.0
    rx = rng.uniform(8.0, 14.0, n)
    patch = np.stack([rx, rx * rng.uniform(0.65, 1.0, n)], axis=1)  # texture ellipse radii
    return {
        "scale": scale.astype(f32)[:, None, None],
        "centre": rng.uniform(10.0, 22.0, (n, 2)).astype(f32),
        "angle": rng.uniform(0.0, 2 * np.pi, n),
        "width": rng.uniform(0.15, 0.28, n).astype(f32)[:, None, None],
        "period": rng.uniform(4.0, 7.0, n).astype(f32)[:, None, None],
        "patch": patch.astype(f32)[:, None, None, :],
        "bg": bg.astype(f32),
        "fg": fg.astype(f32),
        "light_dir": rng.uniform(0.0, 2 * np.pi, n),
        "light_amp": rng.uniform(0.0, 0.35, n).astype(f32),
        "dot": rng.uniform(2.0, 30.0, (n, 2)).astype(f32),
        "dot_radius": (rng.uniform(1.2, 3.0, n) * (rng.random(n) < 0.5)).astype(f32),
        "dot_colour": rng.uniform(0.0, 1.0, (n, 3)).astype(f32),
        "noise": rng.uniform(0.01, 0.08, n).astype(f32),
    }


def _frame(angle: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in each sample's rotated frame: (u, v), each (n, 32, 32)."""
    grid = np.arange(IMAGE_SIZE, dtype=np.float32) + 0.5
    x = grid[None, None, :] - centre[:, 0, None, None]
    y = grid[None, :, None] - centre[:, 1, None, None]
    c = np.cos(angle).astype(np.float32)[:, None, None]
    s = np.sin(angle).astype(np.float32)[:, None, None]
    return c * x + s * y, c * y - s * x


def _render_class(k: int, p: dict) -> np.ndarray:
    """Images (n, 3, 32, 32) of class k for the samples of `p` (no noise yet)."""
    u, v = _frame(p["angle"], p["centre"])
    if k < 6:
        alpha = _coverage(_shape_sdf(k, u, v, p))
    else:
        alpha = _texture_coverage(k, u, v, p)
    alpha = alpha[:, None]  # (n, 1, 32, 32)
    img = p["bg"][:, :, None, None] * (1 - alpha) + p["fg"][:, :, None, None] * alpha
    # a distractor dot (half of the samples) of a third colour
    du, dv = _frame(np.zeros_like(p["angle"]), p["dot"])
    dot = _coverage(np.hypot(du, dv) - p["dot_radius"][:, None, None])[:, None]
    dot *= p["dot_radius"][:, None, None, None] > 0
    img = img * (1 - dot) + p["dot_colour"][:, :, None, None] * dot
    # lighting: a linear gradient across the image, at most ±0.71 light_amp
    lu, _ = _frame(p["light_dir"], np.full((len(u), 2), IMAGE_SIZE / 2, np.float32))
    img *= 1 + p["light_amp"][:, None, None, None] * (lu / IMAGE_SIZE)[:, None]
    return img


def render_cifar_like(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Renders one image per label (0-9, see ``EMBEDDED_CLASSES``): float32 (N, 3, 32, 32) in
    [0, 1], deterministic by seed.

    Example:
        >>> from pyfastdl.data.cifar import render_cifar_like
        >>> render_cifar_like([0, 6, 9], seed=1).shape
        (3, 3, 32, 32)
    """
    labels = np.asarray(labels)
    if labels.size == 0:
        labels = labels.astype(np.int64)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(
            f"[render_cifar_like] labels must be a 1-d integer array, got {labels.dtype} "
            f"{labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(EMBEDDED_CLASSES)):
        raise ValueError(
            f"[render_cifar_like] labels must be classes 0..{len(EMBEDDED_CLASSES) - 1}, got "
            f"values in [{labels.min()}, {labels.max()}]"
        )
    rng = np.random.default_rng(seed)
    params = _random_params(rng, labels.size)
    images = np.empty((labels.size, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    for k in range(len(EMBEDDED_CLASSES)):
        idx = np.flatnonzero(labels == k)
        if idx.size:
            images[idx] = _render_class(k, {key: val[idx] for key, val in params.items()})
    noise = rng.standard_normal(images.shape, dtype=np.float32)
    images += noise * params["noise"][:, None, None, None]
    return np.clip(images, 0.0, 1.0, out=images)


@functools.lru_cache(maxsize=4)
def _cached(train: bool, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return render_split(render_cifar_like, len(EMBEDDED_CLASSES), train, n, seed, stream_key=(32,))


def load_cifar_like(
    train: bool = True, n: int | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The embedded colour images: (images float32 (n, 3, 32, 32) in [0, 1], labels int64 (n,)).

    Defaults: 5000 training or 1000 test images, balanced across the 10 classes. The arrays are
    cached per process (read-only; copy them to modify).
    """
    if n is None:
        n = 5000 if train else 1000
    n, seed = check_split_args("load_cifar_like", n, seed)
    return _cached(bool(train), n, seed)


# ----------------------------------------------------------------------------- CIFAR-10 files
# Stands for ``numpy.ndarray`` inside a pickle: recognised by _reconstruct, but not callable.
_NDARRAY = object()


def _reconstruct(cls: Any, shape: Any, dtype: Any) -> np.ndarray:
    """numpy's ``_reconstruct(ndarray, (0,), b'b')``: an empty array that BUILD then fills."""
    if cls is not _NDARRAY:
        raise ValueError("refused an array reconstruction of something else than numpy.ndarray")
    return np.empty(0, dtype=np.uint8)


def _dtype(spec: Any, align: Any = False, copy: Any = False) -> np.dtype:
    """numpy.dtype, limited to plain numeric types (no object, no structured fields)."""
    if not isinstance(spec, str) or len(spec) > 4:
        raise ValueError(f"refused dtype spec {spec!r} (only plain numeric type codes)")
    dtype = np.dtype(spec)
    if dtype.kind not in "biuf":
        raise ValueError(f"refused dtype {dtype} (only plain numeric types)")
    return dtype


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    """numpy's pickle protocol-5 path: an array over the bytes of the pickle."""
    if not isinstance(buffer, (bytes, bytearray)) or not isinstance(dtype, np.dtype):
        raise ValueError("refused a malformed array buffer")
    if dtype.kind not in "biuf" or order not in ("C", "F"):
        raise ValueError("refused an array buffer of a non-numeric dtype or unknown order")
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ValueError(f"refused an array shape {shape!r}")
    if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != len(buffer):
        raise ValueError(f"refused an array buffer of {len(buffer)} bytes for shape {shape}")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order)


def _latin1_bytes(text: Any, encoding: Any = "latin1") -> bytes:
    """``_codecs.encode(str, 'latin1')``: how protocol 2 stores bytes objects."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise ValueError("refused _codecs.encode other than encode(str, 'latin1')")
    return text.encode("latin1")


# The only globals a CIFAR-10 batch needs: numpy array and dtype reconstruction (numpy 1 and 2
# module paths), and the bytes helper of protocol 2. Each maps to a checked stand-in above.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("_codecs", "encode"): _latin1_bytes,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings, numbers and numpy arrays; refuses every other global."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise ValueError(
                f"refused global '{module}.{name}' (only numpy arrays may be rebuilt)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise ValueError("refused a persistent id")


# Memo slots a real batch uses: a handful. The C unpickler sizes its memo table by the largest
# index a PUT names, so a 6 KB file naming slot 2**28 would make it allocate gigabytes.
_MAX_MEMO = 1 << 16


def _scan_opcodes(raw: bytes, path: str, op: str) -> None:
    """Walks the pickle's opcodes without running them and refuses memo indices a batch never
    uses (the unpickler would allocate a table that large before anything else is checked)."""
    try:
        for opcode, arg, _ in pickletools.genops(raw):
            if "PUT" in opcode.name and isinstance(arg, int) and arg > _MAX_MEMO:
                raise ValueError(f"memo index {arg} is past what a batch uses")
    except ValueError as exc:
        raise ValueError(f"[{op}] '{path}' is not a valid CIFAR-10 python batch: {exc}") from None
    except Exception as exc:  # a truncated or garbled opcode stream
        raise ValueError(
            f"[{op}] '{path}' is not a valid CIFAR-10 python batch: {type(exc).__name__}: {exc}"
        ) from None


def _unpickle(path: str, op: str) -> Any:
    with open(path, "rb") as f:
        raw = f.read()
    _scan_opcodes(raw, path, op)
    try:
        # latin1: the original batches were written by Python 2 (str keys and pixel strings)
        return _RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except ValueError as exc:
        raise ValueError(f"[{op}] '{path}' is not a safe CIFAR-10 python batch: {exc}") from None
    except Exception as exc:  # any malformed stream: UnpicklingError, EOFError, TypeError, ...
        raise ValueError(
            f"[{op}] '{path}' is not a valid CIFAR-10 python batch: {type(exc).__name__}: {exc}"
        ) from None


def _check_batch(images: Any, labels: Any, path: str, op: str) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 (N, 3, 32, 32), int64 (N,)) from a batch's 'data' and 'labels', validated."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2:
        got = f"{images.dtype} {images.shape}" if isinstance(images, np.ndarray) else "no array"
        raise ValueError(f"[{op}] '{path}': 'data' must be uint8 (N, 3072), got {got}")
    if images.shape[1] != _PIXELS:
        raise ValueError(f"[{op}] '{path}': 'data' must be uint8 (N, 3072), got {images.shape}")
    if isinstance(labels, (list, tuple)):
        # Look at each entry before NumPy does: a list of shared nested lists (a few KB of pickle)
        # would describe billions of integers, and np.asarray would build them all.
        if not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in labels):
            kinds = sorted({type(x).__name__ for x in labels})
            raise ValueError(
                f"[{op}] '{path}': 'labels' must be a flat list of integers, got entries of "
                f"type {', '.join(kinds)}"
            )
    elif not isinstance(labels, np.ndarray):
        raise ValueError(
            f"[{op}] '{path}': 'labels' must be a list of integers, got {type(labels).__name__}"
        )
    try:
        labels = np.asarray(labels)
    except Exception:  # integers past int64
        labels = np.asarray([None])
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) != len(images):
        raise ValueError(
            f"[{op}] '{path}': 'labels' must be {len(images)} integers, got {labels.dtype} "
            f"{labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"[{op}] '{path}': labels must be in 0..9")
    return images.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE), labels.astype(np.int64)


def _read_python_batch(path: str, op: str) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(path, op)
    if not isinstance(batch, dict):
        raise ValueError(f"[{op}] '{path}' must hold a dict, got {type(batch).__name__}")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        keys = sorted(repr(k) for k in batch)
        raise ValueError(f"[{op}] '{path}' has no 'data' and 'labels' (keys: {', '.join(keys)})")
    return _check_batch(batch["data"], batch["labels"], path, op)


def _read_binary_batch(path: str, op: str) -> tuple[np.ndarray, np.ndarray]:
    raw = np.fromfile(path, dtype=np.uint8)
    record = 1 + _PIXELS
    if raw.size % record:
        raise ValueError(
            f"[{op}] '{path}' is not a CIFAR-10 binary batch: {raw.size} bytes is not a "
            f"multiple of the {record}-byte record (1 label byte + 3072 pixel bytes)"
        )
    records = raw.reshape(-1, record)
    return _check_batch(np.ascontiguousarray(records[:, 1:]), records[:, 0], path, op)


def read_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 batch file: (images uint8 (N, 3, 32, 32), labels int64 (N,)).

    A name ending in ``.bin`` is read as the binary version, any other as the python version
    (restricted unpickling: only numpy arrays are rebuilt; anything else raises ValueError).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"[read_cifar_batch] no such file: '{path}'")
    if path.endswith(".bin"):
        return _read_binary_batch(path, "read_cifar_batch")
    return _read_python_batch(path, "read_cifar_batch")


# ----------------------------------------------------------------------------- datasets
class _ColourImages(_ImageClassification):
    """Images stored (N, 3, H, W): uint8 (scaled by 1/255) or float32 in [0, 1].

    A DataLoader takes whole batches by one indexing copy when there is no transform, or when
    the transform is ``batchable`` (deterministic, per sample: e.g. ``Normalize``; it then runs
    once on the batch, with the same result as per sample); otherwise samples are fetched one by
    one so that each draws its own random augmentation.
    """

    def _to_float(self, images: np.ndarray, fresh: bool = False) -> np.ndarray:
        if images.dtype == np.uint8:
            out = images.astype(np.float32)
            out *= np.float32(1 / 255)
            return out
        return super()._to_float(images, fresh)

    def _collated_batch(self, indices: np.ndarray) -> Any:
        transform = self.transform
        if transform is None or not getattr(transform, "batchable", False):
            return super()._collated_batch(indices)  # None while a transform must run per sample
        if (
            self.target_transform is not None
            or type(self).__getitem__ is not _ImageClassification.__getitem__
        ):
            return None
        images = Tensor(self._to_float(self._images[indices], fresh=True))
        return [transform(images), Tensor(self._labels[indices])]


class EmbeddedCifar(_ColourImages):
    """The embedded colour images (:func:`load_cifar_like`): 5000 training or 1000 test images.

    A sample is ``(image, label)``: a float32 Tensor (3, 32, 32) in [0, 1] and an int, each
    passed through `transform` / `target_transform` when given.

    Args:
        train: the training split (True) or the test split.
        transform / target_transform: applied to each image Tensor / int label.
        n: the number of images (default 5000 / 1000); seed: the rendering seed.

    Example:
        >>> from pyfastdl.data import EmbeddedCifar
        >>> ds = EmbeddedCifar(train=False)
        >>> image, label = ds[7]
        >>> len(ds), image.shape, ds.classes[label]
        (1000, (3, 32, 32), 'checkerboard')
    """

    classes: ClassVar[list[str]] = list(EMBEDDED_CLASSES)

    def __init__(
        self,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        n: int | None = None,
        seed: int = 0,
    ) -> None:
        self.train = bool(train)
        images, labels = load_cifar_like(train=self.train, n=n, seed=seed)
        super().__init__(images, labels, transform, target_transform)


class CIFAR10(_ColourImages):
    """CIFAR-10 read from the batch files in `root` (nothing is downloaded).

    `root` holds the python version (``data_batch_1`` ... ``data_batch_5``, ``test_batch``) or the
    binary version (``data_batch_1.bin`` ... ``test_batch.bin``), directly or in the folder the
    archives unpack to (``root/cifar-10-batches-py``, ``root/cifar-10-batches-bin``). Python
    batches are unpickled without running code from the file.

    A sample is ``(image, label)``: a float32 Tensor (3, 32, 32) in [0, 1] and an int, each passed
    through `transform` / `target_transform`. As in torchvision, ``data`` is the uint8 array
    (N, 32, 32, 3) (height, width, channel) and ``targets`` the list of labels.

    Example:
        >>> from pyfastdl.data import CIFAR10
        >>> CIFAR10("/no/such/folder")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: [CIFAR10] no CIFAR-10 training batches in '/no/such/folder'...
    """

    classes: ClassVar[list[str]] = [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]
    _FOLDERS = ("cifar-10-batches-py", "cifar-10-batches-bin")

    def __init__(
        self,
        root: str | os.PathLike,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        self.root = os.path.expanduser(os.fspath(root))
        self.train = bool(train)
        names = [f"data_batch_{i}" for i in range(1, 6)] if self.train else ["test_batch"]
        paths, binary = self._find(names, download)
        read = _read_binary_batch if binary else _read_python_batch
        parts = [read(p, "CIFAR10") for p in paths]
        images = np.concatenate([x for x, _ in parts]) if len(parts) > 1 else parts[0][0]
        labels = np.concatenate([y for _, y in parts])
        super().__init__(images, labels, transform, target_transform)

    @property
    def data(self) -> np.ndarray:  # type: ignore[override]
        """All images, uint8 (N, 32, 32, 3) as in torchvision (a view of the stored CHW array)."""
        return self._images.transpose(0, 2, 3, 1)

    @property
    def targets(self) -> list[int]:  # type: ignore[override]
        """All labels, a list of ints as in torchvision."""
        return self._labels.tolist()

    def _find(self, names: list[str], download: bool) -> tuple[list[str], bool]:
        """The batch files (python version preferred) and whether they are the binary ones."""
        folders = [self.root] + [os.path.join(self.root, f) for f in self._FOLDERS]
        best: list[str] | None = None
        for folder in folders:
            for suffix in ("", ".bin"):
                paths = [os.path.join(folder, n + suffix) for n in names]
                missing = [p for p in paths if not os.path.isfile(p)]
                if not missing:
                    return paths, suffix == ".bin"
                if len(missing) < len(paths) and (best is None or len(missing) < len(best)):
                    best = missing
        split = "training" if self.train else "test"
        if best is not None:
            what = "missing " + ", ".join(f"'{p}'" for p in best)
        else:
            what = (
                "expected " + ", ".join(names) + " (python version) or the same names + '.bin' "
                "(binary version), in it or in " + " or ".join(self._FOLDERS)
            )
        hint = " (download=True cannot help: pyfastdl does not download data)" if download else ""
        raise FileNotFoundError(
            f"[CIFAR10] no CIFAR-10 {split} batches in '{self.root}': {what}. Download and unpack "
            f"the dataset yourself and pass its folder as root; pyfastdl never downloads{hint}"
        )

"""The embedded digits: 28×28 handwritten-style digits rendered in NumPy (no download needed).

Each class 0-9 is a pen drawing: polylines and elliptic arcs in a unit box (``_TEMPLATES``).
A sample draws its template through a random smooth warp (a wobbly pen), a random affine map
(rotation, anisotropic scale, shear, translation), a random stroke width and ink level, then adds
pixel noise. A pixel's ink is ``clip(radius + 0.5 - distance to the nearest stroke, 0, 1)``: an
antialiased pen of that radius. Rendering is vectorised over samples and segments, and the
result depends only on (train, n, seed).

Layout as MNIST after ``ToTensor``: images float32 (N, 1, 28, 28) in [0, 1], labels int64; the
digit fills about the central 20×20 pixels.

Example:
    >>> from pyfastdl.data import load_digits
    >>> images, labels = load_digits(train=False, n=20, seed=0)
    >>> images.shape, images.dtype.name, labels[:5].tolist()
    ((20, 1, 28, 28), 'float32', [0, 1, 2, 3, 4])
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from ._embedded import check_split_args, render_split

__all__ = ["IMAGE_SIZE", "NUM_CLASSES", "load_digits", "render_digits"]

NUM_CLASSES = 10
IMAGE_SIZE = 28
_BOX = 20.0  # pixels spanned by the unit box (MNIST digits fit in 20×20)


def _arc(
    cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int | None = None
) -> list[tuple[float, float]]:
    """Points of an elliptic arc from angle a0 to a1 (degrees; y points down, 0° = right)."""
    n = n or max(3, int(abs(a1 - a0) / 25) + 1)
    t = np.radians(np.linspace(a0, a1, n))
    return list(zip((cx + rx * np.cos(t)).tolist(), (cy + ry * np.sin(t)).tolist()))


# Strokes per digit, in a unit box (x right, y down). Each stroke is a polyline.
_TEMPLATES: list[list[list[tuple[float, float]]]] = [
    [_arc(0.5, 0.5, 0.27, 0.42, -90, 270)],  # 0
    [[(0.33, 0.24), (0.52, 0.08)], [(0.52, 0.08), (0.52, 0.92)]],  # 1
    [_arc(0.5, 0.32, 0.26, 0.23, -170, 20) + [(0.22, 0.9), (0.82, 0.9)]],  # 2
    [_arc(0.47, 0.3, 0.25, 0.2, -160, 90) + _arc(0.47, 0.71, 0.28, 0.21, -90, 160)],  # 3
    [[(0.66, 0.92), (0.66, 0.08), (0.18, 0.66), (0.84, 0.66)]],  # 4
    [[(0.76, 0.09), (0.3, 0.09), (0.27, 0.46)] + _arc(0.48, 0.66, 0.28, 0.25, -135, 150)],  # 5
    [_arc(0.66, 0.6, 0.38, 0.52, -100, -180) + _arc(0.5, 0.68, 0.22, 0.21, 180, 540)],  # 6
    [[(0.18, 0.1), (0.82, 0.1), (0.42, 0.92)]],  # 7
    [_arc(0.5, 0.29, 0.21, 0.19, 90, 450), _arc(0.5, 0.7, 0.26, 0.21, -90, 270)],  # 8
    [_arc(0.5, 0.32, 0.23, 0.21, 0, 360) + [(0.7, 0.55), (0.62, 0.92)]],  # 9
]


def _segments(strokes: list) -> np.ndarray:
    """(S, 2, 2) segment endpoints of a template."""
    segs = [(p, q) for s in strokes for p, q in itertools.pairwise(s)]
    return np.asarray(segs, dtype=np.float32)


_SEGMENTS = [_segments(t) for t in _TEMPLATES]


def _random_maps(rng: np.random.Generator, n: int) -> dict:
    """Per-sample random parameters: affine map, warp, pen radius, ink and noise levels."""
    angle = np.radians(rng.uniform(-13, 13, n))
    shear = rng.uniform(-0.27, 0.27, n)
    sx = rng.uniform(0.78, 1.05, n)
    sy = sx * rng.uniform(0.9, 1.1, n)
    c, s = np.cos(angle), np.sin(angle)
    # A = R(angle) @ Shear @ diag(sx, sy), in pixels
    a = np.empty((n, 2, 2))
    a[:, 0, 0] = c * sx
    a[:, 0, 1] = (c * shear - s) * sy
    a[:, 1, 0] = s * sx
    a[:, 1, 1] = (s * shear + c) * sy
    a *= _BOX
    shift = rng.uniform(-2.0, 2.0, (n, 2)) + IMAGE_SIZE / 2
    return {
        "A": a,
        "shift": shift,
        "warp_amp": rng.uniform(0.0, 0.04, (n, 2)),
        "warp_freq": rng.uniform(0.5, 1.5, (n, 2)),
        "warp_phase": rng.uniform(0, 2 * np.pi, (n, 2)),
        "radius": rng.uniform(0.8, 1.6, n),
        "ink": rng.uniform(0.75, 1.0, n),
        "noise": rng.uniform(0.0, 0.1, n),
    }


def _place(points: np.ndarray, m: dict) -> np.ndarray:
    """Template points (..., 2) in the unit box → pixel coordinates per sample (n, ..., 2)."""
    p = np.broadcast_to(points, (m["A"].shape[0],) + points.shape).astype(np.float64)
    extra = (1,) * (points.ndim - 1)
    amp = m["warp_amp"].reshape((-1,) + extra + (2,))
    freq = m["warp_freq"].reshape((-1,) + extra + (2,))
    phase = m["warp_phase"].reshape((-1,) + extra + (2,))
    # Smooth warp: x wobbles with y and y with x (a pen that drifts along the stroke).
    p = p + amp * np.sin(2 * np.pi * freq * p[..., ::-1] + phase)
    p = p - 0.5
    a = m["A"].reshape((-1,) + extra + (2, 2))
    out = np.einsum("...ij,...j->...i", a, p)
    return out + m["shift"].reshape((-1,) + extra + (2,))


def _draw(segments: np.ndarray, m: dict) -> np.ndarray:
    """Renders one template for every sample of `m`: (n, 28, 28) float32 ink in [0, 1]."""
    seg = _place(segments, m).astype(np.float32)  # (n, S, 2, 2) endpoints in pixels
    n = seg.shape[0]
    grid = np.arange(IMAGE_SIZE, dtype=np.float32) + 0.5  # pixel centres
    px = np.tile(grid, IMAGE_SIZE)[None, :]  # (1, 784) x = column
    py = np.repeat(grid, IMAGE_SIZE)[None, :]  # (1, 784) y = row
    best = np.full((n, IMAGE_SIZE * IMAGE_SIZE), np.inf, dtype=np.float32)
    for j in range(seg.shape[1]):
        ax, ay = seg[:, j, 0, 0:1], seg[:, j, 0, 1:2]  # (n, 1)
        dx, dy = seg[:, j, 1, 0:1] - ax, seg[:, j, 1, 1:2] - ay
        inv = 1.0 / np.maximum(dx * dx + dy * dy, 1e-6)
        ex, ey = px - ax, py - ay  # (n, 784) pixel - start
        # t = clamp(<e, d> / |d|^2, 0, 1): the nearest point of the segment is a + t d
        t = np.clip((ex * dx + ey * dy) * inv, 0.0, 1.0)
        ex -= t * dx
        ey -= t * dy
        np.minimum(best, ex * ex + ey * ey, out=best)
    dist = np.sqrt(best)
    ink = np.clip(m["radius"][:, None].astype(np.float32) + 0.5 - dist, 0.0, 1.0)
    ink *= m["ink"][:, None].astype(np.float32)
    return ink.reshape(n, IMAGE_SIZE, IMAGE_SIZE)


def render_digits(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Renders one image per label: float32 (N, 1, 28, 28) in [0, 1], deterministic by seed."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim != 1 or (labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES)):
        raise ValueError(
            f"[render_digits] labels must be a 1-d array of classes 0..9, got shape {labels.shape}"
        )
    rng = np.random.default_rng(seed)
    m = _random_maps(rng, labels.size)
    images = np.empty((labels.size, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    for digit in range(NUM_CLASSES):
        idx = np.flatnonzero(labels == digit)
        if idx.size:
            images[idx] = _draw(_SEGMENTS[digit], {k: v[idx] for k, v in m.items()})
    noise = rng.standard_normal(images.shape, dtype=np.float32)
    images += noise * m["noise"][:, None, None].astype(np.float32)
    np.clip(images, 0.0, 1.0, out=images)
    return images[:, None]


@functools.lru_cache(maxsize=8)
def _cached(train: bool, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return render_split(render_digits, NUM_CLASSES, train, n, seed, stream_key=())


def load_digits(
    train: bool = True, n: int | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The embedded digits: (images float32 (n, 1, 28, 28) in [0, 1], labels int64 (n,)).

    Defaults: 6000 training or 1000 test images, balanced across the 10 classes. The arrays are
    cached per process (read-only; copy them to modify).
    """
    if n is None:
        n = 6000 if train else 1000
    n, seed = check_split_args("load_digits", n, seed)
    return _cached(bool(train), n, seed)

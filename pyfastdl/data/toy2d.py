"""Toy 2-D data sets for density estimation and classification: two moons, concentric rings and a
mixture of Gaussians, generated in NumPy.

The names and arguments follow scikit-learn's ``sklearn.datasets`` where it has the piece
(``make_moons``, ``make_circles``); ``make_rings`` (any number of rings) and
``make_gaussian_mixture`` (Gaussians on a circle, the usual flow benchmark) are ours. Each returns
``(x, labels)``: points float32 (n, 2) and int64 labels (the moon, ring or component of each
point). Positions along a moon or ring are evenly spaced, as in scikit-learn, and ``noise`` adds
isotropic Gaussian noise of that standard deviation. The same ``random_state`` (an int or a
``numpy.random.Generator``) gives the same points; None draws fresh ones.

Example:
    >>> from pyfastdl.data import make_moons
    >>> x, labels = make_moons(200, noise=0.05, random_state=0)
    >>> x.shape, x.dtype.name, labels.dtype.name, int(labels.sum())
    ((200, 2), 'float32', 'int64', 100)
"""

from __future__ import annotations

import numpy as np

__all__ = ["make_circles", "make_gaussian_mixture", "make_moons", "make_rings"]

RandomState = int | np.random.Generator | None


def _counts(n_samples: int | tuple[int, ...], parts: int, name: str) -> list[int]:
    """Points per part: an int split as evenly as possible, the last parts taking the remainder
    (scikit-learn's outer moon has ``n_samples // 2`` points), or one count per part."""
    if isinstance(n_samples, int | np.integer):
        if n_samples < 0:
            raise ValueError(f"[{name}] n_samples must be >= 0, got {n_samples}")
        base, extra = divmod(int(n_samples), parts)
        return [base + (1 if k < extra else 0) for k in range(parts)][::-1]
    counts = [int(c) for c in n_samples]
    if len(counts) != parts or min(counts) < 0:
        raise ValueError(
            f"[{name}] n_samples must be an int or {parts} counts >= 0, got {tuple(n_samples)}"
        )
    return counts


def _finish(
    points: list[np.ndarray],
    shuffle: bool,
    noise: float | None,
    rng: np.random.Generator,
    name: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Stack the parts, label them 0, 1, ..., shuffle, then add the noise (scikit-learn's order)."""
    if noise is not None and noise < 0:
        raise ValueError(f"[{name}] noise must be >= 0, got {noise}")
    x = np.concatenate(points).astype(np.float64)
    labels = np.concatenate([np.full(len(p), k, dtype=np.int64) for k, p in enumerate(points)])
    if shuffle:
        order = rng.permutation(len(x))
        x, labels = x[order], labels[order]
    if noise:
        x = x + rng.normal(scale=noise, size=x.shape)
    return x.astype(np.float32), labels


def make_moons(
    n_samples: int | tuple[int, int] = 100,
    *,
    shuffle: bool = True,
    noise: float | None = None,
    random_state: RandomState = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's ``make_moons``).

    The outer moon (label 0) is the upper half of the unit circle; the inner one (label 1) the
    lower half of a unit circle centred at (1, 0.5), so the points span about [-1, 2] × [-0.5, 1].

    Args:
        n_samples: the number of points (the inner moon takes the odd one), or a pair
            (outer, inner).
        shuffle: shuffle the points (else the outer moon comes first).
        noise: standard deviation of the Gaussian noise added to every coordinate.
        random_state: seed or ``numpy.random.Generator``.

    Example:
        >>> from pyfastdl.data import make_moons
        >>> x, labels = make_moons(5, shuffle=False)
        >>> x.round(3).tolist()[0], labels.tolist()
        ([1.0, 0.0], [0, 0, 1, 1, 1])
    """
    n_out, n_in = _counts(n_samples, 2, "make_moons")
    rng = np.random.default_rng(random_state)
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    outer = np.stack([np.cos(t_out), np.sin(t_out)], axis=1)
    inner = np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], axis=1)
    return _finish([outer, inner], shuffle, noise, rng, "make_moons")


def make_rings(
    n_samples: int | tuple[int, ...] = 100,
    *,
    n_rings: int = 3,
    shuffle: bool = True,
    noise: float | None = None,
    random_state: RandomState = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Concentric circles centred at the origin, of radii 1/n_rings, 2/n_rings, ..., 1.

    Ring k (label k, innermost 0) holds ``n_samples / n_rings`` points evenly spaced in angle
    (the outer rings take the remainder).

    Args:
        n_samples: the number of points, or one count per ring (innermost first).
        n_rings: how many rings.
        shuffle, noise, random_state: as in :func:`make_moons`.

    Example:
        >>> from pyfastdl.data import make_rings
        >>> import numpy as np
        >>> x, labels = make_rings(300, n_rings=3, random_state=0)
        >>> radii = np.hypot(x[:, 0], x[:, 1])
        >>> [round(float(radii[labels == k].mean()), 3) for k in range(3)]
        [0.333, 0.667, 1.0]
    """
    if n_rings < 1:
        raise ValueError(f"[make_rings] n_rings must be >= 1, got {n_rings}")
    counts = _counts(n_samples, n_rings, "make_rings")
    radii = np.arange(1, n_rings + 1) / n_rings
    return _finish(
        _circles(counts, radii), shuffle, noise, np.random.default_rng(random_state), "make_rings"
    )


def make_circles(
    n_samples: int | tuple[int, int] = 100,
    *,
    shuffle: bool = True,
    noise: float | None = None,
    random_state: RandomState = None,
    factor: float = 0.8,
) -> tuple[np.ndarray, np.ndarray]:
    """A large circle (radius 1, label 0) around a small one (radius ``factor``, label 1):
    scikit-learn's ``make_circles``.

    Args:
        n_samples: the number of points (the inner circle takes the odd one), or a pair
            (outer, inner).
        factor: the inner circle's radius, in [0, 1).
        shuffle, noise, random_state: as in :func:`make_moons`.

    Example:
        >>> from pyfastdl.data import make_circles
        >>> x, labels = make_circles(4, shuffle=False, factor=0.5)
        >>> x.round(3).tolist(), labels.tolist()
        ([[1.0, 0.0], [-1.0, 0.0], [0.5, 0.0], [-0.5, 0.0]], [0, 0, 1, 1])
    """
    if not 0 <= factor < 1:
        raise ValueError(f"[make_circles] factor must be in [0, 1), got {factor}")
    counts = _counts(n_samples, 2, "make_circles")
    rng = np.random.default_rng(random_state)
    return _finish(_circles(counts, [1.0, factor]), shuffle, noise, rng, "make_circles")


def _circles(counts: list[int], radii: np.ndarray | list[float]) -> list[np.ndarray]:
    """Points evenly spaced in angle (from angle 0, endpoint excluded) on circles of these radii."""
    parts = []
    for n, r in zip(counts, radii, strict=True):
        t = np.linspace(0, 2 * np.pi, n, endpoint=False)
        parts.append(r * np.stack([np.cos(t), np.sin(t)], axis=1))
    return parts


def make_gaussian_mixture(
    n_samples: int | tuple[int, ...] = 100,
    *,
    n_components: int = 8,
    radius: float = 2.0,
    std: float = 0.2,
    centers: np.ndarray | None = None,
    shuffle: bool = True,
    random_state: RandomState = None,
) -> tuple[np.ndarray, np.ndarray]:
    """An equal-weight mixture of isotropic Gaussians: by default ``n_components`` of them evenly
    spaced on a circle of ``radius`` (the "8 Gaussians" of the flow literature).

    Component k (label k) has mean ``centers[k]`` (default ``radius · (cos 2πk/K, sin 2πk/K)``) and
    covariance ``std² I``; it draws ``n_samples / K`` points (the first components take the
    remainder), like scikit-learn's ``make_blobs``.

    Args:
        n_samples: the number of points, or one count per component.
        n_components: K, when ``centers`` is not given.
        radius: the circle the default centres lie on.
        std: the standard deviation of every component.
        centers: explicit (K, 2) means (then ``n_components`` is ``len(centers)``).
        shuffle, random_state: as in :func:`make_moons`.

    Example:
        >>> from pyfastdl.data import make_gaussian_mixture
        >>> x, labels = make_gaussian_mixture(800, random_state=0)
        >>> x.shape, sorted(set(labels.tolist())) == list(range(8))
        ((800, 2), True)
        >>> round(float(x[labels == 0, 0].mean()), 1), round(float(x[labels == 2, 1].mean()), 1)
        (2.0, 2.0)
    """
    if std < 0:
        raise ValueError(f"[make_gaussian_mixture] std must be >= 0, got {std}")
    if centers is None:
        if n_components < 1:
            raise ValueError(
                f"[make_gaussian_mixture] n_components must be >= 1, got {n_components}"
            )
        angle = 2 * np.pi * np.arange(n_components) / n_components
        centers = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    centers = np.asarray(centers, dtype=np.float64)
    if centers.ndim != 2 or centers.shape[1] != 2 or len(centers) == 0:
        raise ValueError(
            f"[make_gaussian_mixture] centers must have shape (K, 2), got {centers.shape}"
        )
    counts = _counts(n_samples, len(centers), "make_gaussian_mixture")[::-1]
    rng = np.random.default_rng(random_state)
    parts = [c + rng.normal(scale=std, size=(n, 2)) for c, n in zip(centers, counts, strict=True)]
    return _finish(parts, shuffle, None, rng, "make_gaussian_mixture")

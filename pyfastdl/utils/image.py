"""make_grid / save_image: a batch of images as one grid, as torchvision.utils does.

``make_grid`` is built from differentiable ops (pad, reshape, permute), so gradients flow back to
the images. ``save_image`` writes the grid with Pillow, an optional dependency
(``pip install 'pyfastdl[image]'``).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.utils import make_grid
    >>> make_grid(fd.rand(10, 3, 8, 8), nrow=4).shape  # 3 rows of 4, 2 pixels of padding
    (3, 32, 42)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..nn import functional as F
from ..ops import cat, stack
from ..tensor import Tensor, full

__all__ = ["make_grid", "save_image"]


def _norm_range(t: Tensor, value_range: tuple | None) -> Tensor:
    """Clamps `t` to [low, high] (its own min and max unless given) and maps it to [0, 1]."""
    if value_range is not None:
        low, high = value_range
    else:
        low, high = float(t.min()), float(t.max())
    return (t.clamp(min=low, max=high) - low) / max(high - low, 1e-5)


def _check_int(value: Any, name: str, op: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"[{op}] {name} must be an int, got {type(value).__name__}")
    if value < low:
        raise ValueError(f"[{op}] {name} must be >= {low}, got {value}")


def make_grid(
    tensor: Any,
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    value_range: tuple | None = None,
    scale_each: bool = False,
    pad_value: float = 0.0,
) -> Tensor:
    """Lays a batch of images out as a grid: a (C, H', W') tensor.

    `tensor` is a (B, C, H, W) batch, a list of (C, H, W) images, or one (C, H, W) or (H, W)
    image; one-channel images become three-channel. `nrow` images go in each row, with `padding`
    pixels of `pad_value` around them. `normalize` maps the values to [0, 1]: clamped to
    `value_range` (low, high) if given, else by the min and max of the whole batch, or of each
    image with `scale_each`. A batch of one image comes back as that image, without padding.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.utils import make_grid
        >>> make_grid(fd.ones(2, 1, 1, 1), padding=1)[0].tolist()
        [[0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]]
    """
    op = "make_grid"
    if isinstance(tensor, list):
        for t in tensor:
            if not isinstance(t, Tensor):
                raise TypeError(
                    f"[{op}] tensor or list of tensors expected, got a list holding "
                    f"{type(t).__name__}"
                )
        if not tensor:
            raise ValueError(f"[{op}] expected a non-empty list of tensors")
        tensor = stack(tensor, dim=0)
    elif not isinstance(tensor, Tensor):
        raise TypeError(f"[{op}] tensor or list of tensors expected, got {type(tensor).__name__}")
    _check_int(nrow, "nrow", op, 1)
    _check_int(padding, "padding", op, 0)
    if tensor.ndim == 2:  # one (H, W) image
        tensor = tensor.unsqueeze(0)
    if tensor.ndim == 3:  # one (C, H, W) image
        if tensor.shape[0] == 1:
            tensor = cat([tensor, tensor, tensor], 0)
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != 4:
        raise ValueError(
            f"[{op}] expected a (B, C, H, W) batch or a (C, H, W) or (H, W) image, got shape "
            f"{tensor.shape}"
        )
    if tensor.shape[1] == 1:
        tensor = cat([tensor, tensor, tensor], 1)
    if tensor.shape[0] == 0:
        raise ValueError(f"[{op}] expected at least one image, got an empty batch")

    if normalize is True:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError(
                f"[{op}] value_range has to be a tuple (min, max) if specified, got "
                f"{type(value_range).__name__}"
            )
        if scale_each is True:
            tensor = stack([_norm_range(t, value_range) for t in tensor.unbind(0)], dim=0)
        else:
            tensor = _norm_range(tensor, value_range)

    n, c, h, w = tensor.shape
    if n == 1:
        return tensor.squeeze(0)
    xmaps = min(nrow, n)
    ymaps = int(math.ceil(n / xmaps))
    if ymaps * xmaps > n:  # the empty cells of the last row
        blank = full(
            (ymaps * xmaps - n, c, h, w), pad_value, dtype=tensor.dtype, device=tensor.device
        )
        tensor = cat([tensor, blank], 0)
    # Each cell is an image with `padding` rows above and columns to its left; the cells, tiled
    # (rows of cells, image rows, cells in a row, image columns), then get the closing border.
    cells = F.pad(tensor, (padding, 0, padding, 0), value=pad_value)
    hp, wp = h + padding, w + padding
    grid = cells.reshape(ymaps, xmaps, c, hp, wp).permute(2, 0, 3, 1, 4)
    grid = grid.reshape(c, ymaps * hp, xmaps * wp)
    return F.pad(grid, (0, padding, 0, padding), value=pad_value)


def save_image(tensor: Any, fp: Any, format: str | None = None, **kwargs: Any) -> None:
    """Saves a tensor (or a batch, laid out by :func:`make_grid` with `kwargs`) as an image file.

    Values in [0, 1] map to 0..255 (rounded, clamped); `fp` is a path or a file object and
    `format` the Pillow format name (from the file name when None). Needs Pillow.
    """
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "[save_image] needs Pillow; install it with pip install 'pyfastdl[image]'"
        ) from None
    grid = make_grid(tensor, **kwargs)
    array = np.asarray(grid.detach().cpu().numpy())
    # +0.5 then the cast's truncation rounds to the nearest of 0..255
    pixels = np.clip(array * 255 + 0.5, 0, 255).transpose(1, 2, 0).astype(np.uint8)
    Image.fromarray(pixels).save(fp, format=format)

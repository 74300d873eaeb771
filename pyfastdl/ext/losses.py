"""Segmentation losses and metrics (ours: PyTorch has no names for them): the Dice loss, the hard
Dice score, the U-Net paper's boundary weight map and the cross-entropy weighted per pixel.

With class probabilities p = softmax(logits) over C classes and the one-hot truth t, the soft
Dice coefficient of class c sums over the batch and the pixels:

    dice_c = (2 Σ p_c t_c + smooth) / (Σ p_c + Σ t_c + smooth)

- :func:`dice_loss` / :class:`DiceLoss`: ``1 - mean_c dice_c`` (differentiable; ``smooth`` keeps
  it defined for a class absent from both truth and prediction, whose Dice is then about 1).
- :func:`dice_score`: the hard version on the predicted labels (argmax of the logits), per
  class: ``2 |P ∩ T| / (|P| + |T|)``, 1 when a class is absent from both (nothing to find,
  nothing found) — the metric of milesial/Pytorch-UNet's ``evaluate``.
- :func:`unet_weight_map`: Ronneberger et al.'s weight map
  ``w(x) = w_c(x) + w0 · exp(-(d1(x) + d2(x))² / (2 σ²))``, where d1 and d2 are the distances
  to the nearest and the second-nearest object: it makes the thin background gaps between
  touching objects expensive to get wrong.
- :func:`weighted_cross_entropy`: ``mean_x w(x) · CE(x)``, the paper's energy with that map.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.ext.losses import dice_loss, dice_score
    >>> logits = fd.tensor([[[[5.0, -5.0]], [[-5.0, 5.0]]]])  # (N=1, C=2, H=1, W=2)
    >>> target = fd.tensor([[[0, 1]]])
    >>> round(dice_loss(logits, target).item(), 3), dice_score(logits, target).tolist()
    (0.0, [1.0, 1.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import nn
from ..nn import functional as F
from ..tensor import Tensor, tensor

__all__ = ["DiceLoss", "dice_loss", "dice_score", "unet_weight_map", "weighted_cross_entropy"]


def _to_numpy(x: Any) -> np.ndarray:
    return np.asarray(x.detach().cpu().numpy()) if isinstance(x, Tensor) else np.asarray(x)


def _check_pair(op: str, input: Any, target: Any) -> None:
    """`input` float logits (N, C, *spatial), `target` integer labels (N, *spatial)."""
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(
            f"[{op}] input and target must be Tensors, got {type(input).__name__} and "
            f"{type(target).__name__}"
        )
    if not input.is_floating_point():
        raise TypeError(f"[{op}] input must be floating-point logits, got {input.dtype}")
    if target.is_floating_point() or target.dtype.name == "bool":
        raise TypeError(f"[{op}] target must hold integer class indices, got {target.dtype}")
    if input.ndim < 2 or tuple(target.shape) != (input.shape[0], *input.shape[2:]):
        raise ValueError(
            f"[{op}] input must be (N, C, *spatial) and target (N, *spatial), got shapes "
            f"{tuple(input.shape)} and {tuple(target.shape)}"
        )


def dice_loss(
    input: Tensor, target: Tensor, smooth: float = 1.0, include_background: bool = True
) -> Tensor:
    """Soft multi-class Dice loss ``1 - mean_c dice_c`` from logits (N, C, *spatial) and labels
    (N, *spatial) in [0, C); sums over the batch and the pixels (one Dice per class).

    ``include_background=False`` leaves class 0 out of the mean (it still takes part in the
    softmax). ``smooth`` is added to numerator and denominator.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.ext.losses import dice_loss
        >>> logits = fd.zeros(1, 2, 1, 4)  # p = 1/2 everywhere
        >>> target = fd.tensor([[[0, 1, 1, 1]]])
        >>> round(dice_loss(logits, target, smooth=0.0).item(), 4)  # 1 - (1/3 + 3/5) / 2
        0.5333
    """
    op = "dice_loss"
    _check_pair(op, input, target)
    if smooth < 0:
        raise ValueError(f"[{op}] smooth must be >= 0, got {smooth}")
    num_classes = input.shape[1]
    if not include_background and num_classes < 2:
        raise ValueError(f"[{op}] include_background=False needs at least 2 classes")
    labels = target.array  # checked where it lives: two numbers come back, not the labels
    low, high = (int(labels.min()), int(labels.max())) if labels.size else (0, 0)
    if labels.size and (low < 0 or high >= num_classes):
        raise ValueError(
            f"[{op}] target must be class indices in [0, {num_classes}), got values in "
            f"[{low}, {high}]"
        )
    p = F.softmax(input, dim=1)
    # one-hot (N, *spatial, C) -> (N, C, *spatial), in the logits' dtype
    order = (0, target.ndim, *range(1, target.ndim))
    t = F.one_hot(target, num_classes).permute(*order).to(input.dtype)
    dims = (0, *range(2, input.ndim))
    intersection = (p * t).sum(dim=dims)
    cardinality = p.sum(dim=dims) + t.sum(dim=dims)
    dice = (2 * intersection + smooth) / (cardinality + smooth)
    if not include_background:
        dice = dice[1:]
    return 1 - dice.mean()


class DiceLoss(nn.Module):
    """:func:`dice_loss` as a module: ``DiceLoss(smooth, include_background)(logits, target)``.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.ext.losses import DiceLoss
        >>> loss = DiceLoss(smooth=0.0)(fd.zeros(1, 2, 1, 4), fd.tensor([[[0, 1, 1, 1]]]))
        >>> round(loss.item(), 4)
        0.5333
    """

    def __init__(self, smooth: float = 1.0, include_background: bool = True) -> None:
        super().__init__()
        self.smooth = smooth
        self.include_background = include_background

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return dice_loss(input, target, self.smooth, self.include_background)

    def extra_repr(self) -> str:
        return f"smooth={self.smooth}, include_background={self.include_background}"


def dice_score(
    input: Tensor, target: Tensor, num_classes: int | None = None, include_background: bool = True
) -> Tensor:
    """Hard Dice per class, float32 (C,) (or (C - 1,) without the background): predicted labels
    P (the argmax over dim 1 of logits (N, C, *spatial), or labels (N, *spatial) with
    `num_classes`) against the truth T (N, *spatial), over the whole batch:
    ``2 |P ∩ T| / (|P| + |T|)``, 1 for a class absent from both.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.ext.losses import dice_score
        >>> pred = fd.tensor([[0, 1, 1, 2]])
        >>> truth = fd.tensor([[0, 1, 2, 2]])
        >>> [round(v, 4) for v in dice_score(pred, truth, num_classes=3).tolist()]
        [1.0, 0.6667, 0.6667]
    """
    op = "dice_score"
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"[{op}] input and target must be Tensors")
    if input.is_floating_point():
        _check_pair(op, input, target)
        if num_classes is not None and num_classes != input.shape[1]:
            raise ValueError(
                f"[{op}] num_classes={num_classes} but the logits have {input.shape[1]} classes"
            )
        num_classes = input.shape[1]
        pred = _to_numpy(input.argmax(dim=1))
    else:
        if num_classes is None:
            raise ValueError(f"[{op}] num_classes is needed when input holds labels")
        if tuple(input.shape) != tuple(target.shape):
            raise ValueError(
                f"[{op}] labels of shape {tuple(input.shape)} against a target of shape "
                f"{tuple(target.shape)}"
            )
        pred = _to_numpy(input)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"[{op}] num_classes must be a positive int, got {num_classes!r}")
    truth = _to_numpy(target)
    for name, labels in (("input", pred), ("target", truth)):
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"[{op}] {name} labels must be in [0, {num_classes})")
    # confusion counts: row = predicted class, column = true class
    pairs = pred.reshape(-1).astype(np.int64) * num_classes + truth.reshape(-1)
    counts = np.bincount(pairs, minlength=num_classes * num_classes)
    confusion = counts.reshape(num_classes, num_classes)
    both = confusion.sum(axis=1) + confusion.sum(axis=0)  # |P| + |T| per class
    inter2 = 2 * np.diag(confusion)
    dice = np.where(both > 0, inter2 / np.maximum(both, 1), 1.0).astype(np.float32)
    # counted on the host (a metric, np.bincount); the result goes to the input's device
    return tensor(dice if include_background else dice[1:], device=input.device)


def weighted_cross_entropy(input: Tensor, target: Tensor, pixel_weight: Tensor) -> Tensor:
    """``mean_x pixel_weight(x) · CE(x)``: the cross-entropy of logits (N, C, *spatial) against
    labels (N, *spatial), weighted per pixel by `pixel_weight` (N, *spatial), e.g. the map of
    :func:`unet_weight_map`. With all weights 1 it is ``F.cross_entropy``.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.ext.losses import weighted_cross_entropy
        >>> logits, target = fd.zeros(1, 2, 1, 2), fd.tensor([[[0, 1]]])
        >>> round(weighted_cross_entropy(logits, target, fd.tensor([[[1.0, 3.0]]])).item(), 4)
        1.3863
    """
    op = "weighted_cross_entropy"
    _check_pair(op, input, target)
    if not isinstance(pixel_weight, Tensor) or tuple(pixel_weight.shape) != tuple(target.shape):
        raise ValueError(
            f"[{op}] pixel_weight must be a Tensor of the target's shape {tuple(target.shape)}"
        )
    per_pixel = F.cross_entropy(input, target, reduction="none")
    return (per_pixel * pixel_weight.to(input.dtype)).mean()


def _components(mask: np.ndarray) -> np.ndarray:
    """Connected components of (N, H, W) labels: 4-connected regions of one non-zero class.

    Returns int64 (N, H, W): -1 on the background, else the flat index of the component's
    smallest pixel (a root). Hook-and-jump (Shiloach-Vishkin): every pixel points to a pixel of
    its component with a smaller index; the roots of the two ends of a connecting edge are
    linked, larger to smaller, then pointers jump to their roots, until no edge joins two roots.
    """
    flat = mask.reshape(-1)
    index = np.arange(flat.size).reshape(mask.shape)
    edges = []
    for axis in (1, 2):  # vertical and horizontal neighbours
        a = np.take(index, range(mask.shape[axis] - 1), axis=axis).reshape(-1)
        b = np.take(index, range(1, mask.shape[axis]), axis=axis).reshape(-1)
        keep = (flat[a] != 0) & (flat[a] == flat[b])
        edges.append((a[keep], b[keep]))
    a = np.concatenate([e[0] for e in edges])
    b = np.concatenate([e[1] for e in edges])
    parent = index.reshape(-1).copy()
    while True:
        while True:  # pointer jumping to the roots
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
        ra, rb = parent[a], parent[b]
        differ = ra != rb
        if not differ.any():
            break
        np.minimum.at(parent, np.maximum(ra, rb)[differ], np.minimum(ra, rb)[differ])
    return np.where(flat != 0, parent, -1).reshape(mask.shape)


_CHUNK = 1 << 22  # float32 elements of one block of squared distances (16 MiB)


def _two_nearest(components: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d1, d2 (H, W): the Euclidean distances from every pixel centre to the nearest pixel of
    the nearest and of the second-nearest component (0 inside a component; inf where there are
    fewer components).

    Brute force over the components' B boundary pixels (those with a 4-neighbour outside the
    component): the nearest pixel of a component, seen from outside it, is always one of them
    (from an inner pixel, the step towards x along its larger offset is closer and inside).
    Squared distances (rows, W, B) in float32, a block of rows at a time, reduced per component.
    """
    h, w = components.shape
    padded = np.pad(components, 1, mode="edge")  # the image's edge is no boundary
    inner = (
        (padded[:-2, 1:-1] == components)
        & (padded[2:, 1:-1] == components)
        & (padded[1:-1, :-2] == components)
        & (padded[1:-1, 2:] == components)
    )
    by, bx = np.nonzero((components >= 0) & ~inner)
    roots = components[by, bx]
    order = np.argsort(roots, kind="stable")
    by, bx, roots = by[order], bx[order], roots[order]
    starts = np.flatnonzero(np.r_[True, roots[1:] != roots[:-1]]) if roots.size else roots
    far = np.full((h, w), np.inf, dtype=np.float32)
    if len(starts) == 0:
        return far, far
    sy = (np.arange(h, dtype=np.float32)[:, None] - by.astype(np.float32)) ** 2  # (H, B)
    sx = (np.arange(w, dtype=np.float32)[:, None] - bx.astype(np.float32)) ** 2  # (W, B)
    nearest = np.empty((h, w, len(starts)), dtype=np.float32)
    rows = max(1, _CHUNK // (w * len(by)))  # bounds the (rows, W, B) temporary
    for r in range(0, h, rows):
        block = sy[r : r + rows, None, :] + sx[None, :, :]
        nearest[r : r + rows] = np.minimum.reduceat(block, starts, axis=2)
    d = np.where(components[..., None] == roots[starts], 0.0, np.sqrt(nearest))
    if d.shape[2] == 1:
        return d[..., 0], far
    d = np.partition(d, 1, axis=2)
    return d[..., 0], d[..., 1]


def unet_weight_map(
    mask: Any,
    w0: float = 10.0,
    sigma: float = 5.0,
    class_weights: Sequence[float] | str | None = None,
) -> Tensor:
    """The U-Net paper's per-pixel loss weights for label masks (H, W) or (N, H, W):

        w(x) = w_c(x) + w0 · exp(-(d1(x) + d2(x))² / (2 σ²))   on background pixels (label 0),
        w(x) = w_c(x)                                          on object pixels,

    where d1, d2 are the Euclidean distances (pixels, centre to centre) from x to the nearest and
    the second-nearest object. An object is a connected component (4-neighbours) of one non-zero
    class; the second term is 0 for an image with fewer than two objects. The paper puts the
    separation term where the background runs between touching cells, as here. ``w0 = 10``,
    ``σ = 5`` pixels are the paper's values (for 512×512 images; scale σ with the objects).

    `class_weights` sets w_c: None gives 1 everywhere; a sequence gives ``class_weights[label]``;
    ``"balanced"`` gives ``n_pixels / (n_classes_present · count_label)`` over all the masks
    passed (scikit-learn's convention; the paper balances the class frequencies).

    Returns a float32 Tensor of the mask's shape. Brute-force distances in NumPy (no SciPy):
    about H·W·(object boundary pixels) operations per image, fine for small images.

    Example:
        >>> from pyfastdl.ext.losses import unet_weight_map
        >>> w = unet_weight_map([[1, 0, 0, 0, 2]], w0=10.0, sigma=2.0)  # d1 + d2 = 4 between
        >>> [round(v, 3) for v in w[0].tolist()]
        [1.0, 2.353, 2.353, 2.353, 1.0]
    """
    op = "unet_weight_map"
    labels = _to_numpy(mask)
    if labels.dtype.kind not in "iub":
        raise TypeError(f"[{op}] mask must hold integer class labels, got {labels.dtype}")
    if labels.ndim not in (2, 3):
        raise ValueError(f"[{op}] mask must be (H, W) or (N, H, W), got shape {labels.shape}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"[{op}] mask labels must be >= 0, got {labels.min()}")
    if sigma <= 0 or w0 < 0:
        raise ValueError(f"[{op}] need sigma > 0 and w0 >= 0, got sigma={sigma}, w0={w0}")
    labels = labels.astype(np.int64)
    batch = labels.reshape((-1, *labels.shape[-2:]))
    if class_weights is None:
        weights = np.ones(batch.shape)
    else:
        if isinstance(class_weights, str):
            if class_weights != "balanced":
                raise ValueError(
                    f"[{op}] class_weights must be None, a sequence or 'balanced', got "
                    f"{class_weights!r}"
                )
            counts = np.bincount(batch.reshape(-1))
            table = np.zeros(len(counts))
            present = counts > 0
            table[present] = batch.size / (present.sum() * counts[present])
        else:
            table = np.asarray(class_weights, dtype=np.float64)
            if table.ndim != 1 or (batch.size and batch.max() >= len(table)):
                raise ValueError(
                    f"[{op}] class_weights needs one weight per class (labels up to "
                    f"{batch.max() if batch.size else 0}), got shape {table.shape}"
                )
        weights = table[batch]
    if w0 > 0:
        components = _components(batch)
        for i in range(len(batch)):
            d1, d2 = _two_nearest(components[i])
            border = w0 * np.exp(-((d1 + d2) ** 2) / (2 * sigma**2))  # exp(-inf) = 0
            weights[i] += np.where(batch[i] == 0, border, 0.0)
    device = mask.device if isinstance(mask, Tensor) else None  # computed on the host
    return tensor(weights.reshape(labels.shape).astype(np.float32), device=device)

"""Test cases and the autograd probe of fused scaled-dot-product attention (forward, backward).

Each case is one (B, H, L, S, D, Dv) problem with one kind of mask: none, causal, bool, additive
float, a (B, 1, 1, S) key-padding mask broadcast to (B, H, L, S) with stride 0, rows with every
key masked, and dropout; shapes include size 1, odd sizes, S != L, Dv != D and non-contiguous
(transposed, sliced) q/k/v. Backward cases get out and lse from the reference forward; fully
masked rows must give lse = -inf on both sides.
"""

from __future__ import annotations

import numpy as np

from ..reference import attention_forward
from .base import case, f32

# (name, B, H, L, S, D, Dv, mask kind, is_causal, dropout_p, layout)
CASES = (
    ("plain 2x3x17x17 D8", 2, 3, 17, 17, 8, 8, "none", False, 0.0, "contiguous"),
    ("causal 1x2x70x70 D64", 1, 2, 70, 70, 64, 64, "none", True, 0.0, "contiguous"),
    ("causal L != S 2x1x33x65 D16", 2, 1, 33, 65, 16, 16, "none", True, 0.0, "contiguous"),
    ("bool mask 2x2x31x47 D13", 2, 2, 31, 47, 13, 13, "bool", False, 0.0, "contiguous"),
    ("additive mask 1x3x15x129 D32", 1, 3, 15, 129, 32, 32, "float", False, 0.0, "contiguous"),
    ("key padding 3x2x20x33 D16", 3, 2, 20, 33, 16, 16, "key_padding", False, 0.0, "contiguous"),
    ("S != L 1x1x1x200 D64", 1, 1, 1, 200, 64, 64, "none", False, 0.0, "contiguous"),
    ("Dv != D 2x2x19x23 D24 Dv40", 2, 2, 19, 23, 24, 40, "none", False, 0.0, "contiguous"),
    ("size 1 dims 1x1x1x1 D1", 1, 1, 1, 1, 1, 1, "none", False, 0.0, "contiguous"),
    ("fully masked rows 2x2x9x12 D8", 2, 2, 9, 12, 8, 8, "empty_rows", True, 0.0, "contiguous"),
    ("dropout 0.3 2x2x40x50 D16", 2, 2, 40, 50, 16, 16, "bool", True, 0.3, "contiguous"),
    ("transposed q/k/v 2x3x17x21 D8", 2, 3, 17, 21, 8, 8, "float", True, 0.0, "transposed"),
    ("sliced q/k/v 1x2x65x67 D20", 1, 2, 65, 67, 20, 20, "none", False, 0.0, "sliced"),
    ("1x4x256x256 D64", 1, 4, 256, 256, 64, 64, "none", False, 0.0, "contiguous"),
)


def operand(rng: np.random.Generator, shape: tuple, layout: str) -> np.ndarray:
    """A float32 (B, H, N, E) array: contiguous, (B, N, H, E) transposed, or every other E."""
    b, h, n, e = shape
    if layout == "transposed":
        return f32(rng, b, n, h, e).transpose(0, 2, 1, 3)
    if layout == "sliced":
        return f32(rng, b, h, n, 2 * e)[..., ::2]
    return f32(rng, *shape)


def attention_mask(
    rng: np.random.Generator, kind: str, b: int, h: int, lq: int, s: int
) -> np.ndarray | None:
    """The (B, H, L, S) mask of a case kind (a stride-0 broadcast view where PyTorch's would be)."""
    shape = (b, h, lq, s)
    if kind == "bool":  # key 0 always allowed: no row is empty, even with is_causal
        m = rng.random(shape) > 0.3
        m[..., 0] = True
        return m
    if kind == "float":
        m = f32(rng, *shape)
        m[..., 1:][rng.random((b, h, lq, s - 1)) < 0.2] = -np.inf
        return m
    if kind == "key_padding":
        lengths = rng.integers(1, s + 1, b)
        keep = np.arange(s)[None, :] < lengths[:, None]
        return np.broadcast_to(keep[:, None, None, :], shape)
    if kind == "empty_rows":  # bool mask with every key of some rows masked
        m = rng.random(shape) > 0.3
        m[:, :, ::3, :] = False
        return m
    return None


def _problem(rng: np.random.Generator, spec: tuple) -> tuple:
    _, b, h, lq, s, d, dv, kind, causal, p, layout = spec
    q = operand(rng, (b, h, lq, d), layout)
    k = operand(rng, (b, h, s, d), layout)
    v = operand(rng, (b, h, s, dv), layout)
    mask = attention_mask(rng, kind, b, h, lq, s)
    params = {
        "scale": 1.0 / np.sqrt(d),
        "is_causal": causal,
        "dropout_p": p,
        "seed": int(rng.integers(0, 2**63 - 1)),
    }
    return q, k, v, mask, params


def _add(spec: tuple) -> None:
    name, b, h, lq, s, d, dv, kind = spec[:8]
    flops = 4.0 * b * h * lq * s * (d + dv) / 2

    def forward(rng: np.random.Generator) -> tuple[list, dict]:
        q, k, v, mask, params = _problem(rng, spec)
        out = np.empty((b, h, lq, dv), np.float32)
        lse = np.empty((b, h, lq), np.float32)
        return [q, k, v, mask, out, lse], params

    def backward(rng: np.random.Generator) -> tuple[list, dict]:

        q, k, v, mask, params = _problem(rng, spec)
        out = np.empty((b, h, lq, dv), np.float32)
        lse = np.empty((b, h, lq), np.float32)
        attention_forward(q, k, v, mask, out, lse, **params)
        grad_out = f32(rng, b, h, lq, dv)
        grads = [np.empty((b, h, lq, d), np.float32), np.empty((b, h, s, d), np.float32)]
        grads.append(np.empty((b, h, s, dv), np.float32))
        return [q, k, v, mask, out, lse, grad_out, *grads], params

    reduction = max(s, d, dv)
    case("attention_forward", name, outputs=(4, 5), reduction=reduction, flops=flops)(forward)
    case("attention_backward", name, outputs=(7, 8, 9), reduction=max(s, lq, d), flops=2.5 * flops)(
        backward
    )


for _spec in CASES:
    _add(_spec)

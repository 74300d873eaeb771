"""Test cases and autograd probes of the pooling family (max/avg/adaptive pooling, upsampling).

Max-pooling inputs have no ties (a permutation of distinct values), so that any correct kernel
picks the same element. Cases cover the course's 2x2 stride-2 pooling, odd sizes, padding,
dilation, ceil_mode, the avg divisor options, unit sizes and non-contiguous inputs.
"""

from __future__ import annotations

import numpy as np

from ...shapes import adaptive_windows, pool2d_geometry
from ..reference import max_pool2d_forward
from .base import case, f32


def distinct_values(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """float32 values without ties: a random permutation of a spread-out range."""
    n = int(np.prod(shape))
    return (rng.permutation(n).astype(np.float32) * 0.01 - n * 0.005).reshape(shape)


def _input(rng: np.random.Generator, shape: tuple, strided: bool, distinct: bool) -> np.ndarray:
    n, c, h, w = shape
    if strided:  # every other column of a wider array, channels last in memory
        big = distinct_values(rng, (n, h, 2 * w, c)) if distinct else f32(rng, n, h, 2 * w, c)
        return big.transpose(0, 3, 1, 2)[:, :, :, ::2]
    return distinct_values(rng, shape) if distinct else f32(rng, *shape)


# (name, shape, kernel, stride, padding, dilation, ceil_mode, strided)
_POOL = (
    ("2x2 s2 64x8x32x32", (64, 8, 32, 32), 2, None, 0, 1, False, False),
    ("2x2 s2 odd 3x5x17x15", (3, 5, 17, 15), 2, 2, 0, 1, False, False),
    ("2x2 s2 ceil odd 2x3x17x15", (2, 3, 17, 15), 2, 2, 0, 1, True, False),
    ("2x2 s2 pad 1", (2, 3, 9, 11), 2, 2, 1, 1, False, False),
    ("3x3 s2 p1 ceil", (2, 4, 13, 10), 3, 2, 1, 1, True, False),
    ("3x2 s(1,2) p(1,0)", (1, 2, 7, 9), (3, 2), (1, 2), (1, 0), 1, False, False),
    ("1x1", (1, 1, 1, 1), 1, 1, 0, 1, False, False),
    ("2x2 s2 non-contiguous", (2, 3, 10, 12), 2, 2, 0, 1, False, True),
    ("3x3 s1 non-contiguous", (2, 3, 7, 6), 3, 1, 1, 1, False, True),
)
_DILATED = (("3x3 s1 dilation 2", (2, 3, 11, 9), 3, 1, 1, 2, False, False),)


def _pool_case(op: str, spec: tuple, **avg: object) -> None:
    name, shape, k, s, p, d, ceil, strided = spec
    is_max = op.startswith("max")
    kind = "max_pool2d" if is_max else "avg_pool2d"
    _, _, _, _, (oh, ow) = pool2d_geometry(kind, shape, k, s, p, d, ceil)
    out_shape = shape[:2] + (oh, ow)
    suffix = "".join(f", {key}={value}" for key, value in avg.items())
    params = dict(kernel_size=k, stride=s, padding=p)
    if is_max:
        params.update(dilation=d, ceil_mode=ceil)
    else:
        params.update(ceil_mode=ceil, **avg)

    def make(rng: np.random.Generator) -> tuple[list, dict]:
        x = _input(rng, shape, strided, distinct=is_max)
        if op == "max_pool2d_forward":
            out = np.empty(out_shape, np.float32)
            return [x, out, np.empty(out_shape, np.int64)], params
        if op == "avg_pool2d_forward":
            return [x, np.empty(out_shape, np.float32)], params
        gy = f32(rng, *out_shape)
        if op == "max_pool2d_backward":
            idx = np.empty(out_shape, np.int64)
            max_pool2d_forward(x, np.empty(out_shape, np.float32), idx, **params)
            return [gy, idx, np.empty(shape, np.float32)], {}
        return [gy, np.empty(shape, np.float32)], params

    outputs = {"max_pool2d_forward": (1, 2), "avg_pool2d_forward": (1,)}.get(
        op, (2,) if is_max else (1,)
    )
    kernel = k if isinstance(k, tuple) else (k, k)
    reduction = kernel[0] * kernel[1]
    case(op, name + suffix, outputs=outputs, reduction=reduction)(make)


for _spec in _POOL + _DILATED:
    _pool_case("max_pool2d_forward", _spec)
    _pool_case("max_pool2d_backward", _spec)
for _spec in _POOL:
    _pool_case("avg_pool2d_forward", _spec)
    _pool_case("avg_pool2d_backward", _spec)
for _avg in ({"count_include_pad": False}, {"divisor_override": 3}):
    _pool_case("avg_pool2d_forward", _POOL[4], **_avg)
    _pool_case("avg_pool2d_backward", _POOL[4], **_avg)


# (name, input shape, output (OH, OW), strided)
_ADAPTIVE = (
    ("7x9 -> 3x4", (2, 3, 7, 9), (3, 4), False),
    ("global 8x8 -> 1x1", (4, 16, 8, 8), (1, 1), False),
    ("5x5 -> 7x6 (upsampling)", (1, 2, 5, 5), (7, 6), False),
    ("1x1 -> 1x1", (1, 1, 1, 1), (1, 1), False),
    ("non-contiguous 10x12 -> 3x5", (2, 3, 10, 12), (3, 5), True),
)


def _adaptive_case(op: str, spec: tuple) -> None:
    name, shape, out_hw, strided = spec
    out_shape = shape[:2] + out_hw
    is_max = op.startswith("adaptive_max")
    backward = op.endswith("backward")

    def make(rng: np.random.Generator) -> tuple[list, dict]:
        x = _input(rng, shape, strided, distinct=is_max)
        if is_max:
            return [x, np.empty(out_shape, np.float32), np.empty(out_shape, np.int64)], {}
        if backward:
            return [f32(rng, *out_shape), np.empty(shape, np.float32)], {}
        return [x, np.empty(out_shape, np.float32)], {}

    hs, he = adaptive_windows(shape[2], out_hw[0])
    ws, we = adaptive_windows(shape[3], out_hw[1])
    reduction = int((he - hs).max() * (we - ws).max())
    outputs = (1, 2) if is_max else (1,)
    case(op, name, outputs=outputs, reduction=reduction)(make)


for _spec in _ADAPTIVE:
    for _op in ("adaptive_avg_pool2d_forward", "adaptive_avg_pool2d_backward"):
        _adaptive_case(_op, _spec)
    _adaptive_case("adaptive_max_pool2d_forward", _spec)


def _upsample_case(op: str, name: str, shape: tuple, out_hw: tuple, params: dict) -> None:
    backward = op.endswith("backward")
    out_shape = shape[:2] + out_hw

    def make(rng: np.random.Generator) -> tuple[list, dict]:
        if backward:
            return [f32(rng, *out_shape), np.empty(shape, np.float32)], params
        return [f32(rng, *shape), np.empty(out_shape, np.float32)], params

    case(op, name, outputs=(1,), reduction=16)(make)


for _bw in ("forward", "backward"):
    _upsample_case(f"upsample_nearest2d_{_bw}", "x2 8x8", (2, 3, 8, 8), (16, 16), {})
    _upsample_case(
        f"upsample_nearest2d_{_bw}", "exact 7x5 -> 3x11", (1, 2, 7, 5), (3, 11), {"exact": True}
    )
    _upsample_case(
        f"upsample_bilinear2d_{_bw}", "x2 8x8", (2, 3, 8, 8), (16, 16), {"align_corners": False}
    )
    _upsample_case(
        f"upsample_bilinear2d_{_bw}",
        "align_corners 5x7 -> 9x4",
        (1, 2, 5, 7),
        (9, 4),
        {"align_corners": True},
    )

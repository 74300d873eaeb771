"""Reference pooling and interpolation kernels on NCHW arrays: the readable specification.

Every kernel takes 4-d (N, C, H, W) arrays; outputs are allocated by the caller with the shape
``pyfastdl.shapes`` gives. Window rules are PyTorch's:

* max / avg pooling: window ``oh`` covers input rows ``oh*s - p + i*d`` for ``i < k``; the output
  size is ``floor((H + 2p - d(k-1) - 1) / s) + 1`` (ceil with ``ceil_mode``, where the last window
  must start inside the input or its left padding). Max pooling skips padding (as if -inf); its
  index is the flat ``h * W + w`` of the first maximum in row-major window order (a NaN wins, the
  last NaN). Avg pooling divides by ``divisor_override``, else by the window size clipped to the
  padded input (``count_include_pad``) or to the input.
* adaptive pooling: window ``oh`` covers rows ``floor(oh*H/OH)`` to ``ceil((oh+1)*H/OH)``.
* upsampling: nearest takes source ``min(floor(dst * scale), in - 1)`` (``nearest-exact``:
  ``floor((dst + 0.5) * scale)``), bilinear interpolates at ``scale * (dst + 0.5) - 0.5``
  (clamped at 0) or at ``dst * (in - 1) / (out - 1)`` with ``align_corners``; ``scale`` is
  ``1 / scale_factor`` when one is given, else ``in / out``.

Pixel shuffle is a reshape and a transpose, done in ``nn.functional`` (no kernel).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...arrays import xp as xp_of
from ...shapes import adaptive_windows, pool2d_geometry

__all__ = [
    "adaptive_avg_pool2d_backward",
    "adaptive_avg_pool2d_forward",
    "adaptive_max_pool2d_forward",
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "upsample_bilinear2d_backward",
    "upsample_bilinear2d_forward",
    "upsample_nearest2d_backward",
    "upsample_nearest2d_forward",
]


def _padded(x: Any, value: float, p: tuple, k: tuple, s: tuple, d: tuple, out: tuple) -> Any:
    """x padded with `value`: p rows/cols on the top/left, enough on the bottom/right for every
    window (ceil_mode windows may reach past the padding)."""
    xp = xp_of(x)
    n, c, h, w = x.shape
    hp = max(h + p[0], (out[0] - 1) * s[0] + (k[0] - 1) * d[0] + 1)
    wp = max(w + p[1], (out[1] - 1) * s[1] + (k[1] - 1) * d[1] + 1)
    a = xp.full((n, c, hp, wp), value, x.dtype)
    a[:, :, p[0] : p[0] + h, p[1] : p[1] + w] = x
    return a


def _window(a: Any, i: int, j: int, s: tuple, d: tuple, out: tuple) -> Any:
    """The strided view of padded `a` holding element (i, j) of every window."""
    r, c = i * d[0], j * d[1]
    return a[:, :, r : r + s[0] * (out[0] - 1) + 1 : s[0], c : c + s[1] * (out[1] - 1) + 1 : s[1]]


def _starts(out: int, s: int, p: int) -> np.ndarray:
    return np.arange(out, dtype=np.int64) * s - p


# ------------------------------------------------------------------------------ max pooling
def max_pool2d_forward(
    x: Any,
    out: Any,
    indices: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any = 1,
    ceil_mode: bool = False,
) -> None:
    """out = the max over each window; indices (int64, or None) = its flat h * W + w per plane."""
    xp = xp_of(x)
    k, s, p, d, o = pool2d_geometry(
        "max_pool2d", x.shape, kernel_size, stride, padding, dilation, ceil_mode
    )
    w_in = x.shape[3]
    a = _padded(x, -np.inf, p, k, s, d, o)
    best = xp.full(out.shape, -np.inf, x.dtype)
    # Before any element is taken the index is the window's first element inside the input.
    h0, w0 = _starts(o[0], s[0], p[0]), _starts(o[1], s[1], p[1])
    h0 = np.where(h0 < 0, h0 + (-h0 + d[0] - 1) // d[0] * d[0], h0)
    w0 = np.where(w0 < 0, w0 + (-w0 + d[1] - 1) // d[1] * d[1], w0)
    idx = xp.broadcast_to(xp.asarray(h0[:, None] * w_in + w0[None, :]), out.shape)
    for i in range(k[0]):
        rows = _starts(o[0], s[0], p[0]) + i * d[0]
        for j in range(k[1]):
            cols = _starts(o[1], s[1], p[1]) + j * d[1]
            v = _window(a, i, j, s, d, o)
            take = (v > best) | xp.isnan(v)  # padding (-inf) is never taken
            best = xp.where(take, v, best)
            idx = xp.where(take, xp.asarray(rows[:, None] * w_in + cols[None, :]), idx)
    out[...] = best
    if indices is not None:
        indices[...] = idx


def max_pool2d_backward(grad_out: Any, indices: Any, grad_x: Any) -> None:
    """grad_x[plane, indices[plane, o]] += grad_out[plane, o] (every other element 0).

    Also the backward of adaptive_max_pool2d. Indices outside the plane add nothing.
    """
    xp = xp_of(grad_out)
    n, c, h, w = grad_x.shape
    planes, area = n * c, h * w
    idx = indices.reshape(planes, -1)
    valid = (idx >= 0) & (idx < area)
    flat = (xp.arange(planes, dtype=np.int64)[:, None] * area + idx)[valid]
    g = grad_out.reshape(planes, -1)[valid]
    total = xp.bincount(flat, weights=g, minlength=planes * area) if planes * area else g
    grad_x[...] = total.reshape(n, c, h, w).astype(grad_x.dtype)


# ------------------------------------------------------------------------------ avg pooling
def _avg_divisors(
    shape: tuple, k: tuple, s: tuple, p: tuple, o: tuple, count_include_pad: bool, override: Any
) -> np.ndarray:
    """(OH, OW) divisor of every window (PyTorch's avg_pool2d rule)."""
    sizes = []
    for dim in range(2):
        size = shape[2 + dim]
        start = _starts(o[dim], s[dim], p[dim])
        end = np.minimum(start + k[dim], size + p[dim])
        with_pad = end - start
        inside = np.minimum(end, size) - np.maximum(start, 0)
        sizes.append(with_pad if count_include_pad else inside)
    if override:
        return np.full(o, float(override))
    return (sizes[0][:, None] * sizes[1][None, :]).astype(np.float64)


def _check_divisor(divisor_override: Any) -> None:
    if divisor_override is not None and divisor_override == 0:
        raise ValueError("[avg_pool2d] divisor_override must be non-zero, got 0")


def avg_pool2d_forward(
    x: Any,
    out: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Any = None,
) -> None:
    """out = sum over each window / divisor (see the module docstring)."""
    xp = xp_of(x)
    _check_divisor(divisor_override)
    k, s, p, d, o = pool2d_geometry(
        "avg_pool2d", x.shape, kernel_size, stride, padding, 1, ceil_mode
    )
    a = _padded(x, 0.0, p, k, s, d, o)
    total = xp.zeros(out.shape, x.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            total += _window(a, i, j, s, d, o)
    div = _avg_divisors(x.shape, k, s, p, o, count_include_pad, divisor_override)
    out[...] = total / xp.asarray(div.astype(x.dtype))


def avg_pool2d_backward(
    grad_out: Any,
    grad_x: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Any = None,
) -> None:
    """grad_x = the sum, over the windows holding each element, of grad_out / divisor."""
    xp = xp_of(grad_out)
    _check_divisor(divisor_override)
    shape = grad_x.shape
    k, s, p, d, o = pool2d_geometry("avg_pool2d", shape, kernel_size, stride, padding, 1, ceil_mode)
    div = _avg_divisors(shape, k, s, p, o, count_include_pad, divisor_override)
    g = grad_out / xp.asarray(div.astype(grad_out.dtype))
    a = _padded(xp.zeros(shape, grad_x.dtype), 0.0, p, k, s, d, o)
    for i in range(k[0]):
        for j in range(k[1]):
            _window(a, i, j, s, d, o)[...] += g  # one window element per output: no collisions
    grad_x[...] = a[:, :, p[0] : p[0] + shape[2], p[1] : p[1] + shape[3]]


# ------------------------------------------------------------------------------ adaptive
def _separable(x: Any, rows: np.ndarray, cols: np.ndarray) -> Any:
    """rows @ x @ cols.T over the last two dims (a map applied along H, then along W)."""
    xp = xp_of(x)
    return xp.matmul(xp.matmul(xp.asarray(rows), x), xp.asarray(cols).T)


# Window by window rather than as a product with an averaging matrix (as _separable does): its
# zeros would carry a NaN or an infinity (0 * inf = NaN) into every output of the plane, not
# only into its own windows'.
def adaptive_avg_pool2d_forward(x: Any, out: Any) -> None:
    """out[oh, ow] = the mean of x over the adaptive window (oh, ow); (OH, OW) = out's shape."""
    (oh, ow), (h, w) = out.shape[2:], x.shape[2:]
    hs, he = adaptive_windows(h, oh)
    ws, we = adaptive_windows(w, ow)
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = x[:, :, hs[i] : he[i], ws[j] : we[j]].mean(axis=(2, 3))


def adaptive_avg_pool2d_backward(grad_out: Any, grad_x: Any) -> None:
    """grad_x = the sum over the windows holding each element of grad_out / window size."""
    (oh, ow), (h, w) = grad_out.shape[2:], grad_x.shape[2:]
    hs, he = adaptive_windows(h, oh)
    ws, we = adaptive_windows(w, ow)
    grad_x[...] = 0
    for i in range(oh):
        for j in range(ow):
            size = (he[i] - hs[i]) * (we[j] - ws[j])
            g = grad_out[:, :, i, j, None, None] / grad_out.dtype.type(size)
            grad_x[:, :, hs[i] : he[i], ws[j] : we[j]] += g


def adaptive_max_pool2d_forward(x: Any, out: Any, indices: Any) -> None:
    """out = the max over each adaptive window, indices its flat h * W + w (ties: the first max;
    a NaN wins, the last NaN). The backward is max_pool2d_backward."""
    xp = xp_of(x)
    n, c, h, w = x.shape
    (oh, ow) = out.shape[2:]
    hs, he = adaptive_windows(h, oh)
    ws, we = adaptive_windows(w, ow)
    for i in range(oh):
        for j in range(ow):
            win = x[:, :, hs[i] : he[i], ws[j] : we[j]]
            kh, kw = win.shape[2:]
            flat = win.reshape(n, c, kh * kw)
            nan = xp.isnan(flat)
            last_nan = kh * kw - 1 - xp.argmax(nan[..., ::-1], axis=-1)
            first_max = xp.argmax(xp.where(nan, -np.inf, flat), axis=-1)
            k = xp.where(nan.any(axis=-1), last_nan, first_max)
            out[:, :, i, j] = xp.take_along_axis(flat, k[..., None], axis=-1)[..., 0]
            if indices is not None:
                indices[:, :, i, j] = (int(hs[i]) + k // kw) * w + int(ws[j]) + k % kw


# ------------------------------------------------------------------------------ upsampling
def _scale(size: int, out: int, scale_factor: Any) -> float:
    """Source step per output element: 1 / scale_factor when given, else size / out (float32)."""
    if scale_factor is not None and scale_factor > 0:
        return float(np.float32(1.0 / scale_factor))
    return float(np.float32(size) / np.float32(out))


def nearest_indices(size: int, out: int, scale_factor: Any, exact: bool) -> np.ndarray:
    """Source index of every output element ('nearest' or 'nearest-exact'), float32 math."""
    dst = np.arange(out)
    # PyTorch's integer shortcuts of 'nearest', taken whatever the scale factor says.
    if out == size and not exact:
        return dst
    if out == 2 * size and not exact:
        return dst >> 1
    scale = np.float32(_scale(size, out, scale_factor))
    if exact:
        src = np.floor((dst + 0.5) * np.float64(scale))
    else:
        src = np.floor(dst.astype(np.float32) * scale)
    return np.minimum(src.astype(np.int64), size - 1)


def _nearest_matrix(size: int, out: int, scale_factor: Any, exact: bool, dtype: Any) -> np.ndarray:
    m = np.zeros((out, size), dtype)
    m[np.arange(out), nearest_indices(size, out, scale_factor, exact)] = 1
    return m


def linear_weights(
    size: int, out: int, align_corners: bool, scale_factor: Any, dtype: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(i0, i1, l0, l1): output o = l0[o] * x[i0[o]] + l1[o] * x[i1[o]] (PyTorch's rules)."""
    t = np.dtype(dtype).type
    dst = np.arange(out).astype(dtype)
    if out == size:  # PyTorch copies a dim whose size does not change, whatever the scale
        i = np.arange(out)
        return i, i, np.ones(out, dtype), np.zeros(out, dtype)
    if align_corners:
        scale = t(size - 1) / t(out - 1) if out > 1 else t(0)
        src = dst * scale
    else:
        scale = t(1.0 / scale_factor) if scale_factor else t(size) / t(out)
        src = np.maximum(scale * (dst + t(0.5)) - t(0.5), t(0))
    i0 = src.astype(np.int64)
    i1 = np.minimum(i0 + 1, size - 1)
    l1 = np.clip(src - i0.astype(dtype), 0, 1).astype(dtype)
    return i0, i1, (t(1) - l1).astype(dtype), l1


def _linear_matrix(
    size: int, out: int, align_corners: bool, scale_factor: Any, dtype: Any
) -> np.ndarray:
    i0, i1, l0, l1 = linear_weights(size, out, align_corners, scale_factor, dtype)
    m = np.zeros((out, size), dtype)
    np.add.at(m, (np.arange(out), i0), l0)
    np.add.at(m, (np.arange(out), i1), l1)
    return m


def upsample_nearest2d_forward(
    x: Any, out: Any, scale_h: Any = None, scale_w: Any = None, exact: bool = False
) -> None:
    """out[oh, ow] = x[src(oh), src(ow)] (see the module docstring); sizes are out's."""
    (oh, ow), (h, w) = out.shape[2:], x.shape[2:]
    xp = xp_of(x)
    rows = xp.asarray(nearest_indices(h, oh, scale_h, exact))
    cols = xp.asarray(nearest_indices(w, ow, scale_w, exact))
    out[...] = x[:, :, rows[:, None], cols[None, :]]


def upsample_nearest2d_backward(
    grad_out: Any, grad_x: Any, scale_h: Any = None, scale_w: Any = None, exact: bool = False
) -> None:
    """grad_x[h, w] = the sum of grad_out over the outputs that copied x[h, w]."""
    (oh, ow), (h, w) = grad_out.shape[2:], grad_x.shape[2:]
    dt = grad_out.dtype
    grad_x[...] = _separable(
        grad_out,
        _nearest_matrix(h, oh, scale_h, exact, dt).T,
        _nearest_matrix(w, ow, scale_w, exact, dt).T,
    )


def upsample_bilinear2d_forward(
    x: Any, out: Any, align_corners: bool = False, scale_h: Any = None, scale_w: Any = None
) -> None:
    """out = the bilinear interpolation of x at the source points (see the module docstring)."""
    xp = xp_of(x)
    (oh, ow), (h, w) = out.shape[2:], x.shape[2:]
    h0, h1, a0, a1 = (xp.asarray(v) for v in linear_weights(h, oh, align_corners, scale_h, x.dtype))
    w0, w1, b0, b1 = (xp.asarray(v) for v in linear_weights(w, ow, align_corners, scale_w, x.dtype))
    r0, r1 = x[:, :, h0, :], x[:, :, h1, :]
    top = b0 * r0[..., w0] + b1 * r0[..., w1]
    bottom = b0 * r1[..., w0] + b1 * r1[..., w1]
    out[...] = a0[:, None] * top + a1[:, None] * bottom


def upsample_bilinear2d_backward(
    grad_out: Any,
    grad_x: Any,
    align_corners: bool = False,
    scale_h: Any = None,
    scale_w: Any = None,
) -> None:
    """grad_x = Rh^T grad_out Rw, Rh and Rw the (out, in) interpolation matrices of each dim."""
    (oh, ow), (h, w) = grad_out.shape[2:], grad_x.shape[2:]
    dt = grad_out.dtype
    grad_x[...] = _separable(
        grad_out,
        _linear_matrix(h, oh, align_corners, scale_h, dt).T,
        _linear_matrix(w, ow, align_corners, scale_w, dt).T,
    )


KERNELS = {
    "max_pool2d_forward": max_pool2d_forward,
    "max_pool2d_backward": max_pool2d_backward,
    "avg_pool2d_forward": avg_pool2d_forward,
    "avg_pool2d_backward": avg_pool2d_backward,
    "adaptive_avg_pool2d_forward": adaptive_avg_pool2d_forward,
    "adaptive_avg_pool2d_backward": adaptive_avg_pool2d_backward,
    "adaptive_max_pool2d_forward": adaptive_max_pool2d_forward,
    "upsample_nearest2d_forward": upsample_nearest2d_forward,
    "upsample_nearest2d_backward": upsample_nearest2d_backward,
    "upsample_bilinear2d_forward": upsample_bilinear2d_forward,
    "upsample_bilinear2d_backward": upsample_bilinear2d_backward,
}

"""Pooling kernels: native (every CPU path) vs the NumPy reference on random configurations of
every option, awkward and non-contiguous shapes, forward and backward; the reference backwards
vs float64 finite differences; bad kernel arguments. The shared cases run through kernels.check in
test_contract.py."""

from __future__ import annotations

import numpy as np
import pytest

from pyfastdl import _C, kernels
from pyfastdl.kernels import reference as ref
from pyfastdl.shapes import pool2d_geometry

NATIVE = (
    "max_pool2d_forward",
    "max_pool2d_backward",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
    "adaptive_avg_pool2d_forward",
    "adaptive_avg_pool2d_backward",
    "adaptive_max_pool2d_forward",
)


def distinct(rng, shape):
    n = int(np.prod(shape))
    return (rng.permutation(n).astype(np.float32) * 0.01 - n * 0.005).reshape(shape)


def layout(a, kind):
    """`a` as a contiguous, channels-last, or column-strided (every other column) array."""
    if kind == "contiguous":
        return a
    if kind == "channels_last":
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    wide = np.zeros(a.shape[:3] + (2 * a.shape[3],), a.dtype)
    wide[..., ::2] = a
    return wide[..., ::2]


def random_config(rng, is_max):
    k = tuple(int(v) for v in rng.integers(1, 5, 2))
    s = tuple(int(v) for v in rng.integers(1, 4, 2))
    p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
    d = tuple(int(v) for v in rng.integers(1, 3, 2)) if is_max else (1, 1)
    return k, s, p, d, bool(rng.integers(2))


def shapes(rng):
    n, c = int(rng.integers(1, 4)), int(rng.integers(1, 5))
    h, w = (int(v) for v in rng.choice([1, 2, 3, 5, 8, 15, 17, 33], 2))
    return n, c, h, w


@pytest.mark.parametrize("kind", ["contiguous", "channels_last", "strided"])
@pytest.mark.parametrize("seed", range(12))
def test_max_pool2d_native_vs_reference(cpu_path, kind, seed):
    rng = np.random.default_rng(seed)
    for _ in range(8):
        shape = shapes(rng)
        k, s, p, d, ceil = random_config(rng, True)
        if seed % 3 == 0:
            k, s, d = (2, 2), (2, 2), (1, 1)  # the fast path, with its borders
        try:
            *_, out_hw = pool2d_geometry("max_pool2d", shape, k, s, p, d, ceil)
        except ValueError:
            continue
        x = layout(distinct(rng, shape), kind)
        if seed % 4 == 1:
            x = layout(np.round(rng.standard_normal(shape) * 2).astype(np.float32), kind)  # ties
        oshape = shape[:2] + out_hw
        out, idx = np.empty(oshape, np.float32), np.empty(oshape, np.int64)
        want, want_idx = np.empty(oshape, np.float32), np.empty(oshape, np.int64)
        _C.max_pool2d_forward(x, out, idx, k, s, p, d, ceil)
        ref.max_pool2d_forward(x, want, want_idx, k, s, p, d, ceil)
        np.testing.assert_array_equal(out, want)
        np.testing.assert_array_equal(idx, want_idx)
        no_idx = np.empty(oshape, np.float32)
        _C.max_pool2d_forward(x, no_idx, None, k, s, p, d, ceil)
        np.testing.assert_array_equal(no_idx, want)
        gy = layout(rng.standard_normal(oshape).astype(np.float32), kind)
        gx, gx_want = layout(np.empty(shape, np.float32), kind), np.empty(shape, np.float32)
        _C.max_pool2d_backward(gy, idx, gx)
        ref.max_pool2d_backward(gy, idx, gx_want)
        np.testing.assert_allclose(gx, gx_want, rtol=1e-6, atol=1e-6)


def test_max_pool2d_nan_and_inf_like_the_reference(cpu_path):
    x = np.full((1, 2, 6, 6), -np.inf, np.float32)
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 2, 3] = np.nan
    x[0, 0, 3, 2] = np.nan
    x[0, 1, ::2, ::2] = 1.0
    for k, s, p in ((2, 2, 0), (3, 2, 1), (2, 2, 1)):
        *_, hw = pool2d_geometry("max_pool2d", x.shape, k, s, p)
        got = [np.empty((1, 2) + hw, np.float32), np.empty((1, 2) + hw, np.int64)]
        want = [np.empty((1, 2) + hw, np.float32), np.empty((1, 2) + hw, np.int64)]
        _C.max_pool2d_forward(x, *got, k, s, p)
        ref.max_pool2d_forward(x, *want, k, s, p)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("kind", ["contiguous", "channels_last", "strided"])
@pytest.mark.parametrize("seed", range(12))
def test_avg_pool2d_native_vs_reference(cpu_path, kind, seed):
    rng = np.random.default_rng(100 + seed)
    for _ in range(8):
        shape = shapes(rng)
        k, s, p, _, ceil = random_config(rng, False)
        if seed % 3 == 0:
            k, s = (2, 2), (2, 2)
        cip = bool(rng.integers(2))
        div = [None, None, int(rng.integers(-3, 7)) or 1][seed % 3]
        try:
            *_, out_hw = pool2d_geometry("avg_pool2d", shape, k, s, p, 1, ceil)
        except ValueError:
            continue
        x = layout(rng.standard_normal(shape).astype(np.float32), kind)
        oshape = shape[:2] + out_hw
        args = (k, s, p, ceil, cip, div)
        out, want = np.empty(oshape, np.float32), np.empty(oshape, np.float32)
        _C.avg_pool2d_forward(x, out, *args)
        ref.avg_pool2d_forward(x, want, *args)
        np.testing.assert_allclose(out, want, rtol=2e-6, atol=2e-6)
        gy = layout(rng.standard_normal(oshape).astype(np.float32), kind)
        gx, gx_want = layout(np.empty(shape, np.float32), kind), np.empty(shape, np.float32)
        _C.avg_pool2d_backward(gy, gx, *args)
        ref.avg_pool2d_backward(gy, gx_want, *args)
        np.testing.assert_allclose(gx, gx_want, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("kind", ["contiguous", "channels_last", "strided"])
def test_adaptive_avg_pool2d_native_vs_reference(cpu_path, kind):
    rng = np.random.default_rng(7)
    for _ in range(20):
        shape = shapes(rng)
        out_hw = tuple(int(v) for v in rng.integers(1, 12, 2))
        x = layout(rng.standard_normal(shape).astype(np.float32), kind)
        oshape = shape[:2] + out_hw
        out, want = np.empty(oshape, np.float32), np.empty(oshape, np.float32)
        _C.adaptive_avg_pool2d_forward(x, out)
        ref.adaptive_avg_pool2d_forward(x, want)
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
        gy = layout(rng.standard_normal(oshape).astype(np.float32), kind)
        gx, gx_want = layout(np.empty(shape, np.float32), kind), np.empty(shape, np.float32)
        _C.adaptive_avg_pool2d_backward(gy, gx)
        ref.adaptive_avg_pool2d_backward(gy, gx_want)
        np.testing.assert_allclose(gx, gx_want, rtol=1e-5, atol=1e-5)
        # adaptive max, on distinct values and on values with ties and NaNs
        ties = np.round(rng.standard_normal(shape)).astype(np.float32)
        ties.reshape(-1)[::7] = np.nan
        for values in (distinct(rng, shape), ties):
            xm = layout(values, kind)
            got = [np.empty(oshape, np.float32), np.empty(oshape, np.int64)]
            want = [np.empty(oshape, np.float32), np.empty(oshape, np.int64)]
            _C.adaptive_max_pool2d_forward(xm, *got)
            ref.adaptive_max_pool2d_forward(xm, *want)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])


def test_empty_batch_and_planes(cpu_path):
    x = np.empty((0, 3, 4, 4), np.float32)
    out, idx = np.empty((0, 3, 2, 2), np.float32), np.empty((0, 3, 2, 2), np.int64)
    _C.max_pool2d_forward(x, out, idx, 2, 2, 0)
    _C.avg_pool2d_forward(x, out, 2, 2, 0)
    gx = np.empty_like(x)
    _C.max_pool2d_backward(out, idx, gx)
    _C.avg_pool2d_backward(out, gx, 2, 2, 0)


def fd_grad(f, x, eps=1e-6):
    """d sum(f(x) * proj) / dx by central differences, for a fixed random projection."""
    proj = np.random.default_rng(1).standard_normal(f(x).shape)
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = (f(x) * proj).sum()
        flat[i] = old - eps
        down = (f(x) * proj).sum()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return g, proj


def test_reference_backwards_vs_finite_differences():
    rng = np.random.default_rng(3)
    x = distinct(rng, (1, 2, 5, 7)).astype(np.float64)

    def pooled(fwd, out_hw, *args, indices=False):
        def f(a):
            out = np.empty((1, 2) + out_hw)
            extra = [np.empty((1, 2) + out_hw, np.int64)] if indices else []
            fwd(a, out, *extra, *args)
            return out

        return f

    *_, hw = pool2d_geometry("max_pool2d", x.shape, 3, 2, 1, 2, True)
    g, proj = fd_grad(pooled(ref.max_pool2d_forward, hw, 3, 2, 1, 2, True, indices=True), x)
    idx = np.empty((1, 2) + hw, np.int64)
    ref.max_pool2d_forward(x, np.empty((1, 2) + hw), idx, 3, 2, 1, 2, True)
    got = np.empty_like(x)
    ref.max_pool2d_backward(proj, idx, got)
    np.testing.assert_allclose(got, g, atol=1e-6)

    for args in (
        (3, 2, 1, True, False, None),
        (2, 1, 1, False, True, None),
        (3, 2, 1, False, True, 4),
    ):
        *_, hw = pool2d_geometry("avg_pool2d", x.shape, *args[:3], 1, args[3])
        g, proj = fd_grad(pooled(ref.avg_pool2d_forward, hw, *args), x)
        got = np.empty_like(x)
        ref.avg_pool2d_backward(proj, got, *args)
        np.testing.assert_allclose(got, g, atol=1e-6)

    for hw in ((3, 4), (6, 9)):
        g, proj = fd_grad(pooled(ref.adaptive_avg_pool2d_forward, hw), x)
        got = np.empty_like(x)
        ref.adaptive_avg_pool2d_backward(proj, got)
        np.testing.assert_allclose(got, g, atol=1e-6)
        g, proj = fd_grad(pooled(ref.adaptive_max_pool2d_forward, hw, indices=True), x)
        idx = np.empty((1, 2) + hw, np.int64)
        ref.adaptive_max_pool2d_forward(x, np.empty((1, 2) + hw), idx)
        ref.max_pool2d_backward(proj, idx, got)
        np.testing.assert_allclose(got, g, atol=1e-6)

    for hw, scales in (((9, 4), (None, None)), ((7, 10), (1.5, 1.5))):
        for align in (False, True):
            g, proj = fd_grad(pooled(ref.upsample_bilinear2d_forward, hw, align, *scales), x)
            got = np.empty_like(x)
            ref.upsample_bilinear2d_backward(proj, got, align, *scales)
            np.testing.assert_allclose(got, g, atol=1e-6)
        for exact in (False, True):
            g, proj = fd_grad(pooled(ref.upsample_nearest2d_forward, hw, *scales, exact), x)
            got = np.empty_like(x)
            ref.upsample_nearest2d_backward(proj, got, *scales, exact)
            np.testing.assert_allclose(got, g, atol=1e-6)


def test_native_ops_are_registered():
    for op in NATIVE:
        assert f"{op}/native" in kernels.list()


BAD = [
    (
        lambda: _C.max_pool2d_forward(np.ones((1, 1, 4, 4)), np.empty((1, 1, 2, 2)), None, 2, 2, 0),
        TypeError,
        r"\[max_pool2d\] x must be float32",
    ),
    (
        lambda: _C.max_pool2d_forward(
            np.ones((4, 4), np.float32), np.empty((1, 1, 2, 2), np.float32), None, 2, 2, 0
        ),
        ValueError,
        r"\[max_pool2d\] x must have 4 dims",
    ),
    (
        lambda: _C.max_pool2d_forward(
            np.ones((1, 1, 4, 4), np.float32), np.empty((1, 1, 3, 2), np.float32), None, 2, 2, 0
        ),
        ValueError,
        r"\[max_pool2d\] out must have shape",
    ),
    (
        lambda: _C.max_pool2d_forward(
            np.ones((1, 1, 4, 4), np.float32),
            np.empty((1, 1, 2, 2), np.float32),
            np.empty((1, 1, 2, 2), np.int32),
            2,
            2,
            0,
        ),
        TypeError,
        r"\[max_pool2d\] indices must be int64",
    ),
    (
        lambda: _C.max_pool2d_forward(
            np.ones((1, 1, 4, 4), np.float32), np.empty((1, 1, 2, 2), np.float32), None, 0, 2, 0
        ),
        ValueError,
        r"\[max_pool2d\] kernel_size must be positive",
    ),
    (
        lambda: _C.max_pool2d_forward(
            np.ones((1, 1, 4, 4), np.float32), np.empty((1, 1, 2, 2), np.float32), None, 2, -1, 0
        ),
        ValueError,
        r"\[max_pool2d\] stride must be positive",
    ),
    (
        lambda: _C.max_pool2d_forward(
            np.ones((1, 1, 4, 4), np.float32), np.empty((1, 1, 2, 2), np.float32), None, 2, 2, 2
        ),
        ValueError,
        r"\[max_pool2d\] padding",
    ),
    (
        lambda: _C.max_pool2d_forward(
            np.ones((1, 1, 1, 1), np.float32), np.empty((1, 1, 1, 1), np.float32), None, 3, 1, 0
        ),
        ValueError,
        r"\[max_pool2d\] output size is too small",
    ),
    (
        lambda: _C.max_pool2d_forward(
            np.ones((1, 1, 4, 4), np.float32),
            np.empty((1, 1, 2, 2), np.float32),
            None,
            (2, 2, 2),
            2,
            0,
        ),
        TypeError,
        r"\[max_pool2d\] kernel_size must be an int or a pair",
    ),
    (
        lambda: _C.avg_pool2d_forward(
            np.ones((1, 1, 4, 4), np.float32),
            np.empty((1, 1, 2, 2), np.float32),
            2,
            2,
            0,
            False,
            True,
            0,
        ),
        ValueError,
        r"\[avg_pool2d\] divisor_override",
    ),
    (
        lambda: _C.avg_pool2d_backward(
            np.ones((1, 1, 3, 2), np.float32), np.empty((1, 1, 4, 4), np.float32), 2, 2, 0
        ),
        ValueError,
        r"\[avg_pool2d\] grad_out must have shape",
    ),
    (
        lambda: _C.adaptive_avg_pool2d_forward(
            np.ones((1, 1, 0, 4), np.float32), np.empty((1, 1, 2, 2), np.float32)
        ),
        ValueError,
        r"\[adaptive_avg_pool2d\] x must have non-zero",
    ),
    (
        lambda: _C.max_pool2d_backward(
            np.ones((1, 1, 2, 2), np.float32),
            np.zeros((1, 1, 2, 3), np.int64),
            np.empty((1, 1, 4, 4), np.float32),
        ),
        ValueError,
        r"\[max_pool2d\] indices must have shape",
    ),
    (
        lambda: _C.avg_pool2d_forward(
            np.ones((1, 1, 4, 4), np.float32),
            np.broadcast_to(np.empty((1, 1, 1, 2), np.float32), (1, 1, 2, 2)),
            2,
            2,
            0,
        ),
        ValueError,
        r"\[avg_pool2d\] out must be writable|\[avg_pool2d\] out must not be a broadcast",
    ),
]


@pytest.mark.parametrize("call,exc,match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_kernel_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_out_of_range_indices_add_nothing(cpu_path):
    gy = np.ones((1, 1, 2, 2), np.float32)
    idx = np.array([[[[0, -1], [16, 5]]]], np.int64)
    gx = np.full((1, 1, 4, 4), 7.0, np.float32)
    _C.max_pool2d_backward(gy, idx, gx)
    want = np.zeros((1, 1, 4, 4), np.float32)
    want.reshape(-1)[[0, 5]] = 1
    np.testing.assert_array_equal(gx, want)


def test_output_aliasing_input_is_refused():
    x = np.ones((1, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match=r"\[avg_pool2d\] out must not share memory with x"):
        _C.avg_pool2d_forward(x, x[:, :, :2, :2], 2, 2, 0)

"""Layer normalization kernels: native (every CPU path) vs the NumPy reference, forward and
backward, on awkward shapes and layouts, affine or not, with outputs skipped; rows far from
zero; thread counts; the reference's backward vs float64 finite differences; the binding's
argument checks."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import _C
from pyfastdl.kernels import reference as ref
from pyfastdl.nn import functional as F
from pyfastdl.testing import assert_kernel_close, gradcheck, supported_cpu_paths

SHAPES = [(1, 1), (5, 1), (1, 7), (3, 33), (17, 100), (2, 1000), (64, 129), (4, 16), (0, 5)]
LAYOUTS = ("contiguous", "row slice", "transposed", "negative strides")
AFFINE = ("both", "weight", "none")


def rows(rng, shape, layout, scale=2.0, offset=1.0):
    """A float32 (M, N) array with the given memory layout."""
    m, n = shape

    def base(s):
        return (rng.standard_normal(s) * scale + offset).astype(np.float32)

    if layout == "row slice":  # unit column stride, rows not back to back
        return base((m, n + 3))[:, 1 : n + 1]
    if layout == "transposed":
        return base((n, m)).T
    if layout == "negative strides":
        return base(shape)[::-1, ::-1]
    return base(shape)


def strided_like(shape):
    """An uninitialised float32 output that is not contiguous."""
    return np.empty((shape[0], shape[1] * 2), np.float32)[:, ::2]


def params(rng, n, affine):
    w = (rng.standard_normal(n) * 0.5 + 1).astype(np.float32) if affine != "none" else None
    b = rng.standard_normal(n).astype(np.float32) if affine == "both" else None
    return w, b


def f64(*arrays):
    return [None if a is None else a.astype(np.float64) for a in arrays]


def close_grads(got, want, x, gy, rstd, w, n):
    """grad_x within the shared tolerance scaled by the size of its terms, rstd * |gy * w| (they
    cancel when N is tiny, leaving rounding noise of that size rather than of grad_x's);
    grad_weight, grad_bias as usual."""
    if got[0] is not None and x.size:
        gw = np.abs(gy) * (1.0 if w is None else np.abs(w))
        terms = max(1.0, float(np.abs(rstd).max() * gw.max()))
        assert_kernel_close(got[0], want[0], n, scale=terms)
    for g, e in zip(got[1:], want[1:]):
        if g is not None:
            assert_kernel_close(g, e, max(x.shape))


def run_forward(fn, x, w, b, eps=1e-5, strided_out=False, **kw):
    m = x.shape[0]
    y = strided_like(x.shape) if strided_out else np.empty(x.shape, x.dtype)
    mean, rstd = np.empty(m, x.dtype), np.empty(m, x.dtype)
    fn(x, w, b, y, mean, rstd, eps, **kw)
    return y, mean, rstd


def run_backward(fn, x, gy, mean, rstd, w, want=(True, True, True), strided_out=False, **kw):
    n = x.shape[1]
    gx = (strided_like(x.shape) if strided_out else np.empty(x.shape, x.dtype)) if want[0] else None
    gw = np.empty(n, x.dtype) if want[1] else None
    gb = np.empty(n, x.dtype) if want[2] else None
    fn(x, gy, mean, rstd, w, gx, gw, gb, **kw)
    return gx, gw, gb


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("affine", AFFINE)
def test_forward_vs_reference(cpu_path, shape, layout, affine):
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    x = rows(rng, shape, layout)
    w, b = params(rng, shape[1], affine)
    got = run_forward(_C.layer_norm_forward, x, w, b, strided_out=layout != "contiguous")
    want = run_forward(ref.layer_norm_forward, *f64(x, w, b))
    for g, e in zip(got, want):
        assert_kernel_close(g, e, shape[1])


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("affine", ("weight", "none"))
def test_backward_vs_reference(cpu_path, shape, layout, affine):
    rng = np.random.default_rng(shape[0] + 7 * shape[1])
    x = rows(rng, shape, layout)
    gy = rows(rng, shape, layout, 1.0, 0.0)
    w, _ = params(rng, shape[1], affine)
    _, mean, rstd = run_forward(ref.layer_norm_forward, x, None, None)  # float32 statistics
    got = run_backward(
        _C.layer_norm_backward, x, gy, mean, rstd, w, strided_out=layout != "contiguous"
    )
    want = run_backward(ref.layer_norm_backward, *f64(x, gy, mean, rstd, w))
    close_grads(got, want, x, gy, rstd, w, shape[1])


@pytest.mark.parametrize(
    "want",
    [
        (True, False, False),
        (False, True, False),
        (False, False, True),
        (False, True, True),
        (False, False, False),
    ],
    ids=str,
)
def test_backward_skips_outputs(cpu_path, want):
    rng = np.random.default_rng(3)
    x = rows(rng, (9, 31), "contiguous")
    gy = rows(rng, (9, 31), "contiguous", 1.0, 0.0)
    w, _ = params(rng, 31, "weight")
    _, mean, rstd = run_forward(ref.layer_norm_forward, x, None, None)
    got = run_backward(_C.layer_norm_backward, x, gy, mean, rstd, w, want)
    full = run_backward(ref.layer_norm_backward, *f64(x, gy, mean, rstd, w))
    for g, e, asked in zip(got, full, want):
        assert (g is None) == (not asked)
        if asked:
            assert_kernel_close(g, e, 31)


def test_zero_rows_give_zero_parameter_grads(cpu_path):
    x = np.empty((0, 6), np.float32)
    gx, gw, gb = run_backward(
        _C.layer_norm_backward, x, x, np.empty(0, np.float32), np.empty(0, np.float32), None
    )
    assert gx.shape == (0, 6) and (gw == 0).all() and (gb == 0).all()


def test_rows_far_from_zero(cpu_path):
    """1e4 + 1e-2 * noise: a one-pass sum of x and x^2 would lose every digit of the variance."""
    rng = np.random.default_rng(4)
    x = (1e4 + 1e-2 * rng.standard_normal((8, 777))).astype(np.float32)
    y, mean, rstd = run_forward(_C.layer_norm_forward, x, None, None)
    ye, me, re = run_forward(ref.layer_norm_forward, *f64(x, None, None))
    np.testing.assert_allclose(y, ye, atol=2e-4)
    np.testing.assert_allclose(rstd, re, rtol=1e-5)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    got = run_backward(_C.layer_norm_backward, x, gy, mean, rstd, None)
    want = run_backward(ref.layer_norm_backward, *f64(x, gy, mean, rstd, None))
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=2e-3, atol=2e-3 * np.abs(e).max())


def test_versions_and_threads_agree():
    rng = np.random.default_rng(5)
    x = rows(rng, (300, 257), "contiguous")
    w, b = params(rng, 257, "both")
    gy = rows(rng, (300, 257), "contiguous")
    want = run_forward(ref.layer_norm_forward, *f64(x, w, b))
    before = fd.get_num_threads()
    try:
        for threads in (1, 2):
            fd.set_num_threads(threads)
            for impl in supported_cpu_paths():
                got = run_forward(_C.layer_norm_forward, x, w, b, impl=impl)
                for g, e in zip(got, want):
                    assert_kernel_close(g, e, 257)
                _, mean, rstd = got
                got_b = run_backward(_C.layer_norm_backward, x, gy, mean, rstd, w, impl=impl)
                want_b = run_backward(ref.layer_norm_backward, *f64(x, gy, mean, rstd, w))
                for g, e in zip(got_b, want_b):
                    assert_kernel_close(g, e, 300)
    finally:
        fd.set_num_threads(before)


def test_in_place_forward(cpu_path):
    rng = np.random.default_rng(6)
    x = rows(rng, (5, 40), "contiguous")
    want = run_forward(ref.layer_norm_forward, *f64(x, None, None))[0]
    mean, rstd = np.empty(5, np.float32), np.empty(5, np.float32)
    _C.layer_norm_forward(x, None, None, x, mean, rstd, 1e-5)
    assert_kernel_close(x, want, 40)


@pytest.mark.parametrize("normalized", [(4,), (3, 4)], ids=str)
def test_reference_backward_vs_finite_differences(normalized):
    rng = np.random.default_rng(7)
    x = fd.tensor(rng.standard_normal((2, 3, 4)) * 3 + 2, requires_grad=True)
    w = fd.tensor(rng.standard_normal(normalized), requires_grad=True)
    b = fd.tensor(rng.standard_normal(normalized), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, normalized, w, b), x, w, b)


def test_binding_errors():
    x = np.ones((3, 4), np.float32)
    m, r = np.empty(3, np.float32), np.empty(3, np.float32)
    y = np.empty((3, 4), np.float32)
    with pytest.raises(TypeError, match=r"^\[layer_norm\] x must be float32, got float64"):
        _C.layer_norm_forward(x.astype(np.float64), None, None, y, m, r)
    with pytest.raises(ValueError, match=r"^\[layer_norm\] x must have 2 dims"):
        _C.layer_norm_forward(np.ones(4, np.float32), None, None, y, m, r)
    with pytest.raises(ValueError, match=r"^\[layer_norm\] weight must have shape \(4,\)"):
        _C.layer_norm_forward(x, np.ones(3, np.float32), None, y, m, r)
    with pytest.raises(ValueError, match=r"^\[layer_norm\] mean must have shape \(3,\)"):
        _C.layer_norm_forward(x, None, None, y, np.empty(4, np.float32), r)
    with pytest.raises(ValueError, match=r"^\[layer_norm\] y must have shape"):
        _C.layer_norm_forward(x, None, None, np.empty((4, 3), np.float32), m, r)
    with pytest.raises(ValueError, match=r"^\[layer_norm\] mean must not share memory with y"):
        _C.layer_norm_forward(x, None, None, y, y[0, :3], r)
    with pytest.raises(ValueError, match=r"^\[layer_norm\] eps must be non-negative"):
        _C.layer_norm_forward(x, None, None, y, m, r, -1.0)
    with pytest.raises(ValueError, match=r"^\[layer_norm\] impl must be"):
        _C.layer_norm_forward(x, None, None, y, m, r, impl="sse9")
    with pytest.raises(ValueError, match=r"^\[layer_norm\] y must not be a broadcast view"):
        bcast = np.lib.stride_tricks.as_strided(np.empty(4, np.float32), (3, 4), (0, 4))
        _C.layer_norm_forward(x, None, None, bcast, m, r)
    with pytest.raises(
        ValueError, match=r"^\[layer_norm\] grad_x must not share memory with grad_y"
    ):
        _C.layer_norm_backward(x, y, m, r, None, y, None, None)
    with pytest.raises(ValueError, match=r"^\[layer_norm\] grad_y must have shape"):
        _C.layer_norm_backward(x, y.T, m, r, None, None, None, None)

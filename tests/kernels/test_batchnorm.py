"""Batch normalization kernels: native (every CPU path) vs the NumPy reference, forward and
backward, training and eval, on awkward shapes and layouts; the reference's backward vs float64
finite differences; numerical stability; the binding's argument checks."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import _C, kernels
from pyfastdl.kernels import reference as ref
from pyfastdl.nn import functional as F
from pyfastdl.testing import assert_kernel_close, gradcheck

SHAPES = [
    (2, 3),  # (N, C)
    (64, 33),
    (1, 4, 7),  # N = 1, L > 1
    (5, 1, 33),  # C = 1
    (3, 5, 1),  # L = 1
    (7, 3, 2, 9),
    (2, 3, 15, 17),
    (1, 2, 33, 31),
    (4, 64, 16, 16),
]
LAYOUTS = ("contiguous", "channel slice", "row slice", "transposed", "negative strides")


def activation(rng, shape, layout, scale=2.0, offset=1.0):
    """A float32 (N, C, *) array with the given memory layout."""

    def base(s):
        return (rng.standard_normal(s) * scale + offset).astype(np.float32)

    if layout == "channel slice":  # every other channel of a wider array
        return base((shape[0], 2 * shape[1], *shape[2:]))[:, ::2]
    if layout == "row slice":  # a window of wider rows: unit stride, rows not back to back
        return base((*shape[:-1], shape[-1] + 3))[..., 1 : shape[-1] + 1]
    if layout == "transposed" and len(shape) > 2:  # the last two dims swapped in memory
        return np.swapaxes(base((*shape[:-2], shape[-1], shape[-2])), -1, -2)
    if layout == "transposed":  # (N, C) stored as (C, N)
        return base(shape[::-1]).T
    if layout == "negative strides":
        return base(shape)[::-1, ..., ::-1]
    return base(shape)


def strided_like(a):
    """An uninitialised float32 output with a's shape that is not contiguous."""
    return np.empty((*a.shape[:-1], a.shape[-1] * 2), np.float32)[..., ::2]


def params(rng, c, affine):
    if not affine:
        return None, None
    return (rng.standard_normal(c) * 0.5 + 1).astype(np.float32), rng.standard_normal(c).astype(
        np.float32
    )


def run_train(fn, x, w, b, eps=1e-5, strided_out=False):
    c = x.shape[1]
    y = strided_like(x) if strided_out else np.empty(x.shape, x.dtype)
    mean, var, invstd = (np.empty(c, x.dtype) for _ in range(3))
    fn(x, w, b, y, mean, var, invstd, eps)
    return y, mean, var, invstd


def run_backward(fn, x, gy, mean, invstd, w, training, strided_out=False):
    c = x.shape[1]
    gx = strided_like(x) if strided_out else np.empty(x.shape, x.dtype)
    gw, gb = np.empty(c, x.dtype), np.empty(c, x.dtype)
    fn(x, gy, mean, invstd, w, gx, gw, gb, training)
    return gx, gw, gb


def f64(*arrays):
    return [None if a is None else a.astype(np.float64) for a in arrays]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("affine", [True, False])
def test_forward_train_vs_reference(cpu_path, shape, layout, affine):
    rng = np.random.default_rng(len(shape) * 100 + shape[1])
    x = activation(rng, shape, layout)
    w, b = params(rng, shape[1], affine)
    m = x.size // shape[1]
    got = run_train(_C.batchnorm_forward_train, x, w, b, strided_out=layout != "contiguous")
    x64, w64, b64 = f64(x, w, b)
    want = run_train(ref.batchnorm_forward_train, x64, w64, b64)
    for g, e in zip(got, want):
        assert_kernel_close(g, e, m)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("affine", [True, False])
def test_forward_eval_vs_reference(cpu_path, shape, layout, affine):
    rng = np.random.default_rng(shape[1])
    c = shape[1]
    x = activation(rng, shape, layout)
    rm = rng.standard_normal(c).astype(np.float32)
    rv = (rng.random(c) + 0.5).astype(np.float32)
    w, b = params(rng, c, affine)
    y = strided_like(x)
    _C.batchnorm_forward_eval(x, rm, rv, w, b, y, 1e-3)
    want = np.empty(shape)
    ref.batchnorm_forward_eval(*f64(x, rm, rv, w, b), want, 1e-3)
    assert_kernel_close(y, want, 1)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("training", [True, False])
def test_backward_vs_reference(cpu_path, shape, layout, training):
    rng = np.random.default_rng(shape[0] + 7)
    c = shape[1]
    x = activation(rng, shape, layout)
    gy = activation(rng, shape, "transposed" if layout == "contiguous" else "contiguous", 1.0, 0.0)
    w, _ = params(rng, c, True)
    _, mean, _, invstd = run_train(ref.batchnorm_forward_train, x, w, None)
    m = x.size // c
    got = run_backward(_C.batchnorm_backward, x, gy, mean, invstd, w, training, True)
    want = run_backward(ref.batchnorm_backward, *f64(x, gy, mean, invstd, w), training)
    for g, e in zip(got, want):
        assert_kernel_close(g, e, m)


def test_backward_optional_outputs_and_broadcast_grad(cpu_path):
    rng = np.random.default_rng(3)
    x = activation(rng, (4, 3, 5, 6), "contiguous")
    gy = np.broadcast_to(np.float32(0.5), x.shape)  # what the backward of sum() hands over
    mean = np.zeros(3, np.float32)
    invstd = np.ones(3, np.float32)
    gx = np.empty_like(x)
    _C.batchnorm_backward(x, gy, mean, invstd, None, gx, None, None, True)
    want = np.empty(x.shape)
    ref.batchnorm_backward(*f64(x, gy, mean, invstd), None, want, None, None, True)
    assert_kernel_close(gx, want, 120)
    gb = np.empty(3, np.float32)
    _C.batchnorm_backward(x, gy, mean, invstd, None, None, None, gb, False)
    np.testing.assert_allclose(gb, 0.5 * 120, rtol=1e-6)


def test_in_place(cpu_path):
    rng = np.random.default_rng(5)
    x = activation(rng, (3, 4, 7, 9), "contiguous")
    want = run_train(ref.batchnorm_forward_train, x.astype(np.float64), None, None)[0]
    c = x.shape[1]
    stats = [np.empty(c, np.float32) for _ in range(3)]
    _C.batchnorm_forward_train(x, None, None, x, *stats, 1e-5)  # y is x itself
    assert_kernel_close(x, want, 3 * 63)
    gy = activation(rng, x.shape, "contiguous")
    want_gx = np.empty(x.shape)
    ref.batchnorm_backward(*f64(x, gy, stats[0], stats[2]), None, want_gx, None, None, True)
    _C.batchnorm_backward(x, gy, stats[0], stats[2], None, gy, None, None, True)  # grad_x is gy
    assert_kernel_close(gy, want_gx, 3 * 63)


@pytest.mark.parametrize("shape", [(64, 8), (16, 8, 32), (8, 4, 16, 16)], ids=str)
def test_large_offset_is_stable(cpu_path, shape):
    """1e4 + 1e-2 * randn normalizes to the randn: no E[x^2] - E[x]^2 cancellation."""
    rng = np.random.default_rng(11)
    z = rng.standard_normal(shape)
    x = (1e4 + 1e-2 * z).astype(np.float32)
    y, mean, var, invstd = run_train(_C.batchnorm_forward_train, x, None, None, eps=0.0)
    x64 = x.astype(np.float64)  # the float32 values exactly
    want = np.empty(shape)
    ref.batchnorm_forward_train(
        x64, None, None, want, np.empty(shape[1]), None, np.empty(shape[1]), 0.0
    )
    np.testing.assert_allclose(y, want, atol=2e-3)
    axes = (0,) + tuple(range(2, x.ndim))
    np.testing.assert_allclose(var, x64.var(axis=axes), rtol=1e-4)
    np.testing.assert_allclose(mean, x64.mean(axis=axes), rtol=1e-7)


def test_registered_and_float64_goes_to_reference():
    for op in ("batchnorm_forward_train", "batchnorm_forward_eval", "batchnorm_backward"):
        assert f"{op}/native" in kernels.list()
        assert kernels.get(op, dtype=np.dtype("float64")) is kernels.reference_of(op)


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 4), (2, 3, 3, 2)], ids=str)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_reference_backward_vs_finite_differences(shape, training, affine):
    rng = np.random.default_rng(1)
    c = shape[1]
    x = fd.tensor(rng.standard_normal(shape) * 2 + 1, requires_grad=True)
    w = fd.tensor(rng.standard_normal(c) * 0.5 + 1, requires_grad=True) if affine else None
    b = fd.tensor(rng.standard_normal(c), requires_grad=True) if affine else None
    rm = fd.tensor(rng.standard_normal(c))
    rv = fd.tensor(rng.random(c) + 0.5)

    def fn(x, w, b):
        # running stats are copies: a training call updates them in place
        return F.batch_norm(x, rm.detach() * 1, rv.detach() * 1, w, b, training=training)

    assert gradcheck(fn, x, w, b)


def test_empty_batch(cpu_path):
    x = np.empty((0, 3, 4), np.float32)
    y, mean, var, invstd = run_train(_C.batchnorm_forward_train, x, None, None)
    assert y.shape == (0, 3, 4) and np.isnan(mean).all() and np.isnan(invstd).all()
    gx, gw, gb = run_backward(_C.batchnorm_backward, x, x, mean, invstd, None, True)
    assert (gw == 0).all() and (gb == 0).all()


# ------------------------------------------------------------------------------- bad input
def test_binding_checks():
    x = np.ones((4, 3, 5), np.float32)
    c3 = [np.empty(3, np.float32) for _ in range(3)]
    with pytest.raises(TypeError, match=r"^\[batch_norm\] x must be float32, got float64"):
        _C.batchnorm_forward_train(x.astype(np.float64), None, None, x, *c3, 1e-5)
    with pytest.raises(ValueError, match=r"^\[batch_norm\] x must have 2 to 4 dims"):
        _C.batchnorm_forward_train(np.ones(3, np.float32), None, None, x, *c3, 1e-5)
    with pytest.raises(ValueError, match=r"^\[batch_norm\] y must have the shape of x"):
        _C.batchnorm_forward_train(x, None, None, np.empty((4, 3, 4), np.float32), *c3, 1e-5)
    with pytest.raises(ValueError, match=r"weight must have one value per channel.*\(3,\)"):
        _C.batchnorm_forward_train(x, np.ones(4, np.float32), None, np.empty_like(x), *c3, 1e-5)
    with pytest.raises(ValueError, match=r"running_var must have one value per channel"):
        _C.batchnorm_forward_eval(x, c3[0], np.ones(2, np.float32), None, None, np.empty_like(x))
    with pytest.raises(TypeError, match=r"^\[batch_norm\] mean must be a numpy.ndarray"):
        _C.batchnorm_forward_train(x, None, None, np.empty_like(x), None, None, c3[2], 1e-5)
    with pytest.raises(ValueError, match=r"y must not be a broadcast view"):
        base = np.empty((1, 3, 5), np.float32)
        y = np.lib.stride_tricks.as_strided(base, x.shape, (0, *base.strides[1:]))
        _C.batchnorm_forward_train(x, None, None, y, *c3, 1e-5)
    with pytest.raises(ValueError, match=r"y must not share memory with x"):
        _C.batchnorm_forward_train(x[:, :, :4], None, None, x[:, :, 1:], *c3, 1e-5)
    with pytest.raises(ValueError, match=r"mean must not share memory with invstd|invstd must not"):
        _C.batchnorm_forward_train(x, None, None, np.empty_like(x), c3[0], None, c3[0], 1e-5)
    gx = np.empty_like(x)
    with pytest.raises(ValueError, match=r"grad_x must not share memory with x"):
        _C.batchnorm_backward(x, gx, c3[0], c3[1], None, x, None, None, True)
    with pytest.raises(ValueError, match=r"grad_y must have the shape of x"):
        _C.batchnorm_backward(x, np.ones((4, 3), np.float32), c3[0], c3[1], None, gx, None, None)

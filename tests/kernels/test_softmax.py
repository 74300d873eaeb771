"""Softmax family kernels: native (every CPU path) vs the NumPy reference, and the reference's
backward vs finite differences in float64."""

from __future__ import annotations

import numpy as np
import pytest

from pyfastdl import _C
from pyfastdl.kernels import reference as ref
from pyfastdl.testing import assert_kernel_close

COLS = (1, 15, 17, 33, 1000, 1031)


def rows_array(rng, rows, cols, layout, scale=3.0):
    """(rows, cols) float32 with the given memory layout: contiguous, row-sliced or transposed."""
    if layout == "contiguous":
        return (rng.standard_normal((rows, cols)) * scale).astype(np.float32)
    if layout == "row_stride":  # every other row of a wider array: row stride != cols
        return (rng.standard_normal((2 * rows, cols + 3)) * scale).astype(np.float32)[
            ::2, 1 : cols + 1
        ]
    return np.asfortranarray((rng.standard_normal((rows, cols)) * scale).astype(np.float32))


LAYOUTS = ("contiguous", "row_stride", "transposed")


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("cols", COLS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_forward_backward_vs_reference(cpu_path, op, cols, layout):
    rng = np.random.default_rng(cols)
    rows = 1 if cols == 1031 else 7
    x = rows_array(rng, rows, cols, layout)
    fwd, bwd = getattr(_C, f"{op}_forward"), getattr(_C, f"{op}_backward")
    y = np.empty_like(x)
    fwd(x, y)
    y_ref = np.empty((rows, cols))
    getattr(ref, f"{op}_forward")(x.astype(np.float64), y_ref)
    assert_kernel_close(y, y_ref, cols)
    gy = rows_array(rng, rows, cols, layout, 1.0)
    gx = np.empty((cols, rows), np.float32).T  # a strided output
    bwd(y, gy, gx)
    gx_ref = np.empty((rows, cols))
    getattr(ref, f"{op}_backward")(y.astype(np.float64), gy.astype(np.float64), gx_ref)
    assert_kernel_close(gx, gx_ref, cols)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_in_place_forward_and_huge_values(cpu_path, op):
    x = (np.random.default_rng(0).standard_normal((5, 40)) * 1e8).astype(np.float32)
    want = np.empty((5, 40))
    getattr(ref, f"{op}_forward")(x.astype(np.float64), want)
    getattr(_C, f"{op}_forward")(x, x)  # out is x itself
    assert np.isfinite(x).all()
    np.testing.assert_allclose(x, want, rtol=1e-6, atol=1e-6)


def test_special_values(cpu_path):
    x = np.array([[0.0, -np.inf, 1.0], [np.nan, 1.0, 2.0], [-np.inf, -np.inf, -np.inf]], np.float32)
    y = np.empty_like(x)
    _C.softmax_forward(x, y)
    e = np.exp(np.float64(-1.0))
    np.testing.assert_allclose(y[0], [e / (1 + e), 0.0, 1 / (1 + e)], rtol=1e-6)
    assert np.isnan(y[1]).all() and np.isnan(y[2]).all()  # as PyTorch
    _C.log_softmax_forward(x, y)
    assert y[0, 1] == -np.inf


def ce_reference(logits, target, weight, ignore_index, smoothing):
    n = logits.shape[0]
    losses, lse = np.empty(n), np.empty(n)
    ref.cross_entropy_forward(
        logits.astype(np.float64),
        target,
        None if weight is None else weight.astype(np.float64),
        losses,
        lse,
        ignore_index,
        smoothing,
    )
    return losses, lse


@pytest.mark.parametrize("cols", COLS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_cross_entropy_vs_reference(cpu_path, cols, weighted, smoothing, layout):
    rng = np.random.default_rng(cols + 7)
    rows = 9
    x = rows_array(rng, rows, cols, layout)
    t = rng.integers(0, cols, rows)
    t[2] = -100  # ignored
    t[5] = 3 if cols > 3 else 0
    w = rng.random(cols).astype(np.float32) + 0.5 if weighted else None
    losses, lse = np.empty(rows, np.float32), np.empty(rows, np.float32)
    _C.cross_entropy_forward(x, t, w, losses, lse, -100, smoothing)
    want_losses, want_lse = ce_reference(x, t, w, -100, smoothing)
    assert_kernel_close(losses, want_losses, cols)
    assert_kernel_close(lse, want_lse, cols)
    assert losses[2] == 0.0
    gl = rng.standard_normal(rows).astype(np.float32)
    gx = np.empty_like(x)
    _C.cross_entropy_backward(x, t, w, gl, gx, -100, smoothing)
    gx_ref = np.empty((rows, cols))
    ref.cross_entropy_backward(
        x.astype(np.float64),
        t,
        None if w is None else w.astype(np.float64),
        gl.astype(np.float64),
        gx_ref,
        -100,
        smoothing,
    )
    assert_kernel_close(gx, gx_ref, cols)
    assert (gx[2] == 0).all()


def test_cross_entropy_huge_logits_finite(cpu_path):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((16, 10)) * 1e8).astype(np.float32)
    t = rng.integers(0, 10, 16)
    t[0] = int(np.argmax(x[0]))
    losses, lse = np.empty(16, np.float32), np.empty(16, np.float32)
    _C.cross_entropy_forward(x, t, None, losses, lse, -100, 0.0)
    want, _ = ce_reference(x, t, None, -100, 0.0)
    assert np.isfinite(losses).all()
    np.testing.assert_allclose(losses, want, rtol=1e-6, atol=1e-6)
    gx = np.empty_like(x)
    _C.cross_entropy_backward(x, t, None, np.ones(16, np.float32), gx, -100, 0.0)
    assert np.isfinite(gx).all()
    np.testing.assert_allclose(gx.sum(axis=1), 0.0, atol=1e-5)


@pytest.mark.parametrize("backend", ["native", "reference"])
@pytest.mark.parametrize("bad", [10, 12, -1])
def test_cross_entropy_target_out_of_range(backend, bad):
    fwd = _C.cross_entropy_forward if backend == "native" else ref.cross_entropy_forward
    x = np.zeros((3, 10), np.float32)
    t = np.array([1, bad, 2])
    with pytest.raises(
        IndexError, match=rf"\[cross_entropy\] target {bad} is out of range for 10 "
    ):
        fwd(x, t, None, np.empty(3, np.float32), np.empty(3, np.float32), -100, 0.0)


def test_binding_checks():
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(TypeError, match=r"\[softmax\] x must be float32, got float64"):
        _C.softmax_forward(x.astype(np.float64), np.empty((3, 4)))
    with pytest.raises(ValueError, match=r"\[softmax\] out must have the shape of x \(3, 4\)"):
        _C.softmax_forward(x, np.empty((3, 5), np.float32))
    with pytest.raises(ValueError, match=r"\[softmax\] x must have 2 dims"):
        _C.softmax_forward(np.zeros(3, np.float32), np.empty(3, np.float32))
    with pytest.raises(ValueError, match=r"must not share memory"):
        big = np.zeros((4, 4), np.float32)
        _C.softmax_forward(big[:3], big[1:])
    with pytest.raises(ValueError, match=r"\[cross_entropy\] expected target of shape \(3,\), got"):
        _C.cross_entropy_forward(
            x,
            np.zeros((3, 1), np.int64),
            None,
            np.empty(3, np.float32),
            np.empty(3, np.float32),
            -100,
            0.0,
        )
    with pytest.raises(TypeError, match=r"\[cross_entropy\] target must be int64"):
        _C.cross_entropy_forward(
            x,
            np.zeros(3, np.int32),
            None,
            np.empty(3, np.float32),
            np.empty(3, np.float32),
            -100,
            0.0,
        )
    with pytest.raises(ValueError, match=r"\[cross_entropy\] weight must have one value per class"):
        _C.cross_entropy_forward(
            x,
            np.zeros(3, np.int64),
            np.ones(5, np.float32),
            np.empty(3, np.float32),
            np.empty(3, np.float32),
            -100,
            0.0,
        )
    with pytest.raises(ValueError, match=r"label_smoothing"):
        _C.cross_entropy_forward(
            x,
            np.zeros(3, np.int64),
            None,
            np.empty(3, np.float32),
            np.empty(3, np.float32),
            -100,
            1.5,
        )


def test_empty_and_single():
    for shape in [(0, 5), (4, 0), (1, 1)]:
        x = np.zeros(shape, np.float32)
        y = np.empty_like(x)
        _C.softmax_forward(x, y)
        if x.size:
            assert y[0, 0] == 1.0


def fd_check(fwd, bwd, x, eps=1e-6):
    """The reference backward of y = fwd(x) against central differences, projected on gy."""
    rng = np.random.default_rng(0)
    y = np.empty_like(x)
    fwd(x, y)
    gy = rng.standard_normal(x.shape)
    gx = np.empty_like(x)
    bwd(y, gy, gx)
    num = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        yp, ym = np.empty_like(x), np.empty_like(x)
        fwd(xp, yp)
        fwd(xm, ym)
        num[idx] = ((yp - ym) * gy).sum() / (2 * eps)
    np.testing.assert_allclose(gx, num, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_reference_backward_finite_differences(op):
    x = np.random.default_rng(3).standard_normal((3, 5))
    fd_check(getattr(ref, f"{op}_forward"), getattr(ref, f"{op}_backward"), x)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_reference_cross_entropy_backward_finite_differences(weighted, smoothing):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 6))
    t = np.array([0, 5, -100, 2])
    w = rng.random(6) + 0.5 if weighted else None
    gl = rng.standard_normal(4)

    def loss(v):
        losses, lse = np.empty(4), np.empty(4)
        ref.cross_entropy_forward(v, t, w, losses, lse, -100, smoothing)
        return (losses * gl).sum()

    gx = np.empty_like(x)
    ref.cross_entropy_backward(x, t, w, gl, gx, -100, smoothing)
    num = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += 1e-6
        xm[idx] -= 1e-6
        num[idx] = (loss(xp) - loss(xm)) / 2e-6
    np.testing.assert_allclose(gx, num, rtol=1e-5, atol=1e-7)

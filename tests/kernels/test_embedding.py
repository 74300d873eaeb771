"""Embedding kernels: native vs the NumPy reference (the backward bit for bit: both sum each row
in index order), indices of any rank and layout, strided outputs and gradients, padding_idx,
scale_grad_by_freq, duplicates, empty inputs; determinism across thread counts; index checks."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import _C
from pyfastdl.kernels import reference as ref

CONFIGS = [  # (V, E, index shape)
    (1, 1, (1,)),
    (7, 1, (5,)),
    (10, 33, (4, 9)),
    (5, 17, (3, 4, 5)),
    (3, 8, (200,)),
    (1000, 64, (32, 40)),
    (50, 100, (0,)),
    (4, 3, ()),
]


def indices(rng, v, shape, layout="contiguous"):
    if layout == "transposed" and len(shape) == 2:
        return rng.integers(0, v, shape[::-1]).T
    if layout == "sliced":
        return rng.integers(0, v, (*shape[:-1], 2 * shape[-1]) if shape else (2,))[..., ::2]
    return rng.integers(0, v, shape)


@pytest.mark.parametrize("v, e, shape", CONFIGS, ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced"])
def test_forward_vs_reference(v, e, shape, layout):
    rng = np.random.default_rng(v + e)
    idx = indices(rng, v, shape, layout)
    w = rng.standard_normal((v, e)).astype(np.float32)
    got = np.empty(idx.shape + (e,), np.float32)
    want = np.empty_like(got)
    _C.embedding_forward(idx, w, got)
    ref.embedding_forward(idx, w, want)
    np.testing.assert_array_equal(got, want)


def test_forward_strided_weight_and_outputs():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((9, 12)).astype(np.float32)[:, ::2]  # column stride 2
    idx = rng.integers(0, 9, (3, 4))
    want = w[idx]
    out = np.empty((3, 4, 12), np.float32)[..., ::2]  # leading dims walk as one, stride 2
    _C.embedding_forward(idx, w, out)
    np.testing.assert_array_equal(out, want)
    out = np.empty((4, 3, 6), np.float32).transpose(1, 0, 2)  # leading dims do not
    _C.embedding_forward(idx, w, out)
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("v, e, shape", CONFIGS, ids=str)
@pytest.mark.parametrize("padding_idx", [None, 0, -1])
@pytest.mark.parametrize("freq", [False, True])
def test_backward_vs_reference_bit_for_bit(v, e, shape, padding_idx, freq):
    rng = np.random.default_rng(v * e)
    idx = indices(rng, v, shape)
    g = rng.standard_normal(idx.shape + (e,)).astype(np.float32)
    pad = None if padding_idx is None else padding_idx % v
    got = np.full((v, e), np.nan, np.float32)
    want = np.full((v, e), np.nan, np.float32)
    _C.embedding_backward(idx, g, got, pad, freq)
    ref.embedding_backward(idx, g, want, pad, freq)
    np.testing.assert_array_equal(got, want)
    if pad is not None:
        assert (got[pad] == 0).all()


@pytest.mark.parametrize(
    "layout", ["grad sliced", "grad transposed", "indices transposed", "grad_weight strided"]
)
def test_backward_layouts(layout):
    rng = np.random.default_rng(2)
    v, e = 6, 5
    idx = rng.integers(0, v, (4, 7))
    g = rng.standard_normal((4, 7, e)).astype(np.float32)
    gw = np.empty((v, e), np.float32)
    if layout == "grad sliced":
        g = np.repeat(g, 2, axis=-1)[..., ::2]
    elif layout == "grad transposed":
        g = np.ascontiguousarray(g.transpose(1, 0, 2)).transpose(1, 0, 2)
    elif layout == "indices transposed":
        idx = np.ascontiguousarray(idx.T).T
    else:
        gw = np.empty((v, 2 * e), np.float32)[:, ::2]
    want = np.empty((v, e), np.float32)
    ref.embedding_backward(idx, g, want, 2, True)
    _C.embedding_backward(idx, g, gw, 2, True)
    np.testing.assert_array_equal(gw, want)


def test_duplicates_add_up_deterministically_across_threads():
    rng = np.random.default_rng(3)
    v, e = 3, 129
    idx = rng.integers(0, v, (50, 40))
    g = rng.standard_normal((50, 40, e)).astype(np.float32)
    before = fd.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 1):
            fd.set_num_threads(threads)
            gw = np.empty((v, e), np.float32)
            _C.embedding_backward(idx, g, gw)
            results.append(gw)
    finally:
        fd.set_num_threads(before)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    want = np.zeros((v, e))
    np.add.at(want, idx.reshape(-1), g.reshape(-1, e).astype(np.float64))
    np.testing.assert_allclose(results[0], want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fn", ["native", "reference"])
def test_index_errors(fn):
    forward = _C.embedding_forward if fn == "native" else ref.embedding_forward
    backward = _C.embedding_backward if fn == "native" else ref.embedding_backward
    w = np.zeros((5000, 2), np.float32)
    out = np.empty((2, 2), np.float32)
    msg = r"^\[embedding\] index 70000 is out of range for an embedding of 5000 rows"
    with pytest.raises(IndexError, match=msg):
        forward(np.array([3, 70000]), w, out)
    with pytest.raises(IndexError, match=r"^\[embedding\] index -1 is out of range"):
        forward(np.array([-1, 0]), w, out)
    with pytest.raises(IndexError, match=r"^\[embedding\] index 5000 is out of range"):
        backward(np.array([5000, 1]), out, w)


def test_binding_errors():
    w = np.zeros((5, 2), np.float32)
    out = np.empty((3, 2), np.float32)
    idx = np.array([0, 1, 2])
    with pytest.raises(TypeError, match=r"^\[embedding\] indices must be int64, got int32"):
        _C.embedding_forward(idx.astype(np.int32), w, out)
    with pytest.raises(TypeError, match=r"^\[embedding\] weight must be float32"):
        _C.embedding_forward(idx, w.astype(np.float64), out)
    with pytest.raises(ValueError, match=r"^\[embedding\] weight must have 2 dims"):
        _C.embedding_forward(idx, np.zeros(5, np.float32), out)
    with pytest.raises(ValueError, match=r"^\[embedding\] out must have shape \(3, 2\)"):
        _C.embedding_forward(idx, w, np.empty((3, 3), np.float32))
    with pytest.raises(ValueError, match=r"^\[embedding\] out must not share memory with weight"):
        _C.embedding_forward(idx, w, w[:3])
    with pytest.raises(ValueError, match=r"^\[embedding\] grad_out must have shape \(3, 2\)"):
        _C.embedding_backward(idx, np.empty((2, 2), np.float32), w)
    with pytest.raises(ValueError, match=r"^\[embedding\] padding_idx must be None or in \[0, 5\)"):
        _C.embedding_backward(idx, out, w, 5)
    with pytest.raises(ValueError, match=r"^\[embedding\] grad_weight must not share memory"):
        _C.embedding_backward(np.array([0]), w[:1], w)

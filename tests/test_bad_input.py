"""The issue's list of bad inputs: each raises a named exception whose message starts with [op]."""

from __future__ import annotations

import os

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import _C, nn
from pyfastdl.nn import functional as F


def raises(exc, op):
    return pytest.raises(exc, match=r"^\[" + op + r"\]")


def test_matmul_mismatched_shapes():
    with raises(ValueError, "matmul"):
        fd.randn(3, 4) @ fd.randn(5, 2)
    with raises(ValueError, "matmul"):
        fd.randn(2, 3, 4) @ fd.randn(3, 5, 2)


def test_matmul_zero_size_shapes_are_computed_or_refused_by_name():
    assert (fd.randn(0, 4) @ fd.randn(4, 3)).shape == (0, 3)
    out = fd.randn(3, 0) @ fd.randn(0, 2)  # K = 0: a sum of nothing
    assert out.shape == (3, 2) and not out.array.any()
    with raises(ValueError, "matmul"):
        fd.randn(3, 0) @ fd.randn(2, 2)


def test_linear_wrong_feature_count_and_negative_sizes():
    layer = nn.Linear(4, 3)
    with raises(ValueError, "linear"):
        layer(fd.randn(2, 5))
    with raises(ValueError, "Linear"):
        nn.Linear(-3, 4)
    with pytest.raises(TypeError, match=r"^\[Linear\]"):
        nn.Linear(2.5, 4)


def test_cross_entropy_out_of_range_and_mismatched_targets():
    logits = fd.randn(4, 10)
    with pytest.raises(IndexError, match=r"^\[cross_entropy\].*out of range"):
        F.cross_entropy(logits, fd.tensor([0, 1, 12, 3]))
    with pytest.raises(IndexError, match=r"^\[cross_entropy\]"):
        F.cross_entropy(logits, fd.tensor([0, -5, 1, 3]))
    with raises(ValueError, "cross_entropy"):
        F.cross_entropy(logits, fd.tensor([0, 1, 2]))
    with raises(ValueError, "cross_entropy"):
        F.cross_entropy(logits, fd.tensor([[0], [1], [2], [3]]))
    with pytest.raises(IndexError, match=r"^\[cross_entropy\]"):  # the float64 (reference) path too
        F.cross_entropy(logits.double(), fd.tensor([0, 1, 12, 3]))


def test_reshape_to_an_impossible_shape():
    with raises(ValueError, "reshape"):
        fd.randn(3, 4).reshape(5, 3)
    with raises(ValueError, "reshape"):
        fd.randn(3, 4).reshape(-1, -1)


def test_out_of_range_indexing():
    x = fd.randn(3, 4)
    with pytest.raises(IndexError, match=r"^\[index\]"):
        x[3]
    with pytest.raises(IndexError, match=r"^\[index\]"):
        x[:, fd.tensor([0, 4])]
    with pytest.raises(IndexError, match=r"^\[index\]"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match=r"^\[sum\]"):
        x.sum(dim=2)


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.float16])
def test_unsupported_dtypes_at_the_binding(dtype):
    a = np.ones((3, 4), dtype)
    b = np.ones((4, 2), np.float32)
    out = np.empty((3, 2), np.float32)
    with pytest.raises(TypeError, match=r"^\[gemm\] a must be float32"):
        _C.gemm(a, b, None, out)
    with pytest.raises(TypeError, match=r"^\[softmax\] x must be float32"):
        _C.softmax_forward(a, np.empty((3, 4), np.float32))


def test_binding_rejects_non_arrays_and_wrong_ranks():
    out = np.empty((3, 2), np.float32)
    with pytest.raises(TypeError, match=r"^\[gemm\] a must be a numpy.ndarray"):
        _C.gemm([[1.0]], np.ones((1, 2), np.float32), None, out)
    with raises(ValueError, "gemm"):
        _C.gemm(np.ones(3, np.float32), np.ones((3, 2), np.float32), None, out)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_negative_eps_as_torch(training):
    x = fd.randn(4, 3)
    with raises(ValueError, "batch_norm"):
        F.batch_norm(x, fd.zeros(3), fd.ones(3), training=training, eps=-1e-5)
    with raises(ValueError, "batch_norm"):  # the module checks at forward, as torch's does
        nn.BatchNorm1d(3, eps=-1.0).train(training)(x)
    if training:  # torch: "eps must be positive during training"
        with raises(ValueError, "batch_norm"):
            F.batch_norm(x, fd.zeros(3), fd.ones(3), training=True, eps=0.0)
    else:
        y = F.batch_norm(x, fd.zeros(3), fd.ones(3), training=False, eps=0.0)
        np.testing.assert_allclose(y.array, x.array)


@pytest.mark.parametrize("bad", [-1, 3])
def test_index_ops_refuse_out_of_bounds_instead_of_wrapping(bad):
    x = fd.randn(4, 3)
    msg = rf"index {bad} is out of bounds for dim 1 with size 3"
    ix2 = fd.tensor([[0, bad]] * 4)
    cases = [
        ("gather", lambda: fd.gather(x, 1, ix2)),
        ("index_select", lambda: fd.index_select(x, 1, fd.tensor([0, bad]))),
        ("scatter_add", lambda: fd.scatter_add(x, 1, ix2, fd.ones(4, 2))),
        ("scatter", lambda: fd.scatter(x, 1, ix2, fd.ones(4, 2))),
        ("index_add", lambda: fd.index_add(x, 1, fd.tensor([bad]), fd.ones(4, 1))),
        ("gather", lambda: fd.take_along_dim(x, ix2, 1)),
    ]
    for op, call in cases:
        with pytest.raises(IndexError, match=r"^\[" + op + r"\] " + msg):
            call()
    # index_fill wraps a negative index, as torch's does, and refuses only >= size
    if bad < 0:
        assert fd.index_fill(x, 1, fd.tensor([bad]), 0.0).array[:, 2].tolist() == [0.0] * 4
    else:
        with raises(IndexError, "index_fill"):
            fd.index_fill(x, 1, fd.tensor([bad]), 0.0)


def test_masked_fill_refuses_a_non_bool_mask():
    x = fd.randn(2, 3)
    for mask in (fd.ones(2, 3), fd.ones(2, 3, dtype=fd.int64)):
        with raises(RuntimeError, "masked_fill"):
            x.masked_fill(mask, 0.0)
    assert x.masked_fill(fd.ones(2, 3) > 0, 0.0).array.tolist() == [[0.0] * 3] * 2


def test_integer_division_by_zero_raises_like_torch():
    a, z = fd.tensor([5, 3]), fd.tensor([0, 1])
    cases = [
        ("floor_divide", lambda: a // z),
        ("floor_divide", lambda: a // 0),
        ("floor_divide", lambda: 7 // z),
        ("remainder", lambda: a % z),
        ("remainder", lambda: fd.remainder(a, 0)),
        ("fmod", lambda: fd.fmod(a, z)),
        ("div", lambda: fd.div(a, z, rounding_mode="floor")),
        ("div", lambda: fd.div(a, z, rounding_mode="trunc")),
        ("floor_divide", lambda: fd.tensor([5], dtype=fd.uint8) // fd.tensor([0], dtype=fd.uint8)),
    ]
    for op, call in cases:
        with pytest.raises(ZeroDivisionError, match=r"^\[" + op + r"\]"):
            call()
    # float division by zero and true division of integers give inf, as in torch
    assert (fd.tensor([5.0]) // 0).tolist() == [float("inf")]
    assert fd.div(a, z).tolist() == [float("inf"), 3.0]
    assert (a // fd.tensor([2, 1])).tolist() == [2, 3]


def test_set_num_threads_refuses_non_positive_and_caps_huge_values():
    before = fd.get_num_threads()
    try:
        for n in (0, -1):
            with raises(ValueError, "set_num_threads"):
                fd.set_num_threads(n)
        for n in (2.0, True, "4"):
            with raises(TypeError, "set_num_threads"):
                fd.set_num_threads(n)
        fd.set_num_threads(2**31)  # capped, never handed to the OpenMP runtime as is
        assert 1 <= fd.get_num_threads() <= max(4 * (os.cpu_count() or 1), 64)
    finally:
        fd.set_num_threads(before)
    assert fd.get_num_threads() == before

"""The issue's list of bad inputs: each raises a named exception whose message starts with [op]."""

from __future__ import annotations

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

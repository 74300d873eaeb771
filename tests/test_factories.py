"""Factories: dtypes, shapes, memory sharing, seeding."""

import numpy as np
import pytest

import pyfastdl as fd


def test_tensor_dtypes():
    assert fd.tensor([1.0, 2.0]).dtype == fd.float32
    assert fd.tensor([1, 2]).dtype == fd.int64
    assert fd.tensor([True]).dtype == fd.bool_
    assert fd.tensor(np.ones(2, np.float64)).dtype == fd.float64
    assert fd.tensor([1, 2], dtype=fd.float64).dtype == fd.float64
    with pytest.raises(TypeError, match=r"^\[tensor\]"):
        fd.tensor(["a"])


def test_tensor_copies_from_numpy_shares():
    a = np.zeros(3, np.float32)
    t = fd.tensor(a)
    f = fd.from_numpy(a)
    a[0] = 5
    assert t.tolist()[0] == 0.0 and f.tolist()[0] == 5.0
    f[1] = 7.0
    assert a[1] == 7.0
    with pytest.raises(TypeError, match=r"^\[from_numpy\]"):
        fd.from_numpy([1, 2])


@pytest.mark.parametrize("fn", [fd.zeros, fd.ones, fd.empty, fd.rand, fd.randn])
def test_shape_factories(fn):
    assert fn(2, 3).shape == (2, 3)
    assert fn((2, 3)).shape == (2, 3)
    assert fn([4]).shape == (4,)
    assert fn(2, dtype=fd.float64).dtype == fd.float64
    assert fn(2, requires_grad=True).requires_grad
    assert fn(2).device == "cpu"


def test_values():
    assert fd.zeros(2).tolist() == [0.0, 0.0]
    assert fd.ones(2, dtype=fd.int64).tolist() == [1, 1]
    assert fd.full((2,), 3).dtype == fd.int64
    assert fd.full((2, 2), 1.5).tolist() == [[1.5, 1.5], [1.5, 1.5]]
    assert fd.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert fd.arange(1, 2, 0.25).tolist() == [1.0, 1.25, 1.5, 1.75]
    assert fd.arange(1, 2, 0.25).dtype == fd.float32
    assert fd.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert fd.eye(2, 3).tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    with pytest.raises(ValueError, match=r"^\[zeros\]"):
        fd.zeros(-1)


def test_like_factories():
    x = fd.ones(2, 3, dtype=fd.float64)
    for fn in (fd.zeros_like, fd.ones_like, fd.empty_like, fd.rand_like, fd.randn_like):
        y = fn(x)
        assert y.shape == (2, 3) and y.dtype == fd.float64
    assert fd.full_like(x, 7).tolist() == [[7.0] * 3] * 2
    r = fd.randint_like(x, 3, 5)
    assert r.dtype == fd.float64 and ((r.numpy() >= 3) & (r.numpy() < 5)).all()
    assert x.new_zeros(4).dtype == fd.float64 and x.new_ones((1, 2)).shape == (1, 2)
    assert x.new_full((2,), 3.0).tolist() == [3.0, 3.0]
    assert x.new_tensor([1, 2]).dtype == fd.float64


def test_random_factories_and_seed():
    fd.manual_seed(0)
    a, b, c, p = fd.rand(5), fd.randn(5), fd.randint(0, 10, (5,)), fd.randperm(6)
    fd.manual_seed(0)
    assert fd.rand(5).tolist() == a.tolist()
    assert fd.randn(5).tolist() == b.tolist()
    assert fd.randint(0, 10, (5,)).tolist() == c.tolist()
    assert fd.randperm(6).tolist() == p.tolist()
    assert sorted(p.tolist()) == list(range(6)) and c.dtype == fd.int64
    assert ((a.numpy() >= 0) & (a.numpy() < 1)).all()
    assert fd.randint(3, (2, 2)).shape == (2, 2)
    g = fd.Generator().manual_seed(1)
    g2 = fd.Generator().manual_seed(1)
    assert fd.rand(3, generator=g).tolist() == fd.rand(3, generator=g2).tolist()
    with pytest.raises(ValueError, match=r"^\[randint\]"):
        fd.randint(5, 5, (2,))

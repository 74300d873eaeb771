"""nn.init.dirac_ and sparse_ (exact structure vs PyTorch, statistics at a fixed seed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl.nn import init

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    ("shape", "groups"),
    [((6, 3, 3, 3), 2), ((4, 2, 5), 1), ((3, 5, 2, 3, 3), 1), ((4, 4, 3, 3), 4), ((2, 6, 4, 4), 1)],
)
def test_dirac_matches_torch(shape, groups):
    ours = init.dirac_(fd.randn(*shape), groups)
    theirs = torch.nn.init.dirac_(torch.randn(*shape), groups)
    np.testing.assert_array_equal(ours.array, theirs.numpy())


def test_dirac_is_identity_conv():
    w = init.dirac_(fd.empty(3, 3, 3, 3, dtype=fd.float64))
    x = np.random.default_rng(0).standard_normal((1, 3, 5, 5))
    y = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w.array), padding=1)
    np.testing.assert_allclose(y.numpy(), x, atol=1e-12)


def test_dirac_errors():
    with pytest.raises(ValueError, match=r"^\[dirac_\] only tensors with 3, 4, or 5 dimensions"):
        init.dirac_(fd.empty(3, 3))
    with pytest.raises(ValueError, match=r"^\[dirac_\] dim 0 \(6\) must be divisible by groups"):
        init.dirac_(fd.empty(6, 2, 3), groups=4)


def test_sparse_structure_and_moments():
    fd.manual_seed(5)
    w = init.sparse_(fd.empty(200, 300), sparsity=0.25, std=0.05).array.astype(np.float64)
    zeros_per_col = (w == 0).sum(axis=0)
    assert (zeros_per_col == math.ceil(0.25 * 200)).all()
    rows = (w == 0).sum(axis=1)  # the zeros fall on random rows, not the same ones
    assert rows.min() < rows.max()
    nz = w[w != 0]
    assert nz.std() == pytest.approx(0.05, rel=0.02)
    assert abs(nz.mean()) < 4 * 0.05 / math.sqrt(nz.size)
    fd.manual_seed(5)
    again = init.sparse_(fd.empty(200, 300), sparsity=0.25, std=0.05).array
    np.testing.assert_array_equal(again, w.astype(np.float32))


def test_sparse_errors_and_generator():
    with pytest.raises(ValueError, match=r"^\[sparse_\] only tensors with 2 dimensions"):
        init.sparse_(fd.empty(3, 3, 3), 0.1)
    g1, g2 = fd.Generator().manual_seed(1), fd.Generator().manual_seed(1)
    np.testing.assert_array_equal(
        init.sparse_(fd.empty(5, 4), 0.5, generator=g1).array,
        init.sparse_(fd.empty(5, 4), 0.5, generator=g2).array,
    )


def test_orthogonal_is_haar_like_and_trunc_normal_shifted():
    fd.manual_seed(0)
    q = init.orthogonal_(fd.empty(64, 64, dtype=fd.float64)).array
    np.testing.assert_allclose(q @ q.T, np.eye(64), atol=1e-10)
    assert abs(q.mean()) < 4 * (1 / 8) / 64  # entries ~ N(0, 1/64), 4096 of them
    assert q.std() == pytest.approx(1 / 8, rel=0.05)
    t = init.trunc_normal_(fd.empty(20000, dtype=fd.float64), mean=1.0, std=2.0, a=0.0, b=3.0)
    a = t.array
    assert a.min() >= 0.0 and a.max() <= 3.0
    # The mean of N(1, 2^2) truncated to [0, 3], i.e. to [-0.5, 1] standard deviations.
    lo, hi = (0.0 - 1.0) / 2.0, (3.0 - 1.0) / 2.0
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    expected = 1.0 + 2.0 * (pdf(lo) - pdf(hi)) / (cdf(hi) - cdf(lo))
    assert a.mean() == pytest.approx(expected, abs=4 * a.std() / math.sqrt(a.size))

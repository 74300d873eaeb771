"""fold/unfold, bilinear, cosine_similarity, pairwise_distance, pdist, normalize (F.*, layers) vs
PyTorch: values, gradients, float64 gradient checks, reprs, state dicts and argument errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.nn import functional as F
from pyfastdl.testing import gradcheck

from ._torch_compare import check, close

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.usefixtures("torch_one_thread")


def randn(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ------------------------------------------------------------------------------ fold / unfold
BLOCKS = [
    dict(kernel_size=2),
    dict(kernel_size=3, padding=1),
    dict(kernel_size=(2, 3), dilation=(2, 1), padding=(1, 2), stride=(2, 3)),
    dict(kernel_size=(3, 1), stride=2),
]


@pytest.mark.parametrize("kw", BLOCKS, ids=str)
@pytest.mark.parametrize("shape", [(2, 3, 7, 8), (3, 6, 5)])
def test_unfold_and_fold_match_torch(kw, shape):
    x = randn(*shape)
    check(lambda x: F.unfold(x, **kw), lambda x: TF.unfold(x, **kw), [x])
    cols = TF.unfold(torch.tensor(x), **kw).numpy()
    size = shape[-2:]
    check(lambda c: F.fold(c, size, **kw), lambda c: TF.fold(c, size, **kw), [cols])


def test_fold_unfold_gradcheck_float64():
    x = fd.tensor(randn(1, 2, 4, 5, dtype=np.float64), requires_grad=True)
    gradcheck(lambda x: F.unfold(x, 2, padding=1, stride=2), x)
    c = fd.tensor(randn(1, 8, 6, dtype=np.float64), requires_grad=True)
    gradcheck(lambda c: F.fold(c, (3, 4), 2), c)


def test_fold_unfold_layers():
    for ours, theirs in [
        (nn.Unfold(2, padding=1), torch.nn.Unfold(2, padding=1)),
        (nn.Fold(4, 2), torch.nn.Fold(4, 2)),
        (nn.Fold((4, 5), (2, 3), stride=(1, 2)), torch.nn.Fold((4, 5), (2, 3), stride=(1, 2))),
    ]:
        assert repr(ours) == repr(theirs)
    x = randn(2, 3, 4, 4)
    close(nn.Unfold(2, padding=1)(fd.tensor(x)), torch.nn.Unfold(2, padding=1)(torch.tensor(x)), 0)
    c = randn(2, 12, 9)
    close(nn.Fold(4, 2)(fd.tensor(c)), torch.nn.Fold(4, 2)(torch.tensor(c)), 1e-6)


def test_fold_unfold_errors():
    with pytest.raises(ValueError, match=r"^\[fold\] expected size of input's dimension 1 to be"):
        F.fold(fd.ones(1, 5, 9), 4, 2)
    with pytest.raises(ValueError, match=r"^\[fold\] given output_size=\(4, 4\)"):
        F.fold(fd.ones(1, 4, 8), 4, 2)
    with pytest.raises(ValueError, match=r"^\[unfold\] expected a 3-d"):
        F.unfold(fd.ones(2, 2), 2)
    with pytest.raises(ValueError, match=r"^\[unfold\] kernel_size \(3, 3\)"):
        F.unfold(fd.ones(1, 1, 2, 2), 3)
    with pytest.raises(ValueError, match=r"^\[unfold\] stride must be positive"):
        F.unfold(fd.ones(1, 1, 4, 4), 2, stride=0)


# ------------------------------------------------------------------------------------ bilinear
@pytest.mark.parametrize("lead", [(5,), (2, 3), ()], ids=str)
@pytest.mark.parametrize("with_bias", [True, False])
def test_bilinear_matches_torch(lead, with_bias):
    x1, x2, w = randn(*lead, 4), randn(*lead, 3, seed=1), randn(6, 4, 3, seed=2)
    if with_bias:
        check(F.bilinear, TF.bilinear, [x1, x2, w, randn(6, seed=3)])
    else:
        check(F.bilinear, TF.bilinear, [x1, x2, w])


def test_bilinear_gradcheck_float64():
    x1, x2 = randn(3, 2, dtype=np.float64), randn(3, 4, dtype=np.float64, seed=1)
    w, b = randn(2, 2, 4, dtype=np.float64, seed=2), randn(2, dtype=np.float64, seed=3)
    args = [fd.tensor(a, requires_grad=True) for a in (x1, x2, w, b)]
    gradcheck(F.bilinear, *args)


def test_bilinear_layer():
    m, t = nn.Bilinear(3, 4, 5), torch.nn.Bilinear(3, 4, 5)
    assert repr(m) == repr(t)
    assert [(k, v.shape) for k, v in m.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in t.state_dict().items()
    ]
    assert np.abs(m.weight.array).max() <= 1 / math.sqrt(3)
    m.load_state_dict({k: fd.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    x1, x2 = randn(2, 3), randn(2, 4, seed=1)
    close(m(fd.tensor(x1), fd.tensor(x2)), t(torch.tensor(x1), torch.tensor(x2)), 1e-5)
    assert repr(nn.Bilinear(1, 2, 3, bias=False)) == repr(torch.nn.Bilinear(1, 2, 3, bias=False))
    with pytest.raises(ValueError, match=r"^\[bilinear\] input1 and input2 must have 3 and 4"):
        m(fd.ones(2, 4), fd.ones(2, 4))
    with pytest.raises(ValueError, match=r"^\[bilinear\] input1 and input2 must have the same"):
        m(fd.ones(2, 3), fd.ones(3, 4))


# ----------------------------------------------------------------------------------- distances
@pytest.mark.parametrize("shapes, dim", [(((4, 5), (4, 5)), 1), (((4, 5, 3), (1, 5, 3)), 1),
                                         (((4, 5, 3), (5, 3)), -1), (((6,), (6,)), 0)])  # fmt: skip
def test_cosine_similarity_matches_torch(shapes, dim):
    x1, x2 = randn(*shapes[0]), randn(*shapes[1], seed=1)
    check(lambda a, b: F.cosine_similarity(a, b, dim),
          lambda a, b: TF.cosine_similarity(a, b, dim), [x1, x2])  # fmt: skip


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, math.inf])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance_matches_torch(p, keepdim):
    x1, x2 = randn(4, 5), randn(1, 5, seed=1)
    x2[0] = x1[1]  # one pair at distance eps
    check(lambda a, b: F.pairwise_distance(a, b, p, keepdim=keepdim),
          lambda a, b: TF.pairwise_distance(a, b, p, keepdim=keepdim), [x1, x2])  # fmt: skip
    zero = TF.pairwise_distance(torch.tensor(x1), torch.tensor(x2), 0.0)
    close(F.pairwise_distance(fd.tensor(x1), fd.tensor(x2), 0.0), zero, 0)


@pytest.mark.parametrize("p, dim", [(2.0, 1), (1.0, -1), (3.0, 0), (math.inf, 2), (0.5, 1)])
def test_normalize_matches_torch(p, dim):
    x = randn(3, 4, 5)
    x[0, :, 0] = 0  # a zero vector along dim 1: its norm is clamped to eps
    check(lambda x: F.normalize(x, p, dim), lambda x: TF.normalize(x, p, dim), [x])


def test_normalize_0d_out_and_gradcheck():
    close(F.normalize(fd.tensor(-3.0), dim=0), TF.normalize(torch.tensor(-3.0), dim=0), 0)
    x = randn(2, 3)
    out = fd.zeros(2, 3)
    assert F.normalize(fd.tensor(x), out=out) is out
    close(out, TF.normalize(torch.tensor(x)), 1e-6)
    gradcheck(
        lambda a: F.normalize(a, 3.0), fd.tensor(randn(3, 4, dtype=np.float64), requires_grad=True)
    )
    with pytest.raises(IndexError, match=r"^\[normalize\] dim 2 is out of range"):
        F.normalize(fd.ones(2, 3), dim=2)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, math.inf])
def test_pdist_matches_torch(p):
    x = randn(5, 3)
    x[3] = x[1]  # one pair at distance 0: a zero gradient, as in PyTorch
    check(lambda x: F.pdist(x, p), lambda x: TF.pdist(x, p), [x])
    assert F.pdist(fd.ones(1, 3)).shape == (0,)
    with pytest.raises(ValueError, match=r"^\[pdist\] input must be a 2-d"):
        F.pdist(fd.ones(3))


def test_distances_gradcheck_float64_and_zero_vectors():
    a = fd.tensor(randn(3, 4, dtype=np.float64), requires_grad=True)
    b = fd.tensor(randn(3, 4, dtype=np.float64, seed=1), requires_grad=True)
    gradcheck(F.cosine_similarity, a, b)
    gradcheck(lambda a, b: F.pairwise_distance(a, b, 3.0), a, b)
    z = fd.zeros(2, 3, requires_grad=True)
    F.cosine_similarity(z, fd.ones(2, 3)).sum().backward()
    assert np.all(np.isfinite(z.grad.array))
    z2 = fd.zeros(2, 3, requires_grad=True)
    F.pairwise_distance(z2, fd.zeros(2, 3), eps=0.0).sum().backward()
    assert np.all(z2.grad.array == 0)


def test_distance_layers_and_errors():
    assert repr(nn.CosineSimilarity()) == repr(torch.nn.CosineSimilarity())
    assert repr(nn.PairwiseDistance()) == repr(torch.nn.PairwiseDistance())
    x1, x2 = randn(3, 4), randn(3, 4, seed=1)
    close(nn.CosineSimilarity(dim=0)(fd.tensor(x1), fd.tensor(x2)),
          torch.nn.CosineSimilarity(dim=0)(torch.tensor(x1), torch.tensor(x2)), 1e-6)  # fmt: skip
    close(nn.PairwiseDistance(1.0, keepdim=True)(fd.tensor(x1), fd.tensor(x2)),
          torch.nn.PairwiseDistance(1.0, keepdim=True)(torch.tensor(x1), torch.tensor(x2)),
          1e-5)  # fmt: skip
    with pytest.raises(ValueError, match=r"^\[cosine_similarity\] x1 and x2 must broadcast"):
        F.cosine_similarity(fd.ones(2, 3), fd.ones(3, 2))
    with pytest.raises(IndexError, match=r"^\[cosine_similarity\] dim 2 is out of range"):
        F.cosine_similarity(fd.ones(2, 3), fd.ones(2, 3), dim=2)
    with pytest.raises(ValueError, match=r"^\[pairwise_distance\] p must be a non-negative"):
        F.pairwise_distance(fd.ones(2, 3), fd.ones(2, 3), p=-1.0)

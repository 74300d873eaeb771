"""Bernoulli, Categorical and OneHotCategorical against torch.distributions (float64, values and
gradients with respect to probs or logits), shapes, enumerate_support."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.distributions as D

torch = pytest.importorskip("torch")
TD = torch.distributions

RNG = np.random.default_rng(0)
K = 5


def _params(name, which):
    if name == "Bernoulli":
        p = RNG.uniform(0.05, 0.95, (3, 4))
        return {"probs": p} if which == "probs" else {"logits": np.log(p) - np.log1p(-p)}
    p = RNG.dirichlet(np.ones(K), (3, 4)) * 2.5  # unnormalised: both normalise
    return {"probs": p} if which == "probs" else {"logits": RNG.standard_normal((3, 4, K))}


def _values(name):
    if name == "Bernoulli":
        return (RNG.random((2, 3, 4)) < 0.5).astype(np.float64)
    idx = RNG.integers(0, K, (2, 3, 4))
    if name == "Categorical":
        return idx
    return np.eye(K)[idx]


NAMES = ["Bernoulli", "Categorical", "OneHotCategorical"]


@pytest.mark.parametrize("which", ["probs", "logits"])
@pytest.mark.parametrize("name", NAMES)
def test_log_prob_entropy_moments(name, which, compare):
    ours, theirs = getattr(D, name), getattr(TD, name)
    params = _params(name, which)
    compare(ours, theirs, params, lambda d, v: d.log_prob(v), value=_values(name))
    compare(ours, theirs, params, lambda d, v: d.entropy())
    compare(ours, theirs, params, lambda d, v: d.probs)
    compare(ours, theirs, params, lambda d, v: d.logits)
    if name != "Categorical":  # Categorical's mean and variance are NaN
        compare(ours, theirs, params, lambda d, v: d.mean)
        compare(ours, theirs, params, lambda d, v: d.variance)
    if name != "Bernoulli":  # Bernoulli's mode is NaN at probs 0.5 only
        compare(ours, theirs, params, lambda d, v: d.mode)


def test_categorical_mean_variance_are_nan():
    d = D.Categorical(probs=fd.tensor([[0.2, 0.8]]))
    assert np.isnan(d.mean.numpy()).all() and d.mean.shape == (1,)
    assert np.isnan(d.variance.numpy()).all()


def test_bernoulli_mode():
    d = D.Bernoulli(probs=fd.tensor([0.2, 0.5, 0.7]))
    m = d.mode.numpy()
    assert m[0] == 0 and np.isnan(m[1]) and m[2] == 1


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_enumerate_support_match_torch(name):
    params = _params(name, "probs")
    ours = getattr(D, name)(**{k: fd.tensor(v) for k, v in params.items()})
    theirs = getattr(TD, name)(**{k: torch.tensor(v) for k, v in params.items()})
    assert ours.batch_shape == tuple(theirs.batch_shape)
    assert ours.event_shape == tuple(theirs.event_shape)
    assert ours.param_shape == tuple(theirs.param_shape)
    for shape in [(), (6,), (2, 3)]:
        s = ours.sample(shape)
        t = theirs.sample(shape)
        assert s.shape == tuple(t.shape)
        assert str(s.dtype) == str(t.dtype).replace("torch.", "")
    for expand in (True, False):
        np.testing.assert_array_equal(
            ours.enumerate_support(expand).numpy(), theirs.enumerate_support(expand).numpy()
        )


def test_samples_are_in_the_support_and_never_pick_zero_probabilities():
    fd.manual_seed(0)
    d = D.Categorical(probs=fd.tensor([0.3, 0.0, 0.7, 0.0]))
    s = d.sample((4000,)).numpy()
    assert set(np.unique(s)) == {0, 2}
    o = D.OneHotCategorical(logits=fd.tensor([0.0, 1.0, 2.0])).sample((100,)).numpy()
    assert (o.sum(-1) == 1).all()
    b = D.Bernoulli(logits=fd.tensor([-50.0, 50.0])).sample((100,)).numpy()
    assert (b[:, 0] == 0).all() and (b[:, 1] == 1).all()

"""Distribution.expand against torch: batch shapes, samples and log_prob of expanded
distributions, and the named error for a batch shape the parameters do not broadcast to."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.distributions as D

torch = pytest.importorskip("torch")
TD = torch.distributions

RNG = np.random.default_rng(0)
P = RNG.uniform(0.5, 2.0, (1, 3))
SIMPLEX = RNG.dirichlet(np.ones(4), (1, 3))
COV = np.array([[2.0, 0.5], [0.5, 1.0]])


def _build(m, name):
    t = fd.tensor if m is D else torch.tensor
    if name == "Independent":
        return m.Independent(m.Normal(t(P), t(P)), 1)
    if name == "MultivariateNormal":
        return m.MultivariateNormal(t(P[..., :2]), covariance_matrix=t(COV))
    if name == "Transformed":
        tr = D.transforms if m is D else TD.transforms
        return m.TransformedDistribution(m.Normal(t(P), t(P)), [tr.ExpTransform()])
    if name in ("Categorical", "OneHotCategorical"):
        return getattr(m, name)(probs=t(SIMPLEX))
    if name == "Dirichlet":
        return m.Dirichlet(t(SIMPLEX + 0.5))
    if name == "Bernoulli":
        return m.Bernoulli(logits=t(P))
    n = {"Exponential": 1}.get(name, 2)
    return getattr(m, name)(*[t(P * (i + 1)) for i in range(n)])


NAMES = [
    "Normal", "Laplace", "Uniform", "Exponential", "Gamma", "Beta", "Dirichlet", "Bernoulli",
    "Categorical", "OneHotCategorical", "MultivariateNormal", "Independent", "Transformed",
]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_expand_matches_torch(name):
    ours, theirs = _build(D, name), _build(TD, name)
    shape = (4,) + tuple(ours.batch_shape[:-2]) + (2, ours.batch_shape[-1])
    e, te = ours.expand(shape), theirs.expand(torch.Size(shape))
    assert e.batch_shape == tuple(te.batch_shape) and e.event_shape == tuple(te.event_shape)
    fd.manual_seed(0)
    x = e.sample((3,))
    assert x.shape == tuple(te.sample((3,)).shape)
    lp = e.log_prob(x)
    tlp = te.log_prob(torch.tensor(x.numpy()))
    np.testing.assert_allclose(lp.numpy(), tlp.numpy(), rtol=1e-9, atol=1e-9)
    assert ours.batch_shape != e.batch_shape  # the original is untouched


def test_expand_to_a_shape_that_does_not_broadcast_is_named():
    with pytest.raises(
        ValueError, match=r"\[Normal\] cannot expand batch_shape \(1, 3\) to \(2, 4\)"
    ):
        D.Normal(fd.tensor(P), 1.0).expand((2, 4))

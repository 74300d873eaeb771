"""kl_divergence against torch for every registered pair (values and gradients with respect to
both distributions' parameters, float64), the registry's dispatch and its errors."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.distributions as D

torch = pytest.importorskip("torch")
TD = torch.distributions

RNG = np.random.default_rng(0)
S = (3, 4)


def _pos(*shape):
    return RNG.uniform(0.4, 3.0, shape)


def _spd():
    m = RNG.standard_normal((2, 3, 3))
    return m @ np.swapaxes(m, -1, -2) + 3 * np.eye(3)


# name -> (class name, params of p, params of q)
PAIRS = {
    "Normal": (
        "Normal",
        {"loc": RNG.standard_normal(S), "scale": _pos(*S)},
        {"loc": RNG.standard_normal(S), "scale": _pos(*S)},
    ),
    "Laplace": (
        "Laplace",
        {"loc": RNG.standard_normal(S), "scale": _pos(*S)},
        {"loc": RNG.standard_normal(S), "scale": _pos(*S)},
    ),
    "Bernoulli": (
        "Bernoulli",
        {"logits": RNG.standard_normal(S)},
        {"probs": RNG.uniform(0.1, 0.9, S)},
    ),
    "Categorical": (
        "Categorical",
        {"logits": RNG.standard_normal((*S, 5))},
        {"probs": RNG.dirichlet(np.ones(5), S)},
    ),
    "OneHotCategorical": (
        "OneHotCategorical",
        {"probs": RNG.dirichlet(np.ones(5), S)},
        {"logits": RNG.standard_normal((*S, 5))},
    ),
    "Uniform": (
        "Uniform",
        {"low": -_pos(*S) / 4, "high": _pos(*S) / 4},
        {"low": -_pos(*S) - 1, "high": _pos(*S) + 1},
    ),
    "Exponential": ("Exponential", {"rate": _pos(*S)}, {"rate": _pos(*S)}),
    "Gamma": (
        "Gamma",
        {"concentration": _pos(*S), "rate": _pos(*S)},
        {"concentration": _pos(*S), "rate": _pos(*S)},
    ),
    "Beta": (
        "Beta",
        {"concentration1": _pos(*S), "concentration0": _pos(*S)},
        {"concentration1": _pos(*S), "concentration0": _pos(*S)},
    ),
    "Dirichlet": ("Dirichlet", {"concentration": _pos(*S)}, {"concentration": _pos(*S)}),
    "MultivariateNormal": (
        "MultivariateNormal",
        {"loc": RNG.standard_normal((4, 1, 3)), "covariance_matrix": _spd()},
        {"loc": RNG.standard_normal((2, 3)), "scale_tril": np.linalg.cholesky(_spd())},
    ),
}


@pytest.mark.parametrize("name", PAIRS)
def test_kl_matches_torch(name, compare):
    cls, p_params, q_params = PAIRS[name]
    params = {
        **{"p_" + k: v for k, v in p_params.items()},
        **{"q_" + k: v for k, v in q_params.items()},
    }

    def builder(module):
        def build(**kw):
            p = getattr(module, cls)(**{k[2:]: v for k, v in kw.items() if k.startswith("p_")})
            q = getattr(module, cls)(**{k[2:]: v for k, v in kw.items() if k.startswith("q_")})
            return p, q

        return build

    compare(builder(D), builder(TD), params, lambda pq, v: kl(pq), atol=1e-8)


def kl(pq):
    p, q = pq
    if isinstance(p, D.Distribution):
        return D.kl_divergence(p, q)
    return TD.kl_divergence(p, q)


def test_kl_infinite_outside_support_as_torch():
    p, q = (
        D.Uniform(fd.tensor([0.0, 0.0]), fd.tensor([2.0, 1.0])),
        D.Uniform(fd.tensor([0.0, -1.0]), fd.tensor([1.0, 3.0])),
    )
    tp, tq = (
        TD.Uniform(torch.tensor([0.0, 0.0]), torch.tensor([2.0, 1.0])),
        TD.Uniform(torch.tensor([0.0, -1.0]), torch.tensor([1.0, 3.0])),
    )
    np.testing.assert_allclose(D.kl_divergence(p, q).numpy(), TD.kl_divergence(tp, tq).numpy())
    b = D.kl_divergence(
        D.Bernoulli(probs=fd.tensor([0.0, 0.5, 1.0])), D.Bernoulli(probs=fd.tensor([0.5, 0.0, 1.0]))
    )
    tb = TD.kl_divergence(
        TD.Bernoulli(probs=torch.tensor([0.0, 0.5, 1.0])),
        TD.Bernoulli(probs=torch.tensor([0.5, 0.0, 1.0])),
    )
    np.testing.assert_allclose(b.numpy(), tb.numpy())


def test_independent_kl_sums_the_reinterpreted_dims():
    p = D.Independent(D.Normal(fd.zeros(4, 3), fd.ones(4, 3)), 1)
    q = D.Independent(D.Normal(fd.ones(4, 3), fd.ones(4, 3)), 1)
    np.testing.assert_allclose(D.kl_divergence(p, q).numpy(), np.full(4, 1.5))
    with pytest.raises(NotImplementedError, match=r"\[kl_divergence\].*reinterpreted_batch_ndims"):
        D.kl_divergence(p, D.Independent(q.base_dist, 2))


def test_unregistered_pair_names_both_types():
    with pytest.raises(NotImplementedError, match=r"\[kl_divergence\].*Normal.*Gamma"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Gamma(1.0, 1.0))


def test_register_kl_dispatches_to_the_most_specific_pair():
    class MyNormal(D.Normal):
        pass

    @D.register_kl(MyNormal, D.Normal)
    def _kl(p, q):
        return fd.tensor(42.0)

    assert D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(0.0, 1.0)).item() == 42.0
    assert D.kl_divergence(D.Normal(0.0, 1.0), MyNormal(0.0, 1.0)).item() == 0.0
    with pytest.raises(TypeError, match=r"\[register_kl\]"):
        D.register_kl(int, D.Normal)

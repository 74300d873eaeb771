"""Sampling: moments of many draws within a bound derived from the sample size (fixed seed, so
deterministic), reproducibility under fd.manual_seed, reparameterised gradients."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.distributions as D
from pyfastdl.testing import gradcheck

N = 20000
Z = 5.0  # bounds are Z standard errors: a correct sampler fails with probability ~1e-6


def _t(*v):
    return fd.tensor(np.array(v, dtype=np.float64))


CASES = {
    "Normal": lambda: D.Normal(_t(-1.0, 2.0), _t(0.5, 3.0)),
    "Laplace": lambda: D.Laplace(_t(-1.0, 2.0), _t(0.5, 3.0)),
    "Uniform": lambda: D.Uniform(_t(-1.0, 2.0), _t(0.5, 3.0)),
    "Exponential": lambda: D.Exponential(_t(0.5, 3.0)),
    "Gamma": lambda: D.Gamma(_t(0.3, 4.0), _t(0.5, 3.0)),
    "Beta": lambda: D.Beta(_t(0.3, 4.0), _t(0.5, 3.0)),
    "Dirichlet": lambda: D.Dirichlet(_t(0.3, 4.0, 1.0)),
    "Bernoulli": lambda: D.Bernoulli(probs=_t(0.1, 0.7)),
    "OneHotCategorical": lambda: D.OneHotCategorical(probs=_t(0.1, 0.6, 0.3)),
    "MultivariateNormal": lambda: D.MultivariateNormal(
        _t(1.0, -1.0), covariance_matrix=_t([2.0, 0.8], [0.8, 1.0])
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_sample_mean_and_variance(name):
    d = CASES[name]()
    fd.manual_seed(0)
    x = d.sample((N,)).numpy()
    mean, var = d.mean.detach().numpy(), d.variance.detach().numpy()
    se_mean = np.sqrt(var / N)
    assert (np.abs(x.mean(0) - mean) < Z * se_mean).all(), (x.mean(0), mean)
    sq = (x - mean) ** 2
    se_var = sq.std(0) / np.sqrt(N)
    assert (np.abs(sq.mean(0) - var) < Z * se_var).all(), (sq.mean(0), var)


def test_categorical_frequencies():
    p = np.array([0.1, 0.0, 0.6, 0.3])
    fd.manual_seed(0)
    x = D.Categorical(probs=fd.tensor(p)).sample((N,)).numpy()
    freq = np.bincount(x, minlength=4) / N
    assert (np.abs(freq - p) <= Z * np.sqrt(p * (1 - p) / N)).all()


def test_multivariate_normal_covariance():
    cov = np.array([[2.0, 0.8], [0.8, 1.0]])
    fd.manual_seed(1)
    x = D.MultivariateNormal(
        fd.zeros(2, dtype=fd.float64), covariance_matrix=fd.tensor(cov)
    ).sample((N,))
    c = np.cov(x.numpy().T)
    # the standard error of a sample covariance entry is sqrt((s_ii s_jj + s_ij^2) / N)
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / N)
    assert (np.abs(c - cov) < Z * se).all()


@pytest.mark.parametrize("name", CASES)
def test_manual_seed_makes_draws_reproducible(name):
    d = CASES[name]()
    fd.manual_seed(123)
    a = d.sample((5,)).numpy()
    fd.manual_seed(123)
    b = d.sample((5,)).numpy()
    c = d.sample((5,)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


@pytest.mark.parametrize("name", ["Normal", "Laplace"])
def test_rsample_is_loc_plus_scale_times_noise(name):
    loc = fd.tensor([0.5, -1.0], dtype=fd.float64, requires_grad=True)
    scale = fd.tensor([2.0, 0.5], dtype=fd.float64, requires_grad=True)
    d = getattr(D, name)(loc, scale)
    x = d.rsample((1000,))
    x.mean().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [0.5, 0.5])  # d mean(x) / d loc = 1 / 2 dims
    noise = (x.detach().numpy() - loc.detach().numpy()) / scale.detach().numpy()
    np.testing.assert_allclose(scale.grad.numpy(), noise.mean(0) / 2, atol=1e-12)
    assert x.requires_grad and not d.sample().requires_grad


def test_rsample_gradients_uniform_and_exponential():
    low = fd.tensor([0.0], dtype=fd.float64, requires_grad=True)
    high = fd.tensor([2.0], dtype=fd.float64, requires_grad=True)
    u = D.Uniform(low, high).rsample((50,))
    u.sum().backward()
    frac = (u.detach().numpy() - 0.0) / 2.0
    np.testing.assert_allclose(high.grad.numpy(), frac.sum(0))
    np.testing.assert_allclose(low.grad.numpy(), (1 - frac).sum(0))
    rate = fd.tensor([2.0], dtype=fd.float64, requires_grad=True)
    e = D.Exponential(rate).rsample((50,))
    e.sum().backward()
    np.testing.assert_allclose(rate.grad.numpy(), -e.detach().numpy().sum(0) / 2.0)


def _per_draw_grads(make, params, index=0):
    """d x / d params for each of N draws: every draw gets its own copy of the parameters
    (leading dim N), so their gradients are the per-draw derivatives of draw coordinate `index`."""
    ts = [
        fd.tensor(np.tile(np.array(p, dtype=np.float64), (N, 1)), requires_grad=True)
        for p in params
    ]
    fd.manual_seed(0)
    x = make(*ts).rsample()
    x[:, index].sum().backward()
    return [t.grad.numpy() for t in ts]


def _assert_mean_is(samples, expected):
    """The mean of per-draw values is `expected` within Z standard errors."""
    se = samples.std(0) / np.sqrt(len(samples))
    assert (np.abs(samples.mean(0) - expected) < Z * se).all(), (samples.mean(0), expected)


def test_gamma_rsample_gradient_is_unbiased():
    # E[x] = c / r: d/dc = 1 / r, d/dr = -c / r^2
    c, r = 2.5, 1.5
    gc, gr = _per_draw_grads(D.Gamma, [[c], [r]])
    _assert_mean_is(gc[:, 0], 1 / r)
    _assert_mean_is(gr[:, 0], -c / r**2)


def test_gamma_rsample_gradient_matches_torch_and_finite_differences():
    torch = pytest.importorskip("torch")
    for c in [0.2, 1.0, 3.0, 40.0]:
        conc = fd.tensor(np.full(200, c), requires_grad=True)
        fd.manual_seed(0)
        x = D.Gamma(conc, fd.tensor(1.0, dtype=fd.float64)).rsample()
        x.sum().backward()
        xs = torch.tensor(x.detach().numpy())
        ours = conc.grad.numpy()
        # torch's own approximation of the same derivative is accurate to about 1e-3
        theirs = torch._standard_gamma_grad(torch.full((200,), c, dtype=torch.float64), xs)
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=2e-3, atol=1e-12)
        # dx/dc = -(dP/dc) / f(x) with dP/dc by central differences of torch's gammainc
        h = 1e-6 * max(c, 1.0)
        cc = torch.full((200,), c, dtype=torch.float64)
        dp = (torch.special.gammainc(cc + h, xs) - torch.special.gammainc(cc - h, xs)) / (2 * h)
        dens = torch.distributions.Gamma(cc, 1.0).log_prob(xs).exp()
        np.testing.assert_allclose(ours, (-dp / dens).numpy(), rtol=1e-5, atol=1e-10)


def test_beta_and_dirichlet_rsample_gradients_are_unbiased():
    # Beta: E[x] = a / (a + b), d/da = b / (a + b)^2, d/db = -a / (a + b)^2
    a, b = 2.0, 3.0
    ga, gb = _per_draw_grads(D.Beta, [[a], [b]])
    _assert_mean_is(ga[:, 0], b / (a + b) ** 2)
    _assert_mean_is(gb[:, 0], -a / (a + b) ** 2)
    # Dirichlet: E[x_0] = c_0 / s (s the sum), d/dc_0 = (s - c_0) / s^2, d/dc_j = -c_0 / s^2
    c = np.array([2.0, 1.0, 3.0])
    (gc,) = _per_draw_grads(D.Dirichlet, [c])
    _assert_mean_is(gc, np.array([c.sum() - c[0], -c[0], -c[0]]) / c.sum() ** 2)


def test_gamma_cdf_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    c, r, v = rng.uniform(0.3, 5, 6), rng.uniform(0.5, 2, 6), rng.uniform(0.01, 6, 6)
    ours = D.Gamma(fd.tensor(c), fd.tensor(r)).cdf(fd.tensor(v))
    theirs = torch.distributions.Gamma(torch.tensor(c), torch.tensor(r)).cdf(torch.tensor(v))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-9, atol=1e-12)
    args = [fd.tensor(a, requires_grad=True) for a in (c, r, v)]
    assert gradcheck(lambda c, r, v: D.Gamma(c, r).cdf(v), *args)

"""Continuous distributions against torch.distributions: log_prob, entropy, moments, cdf/icdf,
values and gradients with respect to the parameters, in float64."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.distributions as D

torch = pytest.importorskip("torch")
TD = torch.distributions

RNG = np.random.default_rng(0)
SHAPE = (3, 4)


def _pos(*shape, lo=0.5, hi=3.0):
    return RNG.uniform(lo, hi, shape)


# name -> (params, values inside the support (broadcast against the batch shape))
SPECS = {
    "Normal": (
        {"loc": RNG.standard_normal(SHAPE), "scale": _pos(*SHAPE)},
        RNG.standard_normal((2, *SHAPE)),
    ),
    "Laplace": (
        {"loc": RNG.standard_normal(SHAPE), "scale": _pos(1, 4)},
        RNG.standard_normal((2, *SHAPE)),
    ),
    "Uniform": (
        {"low": -_pos(*SHAPE), "high": _pos(*SHAPE)},
        RNG.uniform(-0.4, 0.4, (2, *SHAPE)),
    ),
    "Exponential": ({"rate": _pos(*SHAPE)}, _pos(2, *SHAPE, lo=0.01)),
    "Gamma": (
        {"concentration": _pos(*SHAPE, lo=0.3), "rate": _pos(*SHAPE)},
        _pos(2, *SHAPE, lo=0.05),
    ),
    "Beta": (
        {"concentration1": _pos(*SHAPE, lo=0.3), "concentration0": _pos(4)},
        RNG.uniform(0.05, 0.95, (2, *SHAPE)),
    ),
    "Dirichlet": (
        {"concentration": _pos(*SHAPE, lo=0.3)},
        RNG.dirichlet(np.ones(4), (2, 3)),
    ),
}
CDF = ["Normal", "Laplace", "Uniform", "Exponential"]


def _classes(name):
    return getattr(D, name), getattr(TD, name)


@pytest.mark.parametrize("name", SPECS)
def test_log_prob(name, compare):
    params, value = SPECS[name]
    compare(*_classes(name), params, lambda d, v: d.log_prob(v), value=value)


@pytest.mark.parametrize("name", SPECS)
def test_entropy(name, compare):
    params, _ = SPECS[name]
    compare(*_classes(name), params, lambda d, v: d.entropy())


@pytest.mark.parametrize("name", SPECS)
@pytest.mark.parametrize("prop", ["mean", "variance", "stddev", "mode"])
def test_moments(name, prop, compare):
    params, _ = SPECS[name]
    if name == "Uniform" and prop == "mode":
        pytest.skip("torch's Uniform.mode is NaN: compared in test_uniform_mode_is_nan")
    compare(*_classes(name), params, lambda d, v: getattr(d, prop))


def test_uniform_mode_is_nan():
    assert np.isnan(D.Uniform(0.0, 1.0).mode.item())


@pytest.mark.parametrize("name", CDF)
def test_cdf_and_icdf(name, compare):
    params, value = SPECS[name]
    compare(*_classes(name), params, lambda d, v: d.cdf(v), value=value)
    q = RNG.uniform(0.02, 0.98, (2, *SHAPE))
    compare(*_classes(name), params, lambda d, v: d.icdf(v), value=q, atol=1e-8)


@pytest.mark.parametrize("name", SPECS)
def test_shapes_match_torch(name):
    params, _ = SPECS[name]
    ours = getattr(D, name)(**{k: fd.tensor(v) for k, v in params.items()})
    theirs = getattr(TD, name)(**{k: torch.tensor(v) for k, v in params.items()})
    assert ours.batch_shape == tuple(theirs.batch_shape)
    assert ours.event_shape == tuple(theirs.event_shape)
    for sample_shape in [(), (5,), (2, 3)]:
        s = ours.sample(sample_shape)
        assert s.shape == tuple(theirs.sample(sample_shape).shape)
        assert s.dtype == np.float64
    assert ours.has_rsample == theirs.has_rsample


def test_scalar_parameters_give_default_dtype_and_broadcast():
    d = D.Normal(0.0, fd.tensor(np.ones((2, 3))))
    assert d.batch_shape == (2, 3) and d.loc.dtype == np.float64
    d = D.Normal(0.0, 1.0)
    assert d.batch_shape == () and d.sample().dtype == np.float32

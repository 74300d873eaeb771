"""Transforms and TransformedDistribution against torch (forward, inverse, log |det J|, log_prob,
cdf/icdf, values and gradients in float64), caching, composition."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.distributions as D
from pyfastdl.distributions import transforms as T

torch = pytest.importorskip("torch")
TT = torch.distributions.transforms
TD = torch.distributions

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4)) * 2
SCALE = RNG.uniform(0.5, 2.0, 4) * np.array([1, -1, 1, -1])


def _pair(name):
    if name == "Affine":
        return T.AffineTransform(0.3, fd.tensor(SCALE)), TT.AffineTransform(
            0.3, torch.tensor(SCALE)
        )
    if name == "AffineEvent":
        return (
            T.AffineTransform(fd.tensor(X[0]), fd.tensor(SCALE), event_dim=1),
            TT.AffineTransform(torch.tensor(X[0]), torch.tensor(SCALE), event_dim=1),
        )
    if name == "Compose":
        return (
            T.ComposeTransform(
                [T.AffineTransform(1.0, 0.5), T.TanhTransform(), T.AffineTransform(2.0, 3.0)]
            ),
            TT.ComposeTransform(
                [TT.AffineTransform(1.0, 0.5), TT.TanhTransform(), TT.AffineTransform(2.0, 3.0)]
            ),
        )
    return getattr(T, name + "Transform")(), getattr(TT, name + "Transform")()


NAMES = ["Affine", "AffineEvent", "Sigmoid", "Tanh", "Exp", "Compose"]


@pytest.mark.parametrize("name", NAMES)
def test_forward_inverse_and_log_det_match_torch(name):
    ours, theirs = _pair(name)
    x = fd.tensor(X, requires_grad=True)
    tx = torch.tensor(X, requires_grad=True)
    y, ty = ours(x), theirs(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    ld, tld = ours.log_abs_det_jacobian(x, y), theirs.log_abs_det_jacobian(tx, ty)
    np.testing.assert_allclose(ld.detach().numpy(), tld.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = RNG.standard_normal(tuple(tld.shape))
    ((ld * fd.tensor(w)).sum() + y.sum()).backward()
    ((tld * torch.tensor(w)).sum() + ty.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-12)
    yd = fd.tensor(ty.detach().numpy())  # a fresh tensor: no cache
    np.testing.assert_allclose(
        ours.inv(yd).numpy(), theirs.inv(ty.detach()).numpy(), rtol=1e-7, atol=1e-9
    )
    inv_ld = ours.inv.log_abs_det_jacobian(yd, ours.inv(yd))
    np.testing.assert_allclose(inv_ld.numpy(), -tld.detach().numpy(), rtol=1e-6, atol=1e-9)
    assert ours.bijective and ours.inv.inv is ours or name == "Compose"


def test_cache_returns_the_same_tensor():
    t = T.TanhTransform(cache_size=1)
    x = fd.tensor([30.0])  # tanh(30) rounds to 1: only the cache gives x back
    y = t(x)
    assert t.inv(y) is x
    assert T.TanhTransform().inv(y).item() != 30.0  # without the cache: atanh(1) = inf
    with pytest.raises(ValueError, match=r"\[TanhTransform\] cache_size must be 0 or 1"):
        T.TanhTransform(cache_size=2)


def _squashed(module, loc, scale):
    tr = module.transforms if module is TD else T
    return module.TransformedDistribution(
        module.Normal(loc, scale), [tr.TanhTransform(), tr.AffineTransform(1.0, 2.0)]
    )


def _lognormal(module, loc, scale):
    tr = module.transforms if module is TD else T
    return module.TransformedDistribution(module.Normal(loc, scale), tr.ExpTransform())


def _reflected(module, loc, scale):
    tr = module.transforms if module is TD else T
    return module.TransformedDistribution(module.Normal(loc, scale), tr.AffineTransform(0.0, -2.0))


def test_transformed_distribution_matches_torch(compare):
    params = {"loc": RNG.standard_normal((2, 3)), "scale": RNG.uniform(0.5, 1.5, (2, 3))}
    val = RNG.uniform(-0.9, 2.9, (4, 2, 3))
    compare(
        lambda **p: _squashed(D, **p),
        lambda **p: _squashed(TD, **p),
        params,
        lambda d, v: d.log_prob(v),
        value=val,
        atol=1e-8,
    )
    pos = RNG.uniform(0.1, 3.0, (4, 2, 3))
    for make in (_lognormal, _reflected):
        for what in ("log_prob", "cdf"):
            compare(
                lambda make=make, **p: make(D, **p),
                lambda make=make, **p: make(TD, **p),
                params,
                lambda d, v, what=what: getattr(d, what)(v),
                value=pos,
                atol=1e-8,
            )
        q = RNG.uniform(0.05, 0.95, (4, 2, 3))
        compare(
            lambda make=make, **p: make(D, **p),
            lambda make=make, **p: make(TD, **p),
            params,
            lambda d, v: d.icdf(v),
            value=q,
            atol=1e-8,
        )


def test_transformed_distribution_shapes_and_rsample():
    loc = fd.zeros(2, 3, requires_grad=True)
    d = _squashed(D, loc, fd.ones(2, 3))
    assert (d.batch_shape, d.event_shape, d.has_rsample) == ((2, 3), (), True)
    fd.manual_seed(0)
    s = d.rsample((500,))
    assert s.shape == (500, 2, 3)
    assert ((s.detach().numpy() > -1) & (s.detach().numpy() < 3)).all()
    s.mean().backward()
    assert loc.grad is not None and (loc.grad.numpy() > 0).all()
    flow = D.TransformedDistribution(
        D.Normal(fd.zeros(4, 3), fd.ones(4, 3)), T.AffineTransform(0.0, 2.0, event_dim=1)
    )
    assert (flow.batch_shape, flow.event_shape) == ((4,), (3,))
    assert flow.log_prob(fd.zeros(4, 3)).shape == (4,)
    with pytest.raises(ValueError, match=r"\[TransformedDistribution\] transforms must be"):
        D.TransformedDistribution(D.Normal(0.0, 1.0), [1])

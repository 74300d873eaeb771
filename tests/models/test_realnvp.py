"""RealNVP: the log-det against the numerical Jacobian (float64), inversion, the density's
normalisation, gradients, PyTorch parity, learning, the image pieces (logit transform,
dequantization, bits per dimension), the toy 2-D data sets and the example's smoke run."""

import importlib
import math
import os
import re

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.data import make_circles, make_gaussian_mixture, make_moons, make_rings
from pyfastdl.models import (
    AffineCoupling,
    LogitTransform,
    RealNVP,
    bits_per_dim,
    checkerboard_mask,
    dequantize,
)
from pyfastdl.optim import Adam
from pyfastdl.testing import gradcheck

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def _random_flow(features, layers=4, hidden=16, std=0.3, seed=0, **kwargs):
    """A flow away from the identity it starts at: random output layers and scales."""
    fd.manual_seed(seed)
    flow = RealNVP(features, num_coupling_layers=layers, hidden_features=hidden, **kwargs)
    for layer in flow.layers:
        nn.init.normal_(layer.net[-1].weight, std=std)
        nn.init.normal_(layer.net[-1].bias, std=std)
        nn.init.uniform_(layer.scale, 0.5, 1.5)
    return flow


def _numerical_log_det(fn, x, eps=1e-6):
    """log |det J| of fn at each row of x, J by central differences (float64)."""
    n, d = x.shape
    out = []
    for i in range(n):
        jac = np.empty((d, d))
        for j in range(d):
            step = np.zeros((1, d))
            step[0, j] = eps
            hi = fn(fd.tensor(x[i : i + 1] + step))[0].numpy()[0]
            lo = fn(fd.tensor(x[i : i + 1] - step))[0].numpy()[0]
            jac[:, j] = (hi - lo) / (2 * eps)
        out.append(np.linalg.slogdet(jac)[1])
    return np.array(out)


# ---------------------------------------------------------------- the log-det and the inverse


@pytest.mark.parametrize("features, logit", [(2, None), (5, None), (6, 0.05)])
def test_log_det_matches_the_numerical_jacobian(features, logit):
    flow = _random_flow(features, std=1.0, logit_alpha=logit).double()
    rng = np.random.default_rng(1)
    x = rng.uniform(0.05, 0.95, (4, features)) if logit else rng.standard_normal((4, features))
    with fd.no_grad():
        _, log_det = flow(fd.tensor(x))
        expected = _numerical_log_det(flow, x)
    np.testing.assert_allclose(log_det.numpy(), expected, rtol=1e-6, atol=1e-6)
    assert np.abs(expected).max() > 0.05  # not volume-preserving: the check has teeth


def test_coupling_keeps_the_masked_coordinates_and_its_jacobian_is_triangular():
    fd.manual_seed(0)
    layer = AffineCoupling([1, 0, 1, 0], hidden_features=8).double()
    nn.init.normal_(layer.net[-1].weight, std=0.5)
    x = np.random.default_rng(0).standard_normal((3, 4))
    with fd.no_grad():
        y, log_det = layer(fd.tensor(x))
        np.testing.assert_array_equal(y.numpy()[:, [0, 2]], x[:, [0, 2]])
        # log det = the sum of log-scales of the moved coordinates: y_moved / x_moved at t = 0
        s, t = layer._scale_shift(fd.tensor(x) * layer.mask)
        np.testing.assert_allclose(log_det.numpy(), s.numpy()[:, [1, 3]].sum(1), rtol=1e-12)
        np.testing.assert_allclose(
            y.numpy()[:, [1, 3]], x[:, [1, 3]] * np.exp(s.numpy()[:, [1, 3]]) + t.numpy()[:, [1, 3]]
        )
        # |s| <= scale: the tanh bound
        assert (np.abs(s.numpy()) <= layer.scale.detach().numpy() + 1e-12).all()


@pytest.mark.parametrize(
    "features, kwargs",
    [(2, {}), (784, {"mask": checkerboard_mask(28, 28), "logit_alpha": 0.05})],
)
def test_inversion_error_below_1e_5(features, kwargs):
    flow = _random_flow(features, layers=6, hidden=32, **kwargs)
    rng = np.random.default_rng(0)
    if features == 2:
        x = make_moons(500, noise=0.05, random_state=0)[0]
        x = (x - x.mean(0)) / x.std(0)
    else:
        x = rng.uniform(0, 1, (32, features)).astype(np.float32)
    with fd.no_grad():
        xt = fd.tensor(x)
        z, _ = flow(xt)
        assert np.abs(z.numpy() - x).max() > 0.1  # not the identity
        assert (flow.inverse(z) - xt).abs().max().item() <= 1e-5
        if features == 2:  # and the other way, F(F⁻¹(z)) = z (an image flow's z→x→z
            # round trip passes logit(sigmoid(y)), ill-conditioned in float32 for large |y|)
            z2 = fd.randn(64, features)
            assert (flow(flow.inverse(z2))[0] - z2).abs().max().item() <= 1e-5


def test_a_new_flow_is_the_identity_and_log_prob_is_the_standard_normal():
    flow = RealNVP(3)
    x = fd.randn(5, 3)
    with fd.no_grad():
        z, log_det = flow(x)
        np.testing.assert_array_equal(z.numpy(), x.numpy())
        assert log_det.tolist() == [0.0] * 5
        expected = -0.5 * (x.numpy() ** 2).sum(1) - 1.5 * math.log(2 * math.pi)
        np.testing.assert_allclose(flow.log_prob(x).numpy(), expected, rtol=1e-6)


def test_log_prob_integrates_to_one_on_a_grid():
    flow = _random_flow(2, layers=4, std=0.2).double()
    step = 0.08  # midpoint rule on [-8, 8]²: 200² points
    axis = np.arange(-8, 8, step) + step / 2
    gx, gy = np.meshgrid(axis, axis)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    with fd.no_grad():
        log_p = flow.log_prob(fd.tensor(grid)).numpy()
        # the flow moves mass: the density is not the standard normal's
        std_normal = -0.5 * (grid**2).sum(1) - math.log(2 * math.pi)
        assert np.abs(log_p - std_normal).max() > 1.0
    integral = np.exp(log_p).sum() * step * step
    assert abs(integral - 1) < 0.01, integral


def test_log_prob_gradients_float64():
    flow = _random_flow(3, layers=2, hidden=8).double()
    x = fd.tensor(np.random.default_rng(2).standard_normal((4, 3)), requires_grad=True)
    assert gradcheck(lambda t: flow.log_prob(t), x)
    # and through a parameter: the bound's learned scale
    scale = flow.layers[1].scale
    assert gradcheck(
        lambda s: _with_scale(flow, s, x.detach()), scale.detach().clone().requires_grad_()
    )


def _with_scale(flow, scale, x):
    layer = flow.layers[1]
    saved = layer.scale
    try:
        layer._parameters["scale"] = scale
        return flow.log_prob(x)
    finally:
        layer._parameters["scale"] = saved


def test_log_prob_agrees_with_pytorch():
    torch = pytest.importorskip("torch")
    flow = _random_flow(4, layers=3, hidden=8, logit_alpha=0.05)
    x = np.random.default_rng(3).uniform(0.02, 0.98, (6, 4)).astype(np.float32)
    state = {k: torch.from_numpy(v.numpy().copy()) for k, v in flow.state_dict().items()}

    def coupling(k, h):  # the same layer in PyTorch, from the same weights
        mask = state[f"layers.{k}.mask"]
        a = h * mask
        for i in (0, 2):
            a = torch.nn.functional.silu(
                a @ state[f"layers.{k}.net.{i}.weight"].T + state[f"layers.{k}.net.{i}.bias"]
            )
        out = a @ state[f"layers.{k}.net.4.weight"].T + state[f"layers.{k}.net.4.bias"]
        raw, shift = out.chunk(2, dim=1)
        s = state[f"layers.{k}.scale"] * torch.tanh(raw) * (1 - mask)
        return h * torch.exp(s) + shift * (1 - mask), s.sum(1)

    xt = torch.from_numpy(x)
    p = 0.05 + 0.9 * xt
    h = torch.log(p) - torch.log1p(-p)
    log_det = (math.log(0.9) - torch.log(p) - torch.log1p(-p)).sum(1)
    for k in range(3):
        h, ld = coupling(k, h)
        log_det = log_det + ld
    base = torch.distributions.Normal(0.0, 1.0).log_prob(h).sum(1)
    expected = (base + log_det).numpy()
    with fd.no_grad():
        got = flow.log_prob(fd.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


# ---------------------------------------------------------------- sampling and learning


def test_sample_shape_and_generator():
    flow = _random_flow(2)
    a = flow.sample(7, generator=fd.Generator().manual_seed(5))
    b = flow.sample(7, generator=fd.Generator().manual_seed(5))
    assert a.shape == (7, 2) and not a.requires_grad
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    # the samples are F⁻¹ of the base draws
    z = fd.randn(7, 2, generator=fd.Generator().manual_seed(5))
    with fd.no_grad():
        np.testing.assert_allclose(flow(a)[0].numpy(), z.numpy(), atol=1e-5)
    digits = RealNVP(784, num_coupling_layers=2, hidden_features=8, logit_alpha=0.05)
    images = digits.sample(3)
    # the logit's inverse maps ℝ onto (−α, 1 + α) / (1 − 2α): the pixel scale and a margin
    margin = 0.05 / 0.9
    assert images.shape == (3, 784)
    assert -margin < images.min().item() and images.max().item() < 1 + margin


def test_a_few_steps_lower_the_nll_on_two_moons():
    x, _ = make_moons(512, noise=0.05, random_state=0)
    x = fd.tensor((x - x.mean(0)) / x.std(0))
    fd.manual_seed(0)
    flow = RealNVP(2, num_coupling_layers=4, hidden_features=32)
    opt = Adam(flow.parameters(), lr=5e-3)
    losses = []
    for _ in range(80):
        loss = -flow.log_prob(x).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # starts at the standard normal's NLL of standardised data: log 2π + 1 = 2.84
    assert abs(losses[0] - (math.log(2 * math.pi) + 1)) < 0.01
    assert np.isfinite(losses).all() and losses[-1] < losses[0] - 0.4, losses[::10]


def test_parameter_count():
    flow = RealNVP(2, num_coupling_layers=8, hidden_features=64)
    # per coupling: 2·64+64 + 64·64+64 + 64·4+4 + scale 2
    assert sum(p.numel() for p in flow.parameters()) == 8 * (192 + 4160 + 260 + 2)
    assert [tuple(b.shape) for b in flow.buffers()] == [(2,)] * 8


def test_state_dict_round_trip(tmp_path):
    from pyfastdl.io import load, save

    flow = _random_flow(2)
    save(flow.state_dict(), tmp_path / "flow.safetensors")
    fresh = RealNVP(2, num_coupling_layers=4, hidden_features=16)
    fresh.load_state_dict(load(tmp_path / "flow.safetensors"))
    x = fd.randn(5, 2)
    with fd.no_grad():
        np.testing.assert_array_equal(flow.log_prob(x).numpy(), fresh.log_prob(x).numpy())


# ---------------------------------------------------------------- images: logit, dequantization


def test_logit_transform_hand_values_and_inverse():
    t = LogitTransform(0.05)
    x = fd.tensor([[0.0, 0.5, 1.0]], dtype=fd.float64)
    y, log_det = t(x)
    # p = 0.05, 0.5, 0.95: logit = -log 19, 0, log 19; dy/dx = 0.9 / (p (1 − p))
    np.testing.assert_allclose(y.numpy(), [[-math.log(19), 0.0, math.log(19)]], rtol=1e-12)
    expected = 2 * math.log(0.9 / (0.05 * 0.95)) + math.log(0.9 / 0.25)
    assert log_det.item() == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(t.inverse(y).numpy(), x.numpy(), atol=1e-12)
    with pytest.raises(ValueError, match=r"^\[LogitTransform\]"):
        LogitTransform(0.5)


def test_dequantize_and_bits_per_dim():
    x = fd.tensor(np.linspace(0, 1, 256, dtype=np.float32)[None].repeat(4, 0))
    y = dequantize(x, generator=fd.Generator().manual_seed(0)).numpy()
    levels = np.round(np.linspace(0, 1, 256) * 255)
    # each value lands in its own bin [k/256, (k+1)/256)
    assert ((y * 256 >= levels) & (y * 256 < levels + 1)).all()
    again = dequantize(x, generator=fd.Generator().manual_seed(0)).numpy()
    np.testing.assert_array_equal(y, again)
    # bpd: the uniform density on [0, 1]^D is 8 bits; a density e^D times higher saves 1/ln 2
    assert bits_per_dim(fd.zeros(3), 10).item() == pytest.approx(8.0)
    assert bits_per_dim(fd.full((3,), 10.0), 10).item() == pytest.approx(8 - 1 / math.log(2))
    with pytest.raises(ValueError, match=r"^\[dequantize\]"):
        dequantize(x, levels=1)


def test_checkerboard_mask():
    m = checkerboard_mask(28, 28).numpy().reshape(28, 28)
    assert m.sum() == 392 and m[0, 0] == 1 and m[0, 1] == 0 and m[1, 0] == 0
    np.testing.assert_array_equal(checkerboard_mask(3, 3, parity=1).numpy(), 1 - m[:3, :3].ravel())


def test_errors():
    with pytest.raises(ValueError, match=r"^\[AffineCoupling\] mask"):
        AffineCoupling([1, 2])
    with pytest.raises(ValueError, match=r"^\[RealNVP\] mask"):
        RealNVP(3, mask=[1, 0])
    flow = RealNVP(2, num_coupling_layers=2)
    with pytest.raises(ValueError, match=r"^\[RealNVP\] input must have shape \(N, 2\)"):
        flow(fd.randn(4, 3))
    with pytest.raises(ValueError, match=r"^\[RealNVP.inverse\]"):
        flow.inverse(fd.randn(4))
    with pytest.raises(TypeError, match=r"^\[RealNVP\] input must be floating point"):
        flow(fd.tensor([[1, 2]]))


# ---------------------------------------------------------------- the toy 2-D data


@pytest.mark.parametrize(
    "make, kwargs, parts",
    [
        (make_moons, {"noise": 0.1}, 2),
        (make_circles, {"noise": 0.1, "factor": 0.5}, 2),
        (make_rings, {"noise": 0.1, "n_rings": 4}, 4),
        (make_gaussian_mixture, {"n_components": 5}, 5),
    ],
)
def test_toy_data_shapes_labels_and_determinism(make, kwargs, parts):
    x, labels = make(301, random_state=3, **kwargs)
    assert x.shape == (301, 2) and x.dtype == np.float32 and labels.dtype == np.int64
    counts = np.bincount(labels)
    assert counts.sum() == 301 and counts.max() - counts.min() <= 1  # an even split
    assert set(labels.tolist()) == set(range(parts))
    x2, labels2 = make(301, random_state=3, **kwargs)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(labels, labels2)
    x3, _ = make(301, random_state=4, **kwargs)
    assert not np.array_equal(x, x3)
    x4, _ = make(301, random_state=np.random.default_rng(3), **kwargs)
    np.testing.assert_array_equal(x, x4)


def test_moons_and_circles_match_scikit_learn_geometry():
    # scikit-learn: outer moon (cos t, sin t), inner (1 − cos t, 0.5 − sin t), t in linspace(0, π)
    x, labels = make_moons(7, shuffle=False)
    t_out, t_in = np.linspace(0, np.pi, 3), np.linspace(0, np.pi, 4)
    expected = np.concatenate(
        [
            np.stack([np.cos(t_out), np.sin(t_out)], 1),
            np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], 1),
        ]
    )
    np.testing.assert_allclose(x, expected, atol=1e-6)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 1]
    x, labels = make_circles((3, 2), shuffle=False, factor=0.3)
    np.testing.assert_allclose(np.hypot(x[:, 0], x[:, 1]), [1, 1, 1, 0.3, 0.3], rtol=1e-6)
    assert labels.tolist() == [0, 0, 0, 1, 1]


def test_noise_and_mixture_statistics():
    x, labels = make_gaussian_mixture(4000, n_components=4, radius=3.0, std=0.25, random_state=0)
    for k, c in enumerate([(3, 0), (0, 3), (-3, 0), (0, -3)]):
        pts = x[labels == k]
        np.testing.assert_allclose(pts.mean(0), c, atol=0.05)
        np.testing.assert_allclose(pts.std(0), [0.25, 0.25], rtol=0.1)
    x, labels = make_rings(3000, n_rings=3, noise=0.02, random_state=0)
    radii = np.hypot(x[:, 0], x[:, 1])
    for k in range(3):
        assert abs(radii[labels == k].mean() - (k + 1) / 3) < 0.01


def test_toy_data_errors():
    with pytest.raises(ValueError, match=r"^\[make_moons\] noise"):
        make_moons(10, noise=-1)
    with pytest.raises(ValueError, match=r"^\[make_moons\] n_samples"):
        make_moons((1, 2, 3))
    with pytest.raises(ValueError, match=r"^\[make_rings\] n_rings"):
        make_rings(10, n_rings=0)
    with pytest.raises(ValueError, match=r"^\[make_circles\] factor"):
        make_circles(10, factor=1.0)
    with pytest.raises(ValueError, match=r"^\[make_gaussian_mixture\] centers"):
        make_gaussian_mixture(10, centers=np.zeros((3, 3)))


# ---------------------------------------------------------------- the example


def test_gaussian_baseline_is_the_mle_gaussian(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.syspath_prepend(EXAMPLES)
    module = importlib.import_module("realnvp")
    train = make_moons(400, noise=0.1, random_state=0)[0].astype(np.float64)
    test = make_moons(300, noise=0.1, random_state=1)[0].astype(np.float64)
    mean = torch.tensor(train.mean(0), dtype=torch.float64)
    cov = torch.tensor(np.cov(train.T, bias=True), dtype=torch.float64)
    mvn = torch.distributions.MultivariateNormal(mean, cov)
    expected = -mvn.log_prob(torch.tensor(test, dtype=torch.float64)).mean().item()
    assert module.gaussian_nll(train, test) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(
    "dataset, metric", [("moons", "test NLL \\(nats\\)"), ("digits", "test bits/dim")]
)
def test_example_smoke_run(tmp_path, monkeypatch, capsys, dataset, metric):
    monkeypatch.syspath_prepend(EXAMPLES)
    module = importlib.import_module("realnvp")
    value = module.main(["--dataset", dataset, "--smoke", "--out", str(tmp_path)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(rf"realnvp: {metric} = -?\d+\.\d{{4}}", lines[-1]), lines[-1]
    assert np.isfinite(value)
    assert any(line.startswith("inversion error") for line in lines)
    if dataset == "moons":
        assert any(line.startswith("full-covariance Gaussian: test NLL (nats) =") for line in lines)
        assert any(line.startswith("gap (Gaussian - RealNVP) =") for line in lines)
    pytest.importorskip("matplotlib")
    expected = ["density.png", "loss.png", "samples.png"] if dataset == "moons" else ["loss.png"]
    for name in expected:
        assert (tmp_path / name).exists(), name

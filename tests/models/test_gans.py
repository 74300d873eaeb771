"""The course's GANs: the losses against the slides and PyTorch, model sizes and initialisation,
PyTorch state-dict parity, each player's loss falling on a few steps, and the examples."""

import importlib
import math
import os

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.data import load_digits
from pyfastdl.ext.gan_losses import (
    discriminator_loss,
    minimax_generator_loss,
    non_saturating_generator_loss,
)
from pyfastdl.models import DCGANDiscriminator, DCGANGenerator, Discriminator1d, Generator1d
from pyfastdl.optim import Adam

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def _count(model):
    return sum(p.numel() for p in model.parameters())


def _slides_nets():
    """The slides' exercise: G(z) = 2z + 1 and D(x) = sigmoid(0.5 x - 1)."""
    g, d = Generator1d(hidden=()), Discriminator1d(hidden=())
    g.layers[0].weight.data.fill_(2.0)
    g.layers[0].bias.data.fill_(1.0)
    d.layers[0].weight.data.fill_(0.5)
    d.layers[0].bias.data.fill_(-1.0)
    return g, d


def test_the_slides_exercise_by_hand():
    g, d = _slides_nets()
    fakes = g(fd.tensor([[0.0], [1.0]]))
    assert fakes.flatten().tolist() == [1.0, 3.0]  # G(0), G(1)
    sigmoid = lambda a: 1 / (1 + math.exp(-a))  # noqa: E731
    d3, d1 = sigmoid(0.5 * 3 - 1), sigmoid(0.5 * 1 - 1)  # 0.62, 0.38
    np.testing.assert_allclose(d(fd.tensor([[3.0], [1.0]])).sigmoid().tolist(), [d3, d1], 1e-6)
    # L_D = -[log D(3) + log(1 - D(G(0)))] ≈ 0.95; L_G = -log D(G(1)) ≈ 0.47
    loss_d = discriminator_loss(d(fd.tensor([[3.0]])), d(fakes[:1]))
    assert loss_d.item() == pytest.approx(-(math.log(d3) + math.log(1 - d1)), rel=1e-6)
    assert loss_d.item() == pytest.approx(0.948, abs=1e-3)
    loss_g = non_saturating_generator_loss(d(fakes[1:]))
    assert loss_g.item() == pytest.approx(-math.log(d3), rel=1e-6)
    assert minimax_generator_loss(d(fakes[1:])).item() == pytest.approx(math.log(1 - d3), 1e-6)
    # the slides' question 4: dL_D/dw mixes +x_fake D(x_fake) and -x_real (1 - D(x_real))
    d.zero_grad()
    loss_d.backward()
    dw = -(1 - d3) * 3 + d1 * 1
    assert d.layers[0].weight.grad.item() == pytest.approx(dw, rel=1e-5)


def test_losses_and_gradients_against_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(0)
    real, fake = rng.normal(0, 4, (7,)), rng.normal(0, 4, (5, 1))
    fake[0, 0] = -40.0  # saturated: log(1 - D) must not be -inf nor its gradient nan

    def ours(fn, *arrays):
        ts = [fd.tensor(a, requires_grad=True) for a in arrays]
        loss = fn(*ts)
        loss.backward()
        return loss.item(), [t.grad.array for t in ts]

    def theirs(fn, *arrays):
        ts = [torch.tensor(a, requires_grad=True) for a in arrays]
        loss = fn(*ts)
        loss.backward()
        return loss.item(), [t.grad.numpy() for t in ts]

    cases = [
        (
            discriminator_loss,
            lambda r, f: (
                tf.binary_cross_entropy_with_logits(r, torch.ones_like(r))
                + tf.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
            ),
            (real, fake),
        ),
        (minimax_generator_loss, lambda f: torch.log1p(-torch.sigmoid(f)).mean(), (fake,)),
        (non_saturating_generator_loss, lambda f: -tf.logsigmoid(f).mean(), (fake,)),
    ]
    for fn, ref, arrays in cases:
        value, grads = ours(fn, *arrays)
        expected, expected_grads = theirs(ref, *arrays)
        assert value == pytest.approx(expected, rel=1e-12), fn.__name__
        for got, want in zip(grads, expected_grads):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


def test_the_minimax_loss_saturates_and_the_non_saturating_one_does_not():
    # where D rejects the fakes (logit -10), d/dl of log(1 - sigmoid(l)) = -sigmoid(l) ≈ 0 but
    # d/dl of -log sigmoid(l) = sigmoid(l) - 1 ≈ -1 (per sample, over a batch of 4)
    grads = []
    for fn in (minimax_generator_loss, non_saturating_generator_loss):
        logits = fd.full((4,), -10.0, requires_grad=True)
        fn(logits).backward()
        grads.append(logits.grad.array)
    np.testing.assert_allclose(grads[0], -0.25 / (1 + math.exp(10)), rtol=1e-5)
    np.testing.assert_allclose(grads[1], -0.25 / (1 + math.exp(-10)), rtol=1e-5)


def test_loss_argument_errors():
    with pytest.raises(TypeError, match=r"^\[discriminator_loss\] real_logits must be a Tensor"):
        discriminator_loss([0.0], fd.zeros(2))
    with pytest.raises(TypeError, match=r"^\[minimax_generator_loss\] fake_logits must be a float"):
        minimax_generator_loss(fd.tensor([1, 2]))
    with pytest.raises(TypeError, match=r"^\[non_saturating_generator_loss\]"):
        non_saturating_generator_loss(np.zeros(2))


def test_1d_nets_shapes_and_counts():
    g, d = Generator1d(), Discriminator1d()
    assert _count(g) == 2  # the slides' affine G(z) = a z + c
    assert _count(Generator1d(hidden=(16, 16))) == (1 * 16 + 16) + (16 * 16 + 16) + (16 + 1)
    assert _count(d) == (1 * 32 + 32) + (32 * 32 + 32) + (32 + 1)
    assert g(fd.randn(5, 1)).shape == (5, 1) and d(fd.randn(5, 1)).shape == (5,)
    assert Generator1d(noise_dim=3, hidden=(8,))(fd.randn(2, 3)).shape == (2, 1)
    assert [type(m).__name__ for m in d.layers] == [
        "Linear",
        "LeakyReLU",
        "Linear",
        "LeakyReLU",
        "Linear",
    ]


def test_dcgan_shapes_counts_and_layers():
    fd.manual_seed(0)
    g, d = DCGANGenerator(), DCGANDiscriminator()
    assert _count(g) == 64 * 64 * 49 + 2 * 64 + 64 * 32 * 16 + 2 * 32 + 32 * 16 == 234_176
    assert _count(d) == 16 * 32 + 32 * 64 * 16 + 2 * 64 + 64 * 49 == 36_544
    images = g(fd.randn(3, 64))
    assert images.shape == (3, 1, 28, 28) and g(fd.randn(3, 64, 1, 1)).shape == (3, 1, 28, 28)
    assert float(images.abs().max()) <= 1.0  # Tanh
    assert d(images).shape == (3,)
    kinds = [type(m).__name__ for m in g.main]
    assert kinds == ["ConvTranspose2d", "BatchNorm2d", "ReLU"] * 2 + ["ConvTranspose2d", "Tanh"]
    kinds = [type(m).__name__ for m in d.main]
    assert kinds == ["Conv2d", "LeakyReLU", "Conv2d", "BatchNorm2d", "LeakyReLU", "Conv2d"]
    assert all(m.negative_slope == 0.2 for m in d.main if isinstance(m, nn.LeakyReLU))
    assert all(m.bias is None for m in list(g.main) + list(d.main) if hasattr(m, "kernel_size"))


def test_dcgan_initialisation():
    fd.manual_seed(0)
    for net in (DCGANGenerator(), DCGANDiscriminator(ndf=64)):
        for m in net.main:
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.weight.numel() > 10_000:
                w = m.weight.array
                assert abs(w.mean()) < 0.002 and w.std() == pytest.approx(0.02, rel=0.05)
            if isinstance(m, nn.BatchNorm2d):
                assert m.weight.array.std() < 0.05 and abs(m.weight.array.mean() - 1) < 0.02
                assert (m.bias.array == 0).all()


def test_dcgan_loads_a_pytorch_state_dict_and_gives_the_same_outputs():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    torch.manual_seed(0)

    class Twin(tnn.Module):
        def __init__(self, *layers):
            super().__init__()
            self.main = tnn.Sequential(*layers)

        def forward(self, x):
            return self.main(x)

    tg = Twin(
        tnn.ConvTranspose2d(16, 16, 7, 1, 0, bias=False), tnn.BatchNorm2d(16), tnn.ReLU(),
        tnn.ConvTranspose2d(16, 8, 4, 2, 1, bias=False), tnn.BatchNorm2d(8), tnn.ReLU(),
        tnn.ConvTranspose2d(8, 1, 4, 2, 1, bias=False), tnn.Tanh(),
    )  # fmt: skip
    td = Twin(
        tnn.Conv2d(1, 8, 4, 2, 1, bias=False), tnn.LeakyReLU(0.2),
        tnn.Conv2d(8, 16, 4, 2, 1, bias=False), tnn.BatchNorm2d(16), tnn.LeakyReLU(0.2),
        tnn.Conv2d(16, 1, 7, 1, 0, bias=False),
    )  # fmt: skip
    with torch.no_grad():  # non-trivial running statistics
        td(tg(torch.randn(8, 16, 1, 1)))
    g, d = DCGANGenerator(nz=16, ngf=8).eval(), DCGANDiscriminator(ndf=8).eval()
    for ours, theirs in ((g, tg.eval()), (d, td.eval())):
        assert list(ours.state_dict()) == list(theirs.state_dict())
        ours.load_state_dict(theirs.state_dict())
    z = np.random.default_rng(0).standard_normal((4, 16)).astype(np.float32)
    with torch.no_grad():
        t_images = tg(torch.from_numpy(z).reshape(4, 16, 1, 1))
        t_logits = td(t_images).flatten()
    with fd.no_grad():
        images = g(fd.tensor(z))
        logits = d(images)
    np.testing.assert_allclose(images.array, t_images.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(logits.array, t_logits.numpy(), rtol=1e-4, atol=1e-4)


def _steps(loss_fn, optimizer, n):
    losses = []
    for _ in range(n):
        loss = loss_fn()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_each_player_lowers_its_loss_against_a_fixed_opponent_1d():
    fd.manual_seed(0)
    g, d = Generator1d(), Discriminator1d()
    real = fd.tensor(np.random.default_rng(0).normal(3.0, 1.0, (128, 1)).astype(np.float32))
    z = fd.randn(128, 1)
    fake = g(z).detach()
    losses = _steps(lambda: discriminator_loss(d(real), d(fake)), Adam(d.parameters(), 1e-2), 30)
    assert losses[-1] < 0.5 * losses[0], losses  # D learns to tell N(3, 1) from G's start
    losses = _steps(lambda: non_saturating_generator_loss(d(g(z))), Adam(g.parameters(), 0.1), 30)
    assert losses[-1] < 0.5 * losses[0], losses  # G learns to fool the fixed D


@pytest.mark.parametrize("generator_loss", [non_saturating_generator_loss, minimax_generator_loss])
def test_each_player_lowers_its_loss_against_a_fixed_opponent_dcgan(generator_loss):
    fd.manual_seed(0)
    images, _ = load_digits(train=True, n=16)
    real = fd.tensor(images * 2 - 1)
    g, d = DCGANGenerator(nz=16, ngf=8), DCGANDiscriminator(ndf=8)
    z = fd.randn(16, 16)
    fake = g(z).detach()
    losses = _steps(lambda: discriminator_loss(d(real), d(fake)), Adam(d.parameters(), 2e-3), 8)
    assert losses[-1] < 0.5 * losses[0], losses
    losses = _steps(lambda: generator_loss(d(g(z))), Adam(g.parameters(), 2e-3), 8)
    assert losses[-1] < losses[0] - 0.2, losses


@pytest.mark.parametrize("script", ["gan_1d", "dcgan"])
def test_examples_smoke(tmp_path, monkeypatch, capsys, script):
    monkeypatch.syspath_prepend(EXAMPLES)
    module = importlib.import_module(script)
    args = ["--smoke", "--out", str(tmp_path)]
    if script == "dcgan":
        args += ["--classifier", str(tmp_path / "judge.safetensors")]
    value = module.main(args)
    lines = capsys.readouterr().out.strip().splitlines()
    if script == "gan_1d":
        assert lines[-1].startswith("gan_1d: max(|mean error|, |std error|) = ")
        assert value >= 0 and (tmp_path / "histogram.png").exists()
    else:
        assert lines[-1].startswith("dcgan: mean top-class probability = ")
        assert lines[-2].startswith("class-histogram entropy = ")
        assert 0.1 <= value <= 1 and (tmp_path / "samples_epoch01.png").exists()
        assert (tmp_path / "judge.safetensors").exists()
        module.main(args)  # loads the judge it wrote
        assert "loaded the classifier" in capsys.readouterr().out
    assert lines[-1].endswith(f"{value:.4f}") and (tmp_path / "losses.png").exists()

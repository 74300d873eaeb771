"""The autoencoders: shapes and parameter counts, PyTorch parity, learning; the sparsity
penalties against hand-computed values and PyTorch; masking noise; the anomaly score and the
AUROC; the example's smoke run."""

import importlib
import math
import os

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.data import load_digits
from pyfastdl.data.transforms import MaskingNoise
from pyfastdl.distributions import Bernoulli, kl_divergence
from pyfastdl.ext.penalties import kl_sparsity_penalty, l1_activity_penalty
from pyfastdl.models import ConvAutoencoder, MLPAutoencoder, reconstruction_error
from pyfastdl.optim import Adam
from pyfastdl.testing import gradcheck
from pyfastdl.utils.metrics import roc_auc

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def _count(model):
    return sum(p.numel() for p in model.parameters())


def _kinds(seq):
    return [type(m).__name__ for m in seq]


# ---------------------------------------------------------------- shapes and parameter counts


def test_mlp_autoencoder_layers_and_counts():
    model = MLPAutoencoder()
    assert _kinds(model.encoder) == ["Flatten", "Linear", "ReLU", "Linear"]
    assert _kinds(model.decoder) == ["Linear", "ReLU", "Linear", "Sigmoid", "Unflatten"]
    assert [tuple(p.shape) for p in model.parameters()] == [
        (256, 784), (256,), (32, 256), (32,), (256, 32), (256,), (784, 256), (784,),
    ]  # fmt: skip
    # (784 + 1) 256 + (256 + 1) 32 = 209,184 each way but for the biases: 209,936 back
    assert (_count(model.encoder), _count(model.decoder), _count(model)) == (
        209_184,
        209_936,
        419_120,
    )
    x = fd.rand(5, 1, 28, 28)
    assert model.encode(x).shape == (5, 32)
    assert model(x).shape == (5, 1, 28, 28)
    assert model.decode(fd.randn(5, 32)).shape == (5, 1, 28, 28)


def test_mlp_autoencoder_options():
    kl = MLPAutoencoder(hidden=(), latent=196, code_activation="sigmoid")
    assert _kinds(kl.encoder) == ["Flatten", "Linear", "Sigmoid"]
    assert _kinds(kl.decoder) == ["Linear", "Sigmoid", "Unflatten"]
    assert _count(kl) == 785 * 196 + 197 * 784 == 308_308
    code = kl.encode(fd.rand(3, 1, 28, 28)).array
    assert code.shape == (3, 196) and ((code > 0) & (code < 1)).all()
    deep = MLPAutoencoder(in_shape=(3, 8, 8), hidden=(64, 16), latent=4, code_activation="relu")
    assert _kinds(deep.encoder) == [
        "Flatten", "Linear", "ReLU", "Linear", "ReLU", "Linear", "ReLU",
    ]  # fmt: skip
    assert [m.out_features for m in deep.decoder if isinstance(m, nn.Linear)] == [16, 64, 192]
    assert deep(fd.rand(2, 3, 8, 8)).shape == (2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"^\[MLPAutoencoder\] code_activation"):
        MLPAutoencoder(code_activation="tanh")
    with pytest.raises(ValueError, match=r"^\[MLPAutoencoder\] latent must be a positive int"):
        MLPAutoencoder(latent=0)
    with pytest.raises(ValueError, match=r"^\[MLPAutoencoder\] in_shape must be \(C, H, W\)"):
        MLPAutoencoder(in_shape=(784,))


def test_conv_autoencoder_layers_and_counts():
    model = ConvAutoencoder()
    assert _kinds(model.encoder) == ["Conv2d", "ReLU", "Conv2d", "ReLU", "Conv2d", "Flatten"]
    assert _kinds(model.decoder) == [
        "Unflatten", "ConvTranspose2d", "ReLU", "ConvTranspose2d", "ReLU", "ConvTranspose2d",
        "Sigmoid",
    ]  # fmt: skip
    counts = [p.numel() for p in model.parameters()]
    # weights + biases: 16*9+16, 32*16*9+32, 64*32*49+64 | 64*32*49+32, 32*16*9+16, 16*9+1
    assert counts == [144, 16, 4608, 32, 100352, 64, 100352, 32, 4608, 16, 144, 1]
    assert _count(model) == 210_369
    x = fd.rand(2, 1, 28, 28)
    assert model.encode(x).shape == (2, 64) and model(x).shape == (2, 1, 28, 28)
    rgb = ConvAutoencoder(in_channels=3, channels=(8, 16), latent=10, image_size=(16, 32))
    assert rgb.encoder[4].kernel_size == (4, 8)
    assert rgb(fd.rand(2, 3, 16, 32)).shape == (2, 3, 16, 32)
    with pytest.raises(ValueError, match=r"^\[ConvAutoencoder\] image_size must be multiples"):
        ConvAutoencoder(image_size=30)


def _torch_twin(torch, model):
    """The same layers in PyTorch, with the same module names (encoder.i, decoder.i)."""
    tnn = torch.nn

    class Twin(tnn.Module):
        def __init__(self, encoder, decoder):
            super().__init__()
            self.encoder, self.decoder = encoder, decoder

        def forward(self, x):
            return self.decoder(self.encoder(x))

    if isinstance(model, ConvAutoencoder):
        encoder = tnn.Sequential(
            tnn.Conv2d(1, 16, 3, stride=2, padding=1), tnn.ReLU(),
            tnn.Conv2d(16, 32, 3, stride=2, padding=1), tnn.ReLU(),
            tnn.Conv2d(32, 64, 7), tnn.Flatten(),
        )  # fmt: skip
        decoder = tnn.Sequential(
            tnn.Unflatten(1, (64, 1, 1)), tnn.ConvTranspose2d(64, 32, 7), tnn.ReLU(),
            tnn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), tnn.ReLU(),
            tnn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1), tnn.Sigmoid(),
        )  # fmt: skip
    else:
        encoder = tnn.Sequential(
            tnn.Flatten(), tnn.Linear(784, 256), tnn.ReLU(), tnn.Linear(256, 32)
        )
        decoder = tnn.Sequential(
            tnn.Linear(32, 256), tnn.ReLU(), tnn.Linear(256, 784), tnn.Sigmoid(),
            tnn.Unflatten(1, (1, 28, 28)),
        )  # fmt: skip
    return Twin(encoder, decoder)


@pytest.mark.parametrize("cls", [MLPAutoencoder, ConvAutoencoder])
def test_pytorch_state_dict_gives_the_same_reconstructions(cls):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = cls()
    twin = _torch_twin(torch, model)
    assert list(model.state_dict()) == list(twin.state_dict())
    model.load_state_dict(twin.state_dict())
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
        code = twin.encoder(torch.from_numpy(x)).numpy()
    with fd.no_grad():
        np.testing.assert_allclose(model(fd.tensor(x)).array, expected, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(model.encode(fd.tensor(x)).array, code, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- learning


@pytest.mark.parametrize(
    "make, steps, lr",
    [
        (MLPAutoencoder, 40, 3e-3),
        (ConvAutoencoder, 40, 3e-3),
        (lambda: MLPAutoencoder(hidden=(), latent=64, code_activation="sigmoid"), 40, 3e-3),
    ],
)
def test_a_few_steps_lower_the_reconstruction_loss(make, steps, lr):
    fd.manual_seed(0)
    x = fd.tensor(load_digits(train=True, n=64, seed=1)[0])
    model = make()
    opt = Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = nn.functional.mse_loss(model(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all() and losses[-1] < 0.5 * losses[0], losses


def test_kl_penalty_pulls_the_mean_activation_to_rho():
    # sigmoid codes start near 0.5; beta * sum_j KL(rho || rho_hat_j) alone brings them to rho
    fd.manual_seed(0)
    x = fd.tensor(load_digits(train=True, n=64, seed=1)[0])
    model = MLPAutoencoder(hidden=(), latent=32, code_activation="sigmoid")
    opt = Adam(model.parameters(), lr=1e-2)
    rho = 0.1
    for _ in range(60):
        code = model.encode(x)
        loss = nn.functional.mse_loss(model.decode(code), x)
        loss = loss + 0.1 * kl_sparsity_penalty(rho, code.mean(dim=0))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with fd.no_grad():
        mean = model.encode(x).array.mean()
    assert abs(mean - rho) < 0.02, mean


# ---------------------------------------------------------------- the penalties


def test_l1_activity_penalty_value_and_gradient():
    h = fd.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -0.5]], requires_grad=True)
    penalty = l1_activity_penalty(h)
    assert penalty.item() == pytest.approx((3.5 + 3.5) / 2)
    penalty.backward()
    np.testing.assert_allclose(h.grad.array, np.sign(h.array) / 2)
    x = fd.randn(4, 3, 2, dtype=fd.float64, requires_grad=True)
    assert gradcheck(l1_activity_penalty, x)
    with pytest.raises(ValueError, match=r"^\[l1_activity_penalty\] h must have a non-empty"):
        l1_activity_penalty(fd.zeros(0, 3))
    with pytest.raises(TypeError, match=r"^\[l1_activity_penalty\] h must be a floating"):
        l1_activity_penalty(fd.tensor([[1, 2]]))


def test_kl_sparsity_penalty_hand_computed():
    # KL(0.05 || 0.05) = 0; KL(0.05 || 0.5) = 0.05 ln 0.1 + 0.95 ln 1.9;
    # KL(0.2 || 0.1) = 0.2 ln 2 + 0.8 ln(8/9)
    assert kl_sparsity_penalty(0.05, fd.tensor([0.05])).item() == pytest.approx(0.0, abs=1e-7)
    expected = 0.05 * math.log(0.1) + 0.95 * math.log(1.9)
    np.testing.assert_allclose(expected, 0.4946320, rtol=1e-6)
    got = kl_sparsity_penalty(0.05, fd.tensor([0.5, 0.5], dtype=fd.float64)).item()
    assert got == pytest.approx(2 * expected, rel=1e-12)
    got = kl_sparsity_penalty(0.2, fd.tensor([[0.1]], dtype=fd.float64)).item()
    assert got == pytest.approx(0.2 * math.log(2) + 0.8 * math.log(8 / 9), rel=1e-12)
    # d/d rho_hat = -rho / rho_hat + (1 - rho) / (1 - rho_hat): -2 + 8/9 at (0.2, 0.1)
    q = fd.tensor([0.1, 0.2, 0.7], dtype=fd.float64, requires_grad=True)
    kl_sparsity_penalty(0.2, q).backward()
    np.testing.assert_allclose(
        q.grad.array, [-2 + 0.8 / 0.9, 0.0, -0.2 / 0.7 + 0.8 / 0.3], rtol=1e-12, atol=1e-15
    )
    # the distributions' registry gives the same Bernoulli KL
    r = fd.tensor([0.01, 0.3, 0.99], dtype=fd.float64)
    registry = kl_divergence(Bernoulli(probs=fd.full((3,), 0.05, dtype=fd.float64)), Bernoulli(r))
    assert kl_sparsity_penalty(0.05, r).item() == pytest.approx(registry.sum().item(), rel=1e-12)


def test_kl_sparsity_penalty_gradcheck_and_edges():
    q = fd.tensor([[0.02, 0.4], [0.9, 0.999]], dtype=fd.float64, requires_grad=True)
    assert gradcheck(lambda t: kl_sparsity_penalty(0.05, t), q)
    # small rho_hat: log1p keeps (1 - rho) log(1 - rho_hat) exact where 1 - rho_hat rounds
    tiny = kl_sparsity_penalty(0.5, fd.tensor([1e-4], dtype=fd.float64)).item()
    assert tiny == pytest.approx(0.5 * math.log(0.5 / 1e-4) + 0.5 * math.log(0.5 / (1 - 1e-4)))
    # saturated units: clamped to [eps, 1 - eps], finite
    edge = kl_sparsity_penalty(0.05, fd.tensor([0.0, 1.0])).item()
    assert math.isfinite(edge) and edge > 10
    for rho in (0.0, 1.0, -0.1, True, "0.1"):
        with pytest.raises(ValueError, match=r"^\[kl_sparsity_penalty\] rho must be a number"):
            kl_sparsity_penalty(rho, fd.tensor([0.5]))
    with pytest.raises(TypeError, match=r"^\[kl_sparsity_penalty\] rho_hat must be a Tensor"):
        kl_sparsity_penalty(0.1, [0.5])


def test_kl_sparsity_penalty_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    h = rng.uniform(0.001, 0.999, (16, 10))
    ours = fd.tensor(h, requires_grad=True)
    kl_sparsity_penalty(0.05, ours.mean(dim=0)).mul(3.0).backward()
    theirs = torch.tensor(h, requires_grad=True)
    rho_hat = theirs.mean(dim=0)
    expected = torch.distributions.kl_divergence(
        torch.distributions.Bernoulli(probs=torch.full_like(rho_hat, 0.05)),
        torch.distributions.Bernoulli(probs=rho_hat),
    ).sum()
    (3.0 * expected).backward()
    ours_value = kl_sparsity_penalty(0.05, fd.tensor(h).mean(dim=0)).item()
    assert ours_value == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(ours.grad.array, theirs.grad.numpy(), rtol=1e-10, atol=1e-14)
    # the L1 activity penalty too
    x = rng.standard_normal((5, 7))
    ours_l1 = fd.tensor(x, requires_grad=True)
    l1_activity_penalty(ours_l1).backward()
    theirs_l1 = torch.tensor(x, requires_grad=True)
    (theirs_l1.abs().sum() / 5).backward()
    np.testing.assert_allclose(ours_l1.grad.array, theirs_l1.grad.numpy(), rtol=1e-12)


# ---------------------------------------------------------------- masking noise


def test_masking_noise():
    x = np.ones((50, 1, 28, 28), np.float32)
    fd.manual_seed(3)
    out = MaskingNoise(p=0.3)(x)
    assert out.dtype == np.float32 and set(np.unique(out)) == {0.0, 1.0}
    assert abs((out == 0).mean() - 0.3) < 0.01
    fd.manual_seed(3)
    np.testing.assert_array_equal(MaskingNoise(p=0.3)(x), out)
    masked = MaskingNoise(p=1.0, value=0.5)(fd.tensor(x[:1]))
    assert isinstance(masked, fd.Tensor) and (masked.array == 0.5).all()
    assert (MaskingNoise(p=0.0)(x) == x).all()
    with pytest.raises(ValueError, match=r"^\[MaskingNoise\] p must be a probability"):
        MaskingNoise(p=1.5)
    assert repr(MaskingNoise(0.25)) == "MaskingNoise(p=0.25, value=0.0)"


# ---------------------------------------------------------------- anomaly score and AUROC


def test_reconstruction_error_is_the_per_example_mse():
    fd.manual_seed(0)
    model = MLPAutoencoder(in_shape=(1, 4, 4), hidden=(8,), latent=2)
    x = fd.rand(7, 1, 4, 4)
    with fd.no_grad():
        expected = ((model(x) - x).array ** 2).reshape(7, -1).mean(axis=1)
    got = reconstruction_error(model, x, batch_size=3)
    assert got.shape == (7,) and model.training
    np.testing.assert_allclose(got.array, expected, rtol=1e-6)
    with pytest.raises(ValueError, match=r"^\[reconstruction_error\] batch_size"):
        reconstruction_error(model, x, batch_size=0)


def _brute_force_auc(scores, labels):
    pos, neg = scores[labels == 1], scores[labels == 0]
    diff = pos[:, None] - neg[None, :]
    return ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / (len(pos) * len(neg))


def test_roc_auc_hand_computed_and_ties():
    # positives 0.35, 0.8 against negatives 0.1, 0.4: 0.35 > 0.1, 0.8 > both -> 3 of 4 pairs
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert roc_auc(fd.tensor([3.0, 1.0, 2.0]), fd.tensor([True, False, False])) == 1.0
    assert roc_auc([3.0, 1.0, 2.0], [0, 1, 1]) == 0.0
    # a tie between a positive and a negative counts one half: (1 + 0.5 + 1 + 1) / 4
    assert roc_auc([0, 1, 1, 2], [0, 0, 1, 1]) == 0.875
    assert roc_auc([5.0] * 6, [0, 1, 0, 1, 1, 0]) == 0.5
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 20, 300).astype(float)  # many ties
    labels = rng.integers(0, 2, 300)
    assert roc_auc(scores, labels) == pytest.approx(_brute_force_auc(scores, labels), abs=1e-12)


def test_roc_auc_errors():
    with pytest.raises(ValueError, match=r"^\[roc_auc\] needs both classes"):
        roc_auc([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match=r"^\[roc_auc\] scores and labels must be 1-d"):
        roc_auc([0.1, 0.2], [1, 0, 1])
    with pytest.raises(ValueError, match=r"^\[roc_auc\] labels must be 0 or 1"):
        roc_auc([0.1, 0.2], [1, 2])
    with pytest.raises(ValueError, match=r"^\[roc_auc\] scores must be finite"):
        roc_auc([0.1, float("nan")], [1, 0])


# ---------------------------------------------------------------- the example


def test_example_smoke_run(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(EXAMPLES)
    module = importlib.import_module("autoencoders")
    auc = module.main(["--smoke", "--out", str(tmp_path), "--held-out", "3"])
    assert 0.0 <= auc <= 1.0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == f"autoencoders: corrupted-digit AUROC = {auc:.4f}"
    text = "\n".join(lines)
    for name in ("mlp", "conv", "denoise-gauss", "denoise-mask", "sparse-l1", "sparse-kl"):
        assert f"\n{name} " in text
    assert "digit 3 left out of training" in text and "mean hidden activation" in text
    assert (tmp_path / "reconstructions.png").exists()

"""The course's models with a small batch and a loss each, for the device tests: every entry
trains a few steps on the CPU and on a GPU (real, or the fake one of pyfastdl.testing_gpu)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import pyfastdl as fd
import pyfastdl.nn.functional as F
from pyfastdl import models


@dataclass
class Entry:
    name: str
    build: Callable[[], fd.nn.Module]
    batch: Callable[[np.random.Generator], tuple[np.ndarray, ...]]
    loss: Callable[[fd.nn.Module, tuple], Any]


def _images(c: int, h: int, w: int, n: int = 4, classes: int = 10):
    return lambda rng: (
        rng.standard_normal((n, c, h, w)).astype(np.float32),
        rng.integers(0, classes, n).astype(np.int64),
    )


def _classify(model: fd.nn.Module, batch: tuple) -> Any:
    x, y = batch
    return F.cross_entropy(model(x), y)


def _reconstruct(model: fd.nn.Module, batch: tuple) -> Any:
    x = batch[0]
    out = model(x)
    out = out[0] if isinstance(out, tuple) else out
    return F.mse_loss(out, x)


def _vae(model: fd.nn.Module, batch: tuple) -> Any:
    x = batch[0]
    eps = fd.zeros(x.shape[0], model.latent_dim, device=x.device)
    logits, mu, logvar = model(x, eps)
    rec = F.binary_cross_entropy_with_logits(logits, fd.sigmoid(x), reduction="sum")
    return rec - 0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum()


def _tokens(vocab: int, n: int = 4, length: int = 7, classes: int = 2):
    return lambda rng: (
        rng.integers(1, vocab, (n, length)).astype(np.int64),
        rng.integers(0, classes, n).astype(np.int64),
    )


def _sentiment(model: fd.nn.Module, batch: tuple) -> Any:
    ids, y = batch
    return F.binary_cross_entropy_with_logits(model(ids), y.float())


def _seq2seq(model: fd.nn.Module, batch: tuple) -> Any:
    src, tgt = batch
    logits = model(src, tgt[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1))


def _flow(model: fd.nn.Module, batch: tuple) -> Any:
    return -model.log_prob(batch[0]).mean()


def _dcgan(model: fd.nn.Module, batch: tuple) -> Any:
    g, d = model.g, model.d
    fake = g(batch[0])
    return F.binary_cross_entropy_with_logits(
        d(fake).reshape(-1), fd.ones(fake.shape[0], device=fake.device)
    )


class _GAN(fd.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.g = models.DCGANGenerator(nz=8, ngf=4)
        self.d = models.DCGANDiscriminator(ndf=4)


ZOO = [
    Entry("mnist_mlp", models.MnistMLP, _images(1, 28, 28), _classify),
    Entry("cifar_mlp", models.CifarMLP, _images(3, 32, 32), _classify),
    Entry("cifar_lenet", models.CifarLeNet, _images(3, 32, 32), _classify),
    Entry("cifar_vgg", models.CifarVGG, _images(3, 32, 32), _classify),
    Entry(
        "resnet_small", lambda: models.resnet_small(num_classes=10), _images(3, 32, 32), _classify
    ),
    Entry("conv_autoencoder", models.ConvAutoencoder, _images(1, 28, 28), _reconstruct),
    Entry("conv_vae", models.ConvVAE, _images(1, 28, 28), _vae),
    Entry(
        "unet",
        lambda: models.UNet(1, 1, base_channels=4, depth=2),
        _images(1, 16, 16),
        _reconstruct,
    ),
    Entry(
        "sentiment_lstm",
        lambda: models.SentimentRNN(30, 8, 6, cell="lstm"),
        _tokens(30),
        _sentiment,
    ),
    Entry(
        "sentiment_gru",
        lambda: models.SentimentRNN(30, 8, 6, cell="gru", bidirectional=True),
        _tokens(30),
        _sentiment,
    ),
    Entry(
        "bert",
        lambda: models.BertClassifier(
            30, d_model=16, nhead=2, num_layers=1, dim_feedforward=32, num_classes=2
        ),
        _tokens(30),
        _classify,
    ),
    Entry(
        "seq2seq",
        lambda: models.Seq2SeqTransformer(
            20,
            20,
            d_model=16,
            nhead=2,
            num_encoder_layers=1,
            num_decoder_layers=1,
            dim_feedforward=32,
        ),
        lambda rng: (
            rng.integers(1, 20, (3, 6)).astype(np.int64),
            rng.integers(1, 20, (3, 5)).astype(np.int64),
        ),
        _seq2seq,
    ),
    Entry(
        "realnvp",
        lambda: models.RealNVP(4, num_coupling_layers=2, hidden_features=8),
        lambda rng: (rng.standard_normal((8, 4)).astype(np.float32),),
        _flow,
    ),
    Entry(
        "dcgan", _GAN, lambda rng: (rng.standard_normal((2, 8, 1, 1)).astype(np.float32),), _dcgan
    ),
]

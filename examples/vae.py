"""Train two variational autoencoders on the embedded digits: an MLP VAE with a 2-D latent space
(so that the whole latent space is one picture) and a convolutional VAE with 16 latent
dimensions (the better model, whose test negative ELBO is the closing metric).

The course's VAE: the encoder gives the mean and log-variance of q(z|x) = N(mu, diag(sigma^2)),
z = mu + sigma · eps with eps ~ N(0, I) (the reparameterisation trick), the decoder gives one
Bernoulli logit per pixel, and training maximises ELBO = E_q[log p(x|z)] - KL(q(z|x) || N(0, I)),
i.e. minimises ``pyfastdl.ext.vae.vae_loss`` (pixel-wise binary cross-entropy summed per image +
the closed-form KL) in nats per image. Adam, learning rate 1e-3, batch 128, 30 epochs for the
MLP and 20 for the ConvVAE, on the 6,000 embedded training images binarised at 1/2 (so the
negative ELBO bounds -log p(x) of a binary image; ``--grey`` keeps the grey levels, as
pytorch/examples' VAE does with MNIST). The test negative ELBO is a one-sample estimate over the
1,000 test images with a fixed noise seed (``--seed`` + 1).

Reached with the defaults (seed 0): 133.9 nats/image for the MLP VAE (latent 2) and 67.6
nats/image for the ConvVAE (latent 16), in 3.4 CPU-minutes (2 cores). ``tests/models/
test_vae.py`` trains both models in PyTorch from the same weights, batches and noise, and
checks that the test negative ELBO agrees within 2% (it agrees to about 1e-5).

Pictures in ``--out``: ``<model>_reconstructions.png`` (16 test images, their reconstructions
from the mean code below), ``<model>_samples.png`` (decoded z ~ N(0, I)),
``<model>_interpolation.png`` (decoded points between the codes of two test images, one row per
pair), ``mlp_latent_grid.png`` (a 15 × 15 grid of z over the prior's 5%..95% quantiles,
decoded) and ``losses.png``.

    python examples/vae.py
    python examples/vae.py --models mlp --mlp-latent 2 --epochs 50 --grey
"""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
from _cli import example_parser, plot_curves, prepare, report, save_grid

import pyfastdl as fd
from pyfastdl.data import load_digits
from pyfastdl.ext.vae import gaussian_kl, vae_loss
from pyfastdl.models import VAE, ConvVAE
from pyfastdl.optim import Adam
from pyfastdl.utils.data import DataLoader, TensorDataset

NAME = "vae"


def digits(train: bool, n: int | None, binarize: bool) -> TensorDataset:
    """The embedded digits as (images, labels), the images binarised at 1/2 unless not
    `binarize` (then grey levels in [0, 1])."""
    images, labels = load_digits(train=train, n=n)
    if binarize:
        images = (images > 0.5).astype(np.float32)
    return TensorDataset(fd.tensor(images), fd.tensor(labels))


def evaluate(model: fd.nn.Module, loader: DataLoader, seed: int) -> tuple[float, float]:
    """(test negative ELBO, its KL part) in nats per image: one z per image, noise from `seed`."""
    gen = fd.Generator().manual_seed(seed)
    total = kl = 0.0
    count = 0
    model.eval()
    with fd.no_grad():
        for images, _ in loader:
            eps = fd.randn(images.shape[0], model.latent_dim, generator=gen)
            logits, mu, logvar = model(images, eps=eps)
            total += vae_loss(logits, images, mu, logvar, reduction="sum").item()
            kl += gaussian_kl(mu, logvar).sum().item()
            count += images.shape[0]
    model.train()
    return total / count, kl / count


def train(
    model: fd.nn.Module, train_loader: DataLoader, epochs: int, lr: float, label: str
) -> list[float]:
    """Adam on the negative ELBO; returns the mean training loss (nats/image) of each epoch."""
    optimizer = Adam(model.parameters(), lr=lr)
    curve = []
    for epoch in range(1, epochs + 1):
        losses = []
        for images, _ in train_loader:
            logits, mu, logvar = model(images)
            loss = vae_loss(logits, images, mu, logvar)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        curve.append(float(np.mean(losses)))
        print(f"{label} epoch {epoch:2d}: train negative ELBO {curve[-1]:.2f} nats/image")
    return curve


def latent_grid(model: fd.nn.Module, n: int = 15) -> fd.Tensor:
    """Decodes an n × n grid of 2-D codes at the prior's 5%..95% quantiles: (n², 1, 28, 28),
    rows from high z₂ (top) to low, columns from low z₁ (left) to high."""
    normal = statistics.NormalDist()
    q = [normal.inv_cdf(p) for p in np.linspace(0.05, 0.95, n)]
    z = np.array([[z1, z2] for z2 in reversed(q) for z1 in q], dtype=np.float32)
    with fd.no_grad():
        return model.decode(fd.tensor(z)).sigmoid()


def pictures(model: fd.nn.Module, label: str, test_images: fd.Tensor, out: Path) -> None:
    """Reconstructions, samples, interpolations (and the latent grid of a 2-D latent space)."""
    model.eval()
    originals = test_images[:16]
    with fd.no_grad():
        mu, _ = model.encode(originals)
        recon = model.decode(mu).sigmoid()  # the mean code: the picture of what z holds
    save_grid(out / f"{label}_reconstructions.png", fd.cat([originals, recon]), nrow=16)
    save_grid(out / f"{label}_samples.png", model.sample(64), nrow=8)
    rows = [model.interpolate(test_images[i], test_images[j], 10) for i, j in ((0, 7), (3, 8))]
    save_grid(out / f"{label}_interpolation.png", fd.cat(rows), nrow=10)
    if model.latent_dim == 2:
        save_grid(out / f"{label}_latent_grid.png", latent_grid(model), nrow=15)
    model.train()


def main(argv: list[str] | None = None) -> float:
    parser = example_parser(NAME, __doc__)
    parser.add_argument(
        "--models", default="mlp,conv", help="which VAEs to train, in order (default: mlp,conv)"
    )
    parser.add_argument("--mlp-latent", type=int, default=2, help="latent size of the MLP VAE")
    parser.add_argument("--conv-latent", type=int, default=16, help="latent size of the ConvVAE")
    parser.add_argument("--epochs", type=int, help="epochs for every model (default: 30 / 20)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument(
        "--grey", action="store_true", help="train on the grey levels instead of binary images"
    )
    args = parser.parse_args(argv)
    out = prepare(NAME, args)

    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    if not kinds or any(k not in ("mlp", "conv") for k in kinds):
        parser.error(f"--models takes mlp and/or conv, got {args.models!r}")
    n_train, n_test = (256, 100) if args.smoke else (None, None)
    train_set = digits(train=True, n=n_train, binarize=not args.grey)
    test_set = digits(train=False, n=n_test, binarize=not args.grey)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=500)
    test_images = next(iter(DataLoader(test_set, batch_size=16)))[0]

    curves, value = {}, float("nan")
    for kind in kinds:
        if kind == "mlp":
            model, default_epochs = VAE(latent_dim=args.mlp_latent), 30
        else:
            model, default_epochs = ConvVAE(latent_dim=args.conv_latent), 20
        epochs = 1 if args.smoke else (args.epochs or default_epochs)
        n_params = sum(p.numel() for p in model.parameters())
        print(
            f"{type(model).__name__} (latent {model.latent_dim}): {n_params:,} parameters; "
            f"{len(train_set)} training and {len(test_set)} test images"
        )
        curves[kind] = train(model, train_loader, epochs, args.lr, kind)
        value, kl = evaluate(model, test_loader, seed=args.seed + 1)
        print(
            f"{kind}: test negative ELBO {value:.2f} nats/image (reconstruction "
            f"{value - kl:.2f} + KL {kl:.2f})"
        )
        pictures(model, kind, test_images, out)
    plot_curves(out / "losses.png", curves, xlabel="epoch", ylabel="negative ELBO (nats/image)")
    report(NAME, "test negative ELBO (nats/image)", value)
    return value


if __name__ == "__main__":
    main()

"""Train a DCGAN on the embedded digits and judge its images with a digit classifier.

First the judge: the course's MnistMLP (784 → 64 → 32 → 10) trained on the embedded digits with
SGD (lr 0.01, momentum 0.9, batch 64) for 40 epochs, about 10 s: 99.2% test accuracy, and a
mean top-class probability of 0.99 on the real test digits (after the course's 12 epochs it is
0.98 there, but markedly less sure of imperfect images: the metric below depends on the judge's
training). ``--classifier PATH`` loads the judge's state dict, or trains it and writes it there
when the file does not exist yet.

Then the DCGAN (``pyfastdl.models.DCGANGenerator`` / ``DCGANDiscriminator``: transposed
convolutions, BatchNorm, ReLU / LeakyReLU(0.2), Tanh, weights from N(0, 0.02)) with small channel
counts, nz = 64 and ngf = ndf = 32 (234,176 + 36,544 parameters), on the 6,000 training digits
scaled to [-1, 1]. Alternating updates per batch of 32: one discriminator step on
-[log D(x) + log(1 - D(G(z)))], then one generator step on the non-saturating loss
-log D(G(z)) (``--loss minimax`` for the game's log(1 - D(G(z)))). Adam with the DCGAN paper's
betas (0.5, 0.999), lr 5e-4 (the paper's 2e-4 needs more epochs) decaying to 0 (cosine) over 15
epochs. Batches of 32 rather than 64 give twice the updates for the same arithmetic, which this
short run needs.

The metric, on 1,000 generated images: the judge's mean top-class probability (are the images
clearly digits?), printed last, and the entropy of the histogram of the predicted classes (are
all ten digits generated? at most ln 10 = 2.30 nats), printed on the line before. The issue asks
for >= 0.9 and >= 2.0 nats; the default run gives 0.904 and 2.24 nats (2 min 17 s of one CPU
core). Pictures: a sample grid per epoch (the same noise each time) and the loss curves.

    python examples/dcgan.py
    python examples/dcgan.py --classifier mlp.safetensors --epochs 20 --ngf 64
"""

from __future__ import annotations

import math
import os

import numpy as np
from _cli import example_parser, plot_curves, prepare, report, save_grid
from gan_1d import GENERATOR_LOSSES

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.data import load_digits
from pyfastdl.ext.gan_losses import discriminator_loss
from pyfastdl.io import load, save
from pyfastdl.models import DCGANDiscriminator, DCGANGenerator, MnistMLP
from pyfastdl.optim import SGD, Adam
from pyfastdl.optim.lr_scheduler import CosineAnnealingLR

NAME = "dcgan"


def batches(images: np.ndarray, labels: np.ndarray, batch_size: int, rng: np.random.Generator):
    """Shuffled (images, labels) Tensor batches of one epoch; the last short batch is dropped."""
    order = rng.permutation(len(images))
    for i in range(0, len(order) - batch_size + 1, batch_size):
        idx = order[i : i + batch_size]
        yield fd.tensor(images[idx]), fd.tensor(labels[idx])


def train_classifier(epochs: int, n_train: int, rng: np.random.Generator) -> MnistMLP:
    """The course's MLP trained on the embedded digits (inputs in [0, 1])."""
    images, labels = load_digits(train=True, n=n_train)
    model = MnistMLP()
    criterion = nn.CrossEntropyLoss()
    optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
    for _ in range(epochs):
        for x, y in batches(images, labels, 64, rng):
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


def classifier_accuracy(model: MnistMLP) -> float:
    images, labels = load_digits(train=False)
    with fd.no_grad():
        pred = model(fd.tensor(images)).array.argmax(1)
    return float((pred == labels).mean())


def judge(classifier: MnistMLP, images: fd.Tensor) -> tuple[float, float, np.ndarray]:
    """(mean top-class probability, entropy in nats of the predicted-class histogram, the
    histogram) of generated images in [-1, 1]."""
    with fd.no_grad():
        probs = classifier((images + 1.0) * 0.5).softmax(1).array.astype(np.float64)
    counts = np.bincount(probs.argmax(1), minlength=probs.shape[1])
    p = counts[counts > 0] / counts.sum()
    return float(probs.max(1).mean()), float(-(p * np.log(p)).sum()) + 0.0, counts


def main(argv: list[str] | None = None) -> float:
    parser = example_parser(NAME, __doc__)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--nz", type=int, default=64, help="noise size (64)")
    parser.add_argument("--ngf", type=int, default=32, help="generator channels (32)")
    parser.add_argument("--ndf", type=int, default=32, help="discriminator channels (32)")
    parser.add_argument("--loss", choices=sorted(GENERATOR_LOSSES), default="non-saturating")
    parser.add_argument(
        "--classifier",
        metavar="PATH",
        help="the judge's state dict: loaded if the file exists, else trained and written there",
    )
    parser.add_argument("--classifier-epochs", type=int, default=40)
    args = parser.parse_args(argv)
    out = prepare(NAME, args)
    rng = np.random.default_rng(args.seed)
    n_train = 256 if args.smoke else None
    epochs = 1 if args.smoke else args.epochs
    n_eval = 100 if args.smoke else 1000

    if args.classifier and os.path.exists(args.classifier):
        classifier = MnistMLP()
        classifier.load_state_dict(load(args.classifier))
        print(f"loaded the classifier from {args.classifier}")
    else:
        n_epochs = 1 if args.smoke else args.classifier_epochs
        classifier = train_classifier(n_epochs, n_train or 6000, rng)
        if args.classifier:
            save(classifier.state_dict(), args.classifier)
    classifier.eval()
    print(f"classifier: test accuracy {100 * classifier_accuracy(classifier):.2f}%")

    images, labels = load_digits(train=True, n=n_train)
    images = images * 2.0 - 1.0  # the generator's Tanh range
    g, d = DCGANGenerator(nz=args.nz, ngf=args.ngf), DCGANDiscriminator(ndf=args.ndf)
    n_g, n_d = (sum(p.numel() for p in m.parameters()) for m in (g, d))
    print(f"DCGAN: generator {n_g:,} and discriminator {n_d:,} parameters, {len(images)} images")
    opt_g = Adam(g.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = Adam(d.parameters(), lr=args.lr, betas=(0.5, 0.999))
    # both learning rates decay to 0 (cosine) over the run: the late, small steps settle the
    # oscillating game and clean the images up
    total_steps = epochs * (len(images) // args.batch_size)
    schedulers = [CosineAnnealingLR(opt, T_max=total_steps) for opt in (opt_g, opt_d)]
    generator_loss = GENERATOR_LOSSES[args.loss]
    fixed_noise = fd.randn(64, args.nz)

    d_losses, g_losses = [], []
    for epoch in range(1, epochs + 1):
        for step, (real, _) in enumerate(batches(images, labels, args.batch_size, rng)):
            if args.smoke and step == 3:
                break
            fake = g(fd.randn(args.batch_size, args.nz))
            # discriminator step: real → 1, fake → 0; the fakes are detached so that G is not
            # updated (nor its graph freed) here
            loss_d = discriminator_loss(d(real), d(fake.detach()))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            # generator step: the same fakes through the updated discriminator
            loss_g = generator_loss(d(fake))
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            for scheduler in schedulers:
                scheduler.step()
            d_losses.append(loss_d.item())
            g_losses.append(loss_g.item())
        with fd.no_grad():
            grid = g(fixed_noise)
        save_grid(out / f"samples_epoch{epoch:02d}.png", grid, normalize=True, value_range=(-1, 1))
        g.eval()
        with fd.no_grad():
            top, entropy, _ = judge(classifier, g(fd.randn(n_eval, args.nz)))
        g.train()
        print(
            f"epoch {epoch:2d}: D loss {np.mean(d_losses[-50:]):.4f}, G loss "
            f"{np.mean(g_losses[-50:]):.4f}, mean top-class probability {top:.4f}, class "
            f"entropy {entropy:.4f} nats"
        )

    plot_curves(out / "losses.png", {"discriminator": d_losses, "generator": g_losses})
    g.eval()
    with fd.no_grad():
        top, entropy, counts = judge(classifier, g(fd.randn(n_eval, args.nz)))
    print(f"predicted classes of {n_eval} generated images: {counts.tolist()}; pictures in {out}")
    print(f"class-histogram entropy = {entropy:.4f} nats (at most ln 10 = {math.log(10):.4f})")
    report(NAME, "mean top-class probability", top)
    return top


if __name__ == "__main__":
    main()

"""Train the course's 1-D GAN: a generator learns to sample a target normal distribution.

The slides' exercise has real points {2, 3, 4}, a generator ``G(z) = 2z + 1`` with
z ~ N(0, 1) and a discriminator ``D(x) = sigmoid(0.5 x - 1)``. Here the real data are drawn from
N(3, 1), the normal distribution with the mean and (sample) standard deviation of {2, 3, 4}, and
the generator is the slides' affine map, starting from their ``G(z) = 2z + 1`` (so from
N(1, 2²)). The discriminator is an MLP 1 → 32 → 32 → 1 logit with LeakyReLU(0.2): a
discriminator linear in x, like the slides' ``sigmoid(w x + b)``, sees only the mean of a
distribution and could not correct the generator's spread. Alternating updates: one
discriminator step then one generator step per batch of 256 real and 256 generated samples,
3000 steps, Adam with betas (0.5, 0.999), lr 1e-2 for the generator's two parameters and 1e-3
for the discriminator, both decaying to 0 (cosine), with the non-saturating generator loss
-log D(G(z)) (``--loss minimax`` for log(1 - D(G(z)))).

The metric, on 20,000 generated samples: the larger of |mean - 3| and |std - 1| (the issue asks
for both within 0.1; the default run reaches 0.011, seeds 0-5 0.009 to 0.028, in seconds). Pictures: the
histogram of the generated samples over the target density, the loss curves.

    python examples/gan_1d.py
    python examples/gan_1d.py --loss minimax --seed 1
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _cli import example_parser, plot_curves, prepare, pyplot, report

import pyfastdl as fd
from pyfastdl.ext.gan_losses import (
    discriminator_loss,
    minimax_generator_loss,
    non_saturating_generator_loss,
)
from pyfastdl.models import Discriminator1d, Generator1d
from pyfastdl.optim import Adam
from pyfastdl.optim.lr_scheduler import CosineAnnealingLR

NAME = "gan_1d"
# the generator's loss, by its --loss name (dcgan.py uses the same table)
GENERATOR_LOSSES = {
    "non-saturating": non_saturating_generator_loss,
    "minimax": minimax_generator_loss,
}


def init_like_slides(g: Generator1d) -> None:
    """The slides' starting generator G(z) = 2z + 1 (an affine ``Generator1d``)."""
    g.layers[0].weight.data.fill_(2.0)
    g.layers[0].bias.data.fill_(1.0)


def plot_histogram(path: Path, generated: np.ndarray, mean: float, std: float) -> Path | None:
    """Histogram of the generated samples over the target's density; None without matplotlib."""
    plt = pyplot(path.name)
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    ax.hist(generated, bins=80, density=True, alpha=0.6, label="generated")
    x = np.linspace(mean - 4 * std, mean + 4 * std, 400)
    pdf = np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))
    ax.plot(x, pdf, "k", linewidth=1.5, label=f"target N({mean:g}, {std:g}²)")
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> float:
    parser = example_parser(NAME, __doc__)
    parser.add_argument("--steps", type=int, default=3000, help="alternating updates (3000)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-2, help="generator learning rate")
    parser.add_argument("--lr-d", type=float, default=1e-3, help="discriminator learning rate")
    parser.add_argument("--loss", choices=sorted(GENERATOR_LOSSES), default="non-saturating")
    parser.add_argument("--target-mean", type=float, default=3.0)
    parser.add_argument("--target-std", type=float, default=1.0)
    args = parser.parse_args(argv)
    out = prepare(NAME, args)
    steps = 20 if args.smoke else args.steps
    n_eval = 2000 if args.smoke else 20000
    rng = np.random.default_rng(args.seed)

    def real_batch(n: int) -> fd.Tensor:
        x = rng.normal(args.target_mean, args.target_std, (n, 1))
        return fd.tensor(x.astype(np.float32))

    g, d = Generator1d(), Discriminator1d()
    init_like_slides(g)
    opt_g = Adam(g.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = Adam(d.parameters(), lr=args.lr_d, betas=(0.5, 0.999))
    # the learning rates decay to 0 (cosine): at a constant rate the game oscillates around its
    # equilibrium, and the shrinking steps settle it there
    schedulers = [CosineAnnealingLR(opt, T_max=steps) for opt in (opt_g, opt_d)]
    generator_loss = GENERATOR_LOSSES[args.loss]
    print(
        f"target N({args.target_mean:g}, {args.target_std:g}²); {steps} steps of batch "
        f"{args.batch_size}, {args.loss} generator loss"
    )

    d_losses, g_losses = [], []
    for step in range(1, steps + 1):
        # discriminator step: real samples → 1, generated samples (detached from G) → 0
        fake = g(fd.randn(args.batch_size, g.noise_dim)).detach()
        loss_d = discriminator_loss(d(real_batch(args.batch_size)), d(fake))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        # generator step: through the discriminator, updating G only
        loss_g = generator_loss(d(g(fd.randn(args.batch_size, g.noise_dim))))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        for scheduler in schedulers:
            scheduler.step()
        d_losses.append(loss_d.item())
        g_losses.append(loss_g.item())
        if step % max(1, steps // 10) == 0 or step == steps:
            with fd.no_grad():
                sample = g(fd.randn(2000, g.noise_dim)).array
            print(
                f"step {step:5d}: D loss {np.mean(d_losses[-100:]):.4f}, G loss "
                f"{np.mean(g_losses[-100:]):.4f}, generated mean {sample.mean():.3f} std "
                f"{sample.std():.3f}"
            )

    with fd.no_grad():
        generated = g(fd.randn(n_eval, g.noise_dim)).array.ravel().astype(np.float64)
    mean_error = abs(generated.mean() - args.target_mean)
    std_error = abs(generated.std(ddof=1) - args.target_std)
    plot_histogram(out / "histogram.png", generated, args.target_mean, args.target_std)
    plot_curves(out / "losses.png", {"discriminator": d_losses, "generator": g_losses})
    print(
        f"generated mean {generated.mean():.4f} (|error| {mean_error:.4f}), std "
        f"{generated.std(ddof=1):.4f} (|error| {std_error:.4f}); pictures in {out}"
    )
    value = max(mean_error, std_error)
    report(NAME, "max(|mean error|, |std error|)", value)
    return value


if __name__ == "__main__":
    main()

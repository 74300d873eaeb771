"""Train RealNVP, a normalizing flow of affine coupling layers, on two moons and score it by its
exact test negative log-likelihood against the best Gaussian.

The course's normalizing flow: a bijection z = F(x) onto N(0, I), trained by maximising the
exact log-likelihood ``log p(x) = log N(F(x); 0, I) + log |det ∂F/∂x|`` (the change of variables
formula); samples are F⁻¹(z). ``RealNVP``: 8 affine coupling layers with alternating masks, each
an MLP (2 → 64 → 64 → 4, SiLU) giving a bounded log-scale and a shift. Data: 4,000 training and
2,000 test points of ``make_moons(noise=0.05)`` (other seeds for the test set), standardised with
the training mean and deviation (the NLL is reported in the data's own units: the
standardisation's log-det is added back). Adam, learning rate 2e-3 decaying along a cosine,
batch 256, 3,000 steps.

Baseline: the best full-covariance Gaussian (maximum-likelihood mean and covariance of the
training set) scored on the same test set. Reached with the defaults: test NLL 0.38 nats
(seed 0; 0.40 with seed 1) against the Gaussian's 1.88, a gap of 1.5 nats (the issue asks for
0.5), inversion error max |F⁻¹(F(x)) − x| about 3e-6, in one to two minutes on 2 CPU cores.

``--dataset gmm`` (8 Gaussians on a circle: test NLL 2.08 against the Gaussian's 3.55) and
``--dataset rings`` (3 concentric rings) train the same flow on the other toy sets. Rings are the
hard case for affine couplings, which bend space one coordinate at a time: 1.24 against 1.50
nats with the defaults, 1.13 with ``--layers 12 --hidden 128 --steps 6000``, the inner rings
still blurred. ``--dataset digits`` trains a wider flow (784 dimensions, 6 couplings of width
256, checkerboard masks, logit transform, batch 64, 1,500 steps) on the dequantized embedded
digits and reports the test bits per dimension instead: 5.11 (their rendering adds pixel noise
of deviation up to 0.1 to every image: an entropy floor well above MNIST's), about 4 minutes.

Pictures in ``--out``: ``samples.png`` (test data beside as many flow samples; for digits, 64
sampled digits), ``density.png`` (exp(log p) of the flow on a grid; 2-D sets) and ``loss.png``.

    python examples/realnvp.py                       # two moons: NLL 1.5 nats below the Gaussian
    python examples/realnvp.py --dataset digits --steps 2000
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from _cli import example_parser, plot_curves, prepare, pyplot, report, save_grid
from tqdm import tqdm

import pyfastdl as fd
from pyfastdl.data import load_digits, make_gaussian_mixture, make_moons, make_rings
from pyfastdl.models import RealNVP, bits_per_dim, checkerboard_mask, dequantize
from pyfastdl.optim import Adam
from pyfastdl.optim.lr_scheduler import CosineAnnealingLR

NAME = "realnvp"
TOY_SETS = {
    "moons": lambda n, seed: make_moons(n, noise=0.05, random_state=seed),
    "rings": lambda n, seed: make_rings(n, n_rings=3, noise=0.04, random_state=seed),
    "gmm": lambda n, seed: make_gaussian_mixture(n, random_state=seed),
}


def gaussian_nll(train: np.ndarray, test: np.ndarray) -> float:
    """Mean test NLL (nats) of the maximum-likelihood Gaussian of `train` (mean, biased covariance):
    ``½ (d log 2π + log det Σ + (x − μ)ᵀ Σ⁻¹ (x − μ))``."""
    train, test = train.astype(np.float64), test.astype(np.float64)
    mu = train.mean(axis=0)
    cov = np.cov(train, rowvar=False, bias=True)
    _, logdet = np.linalg.slogdet(cov)
    diff = test - mu
    maha = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
    return float(0.5 * (train.shape[1] * math.log(2 * math.pi) + logdet + maha).mean())


def evaluate(flow: RealNVP, x: fd.Tensor, batch_size: int = 1000) -> tuple[float, float]:
    """(mean NLL of x in nats, max |F⁻¹(F(x)) − x|), in batches, without gradients."""
    nll = err = 0.0
    with fd.no_grad():
        for start in range(0, x.shape[0], batch_size):
            xb = x[start : start + batch_size]
            z, log_det = flow(xb)  # log_prob and the inversion from one forward pass
            nll -= (flow.base_log_prob(z) + log_det).sum().item()
            err = max(err, (flow.inverse(z) - xb).abs().max().item())
    return nll / x.shape[0], err


def train(flow: RealNVP, loss_of, x: np.ndarray, args, desc: str) -> list[float]:
    """Adam on random mini-batches of x, the learning rate decaying along a cosine; the losses."""
    optimizer = Adam(flow.parameters(), lr=args.lr)
    scheduler = CosineAnnealingLR(optimizer, T_max=args.steps)
    rng = np.random.default_rng(args.seed)
    losses = []
    bar = tqdm(range(args.steps), desc=desc, leave=False, disable=args.smoke)
    for step in bar:
        batch = fd.tensor(x[rng.integers(0, len(x), args.batch_size)])
        loss = loss_of(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        if step % 100 == 0:
            bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
    return losses


def plot_toy(out: Path, flow: RealNVP, test: np.ndarray, mean: np.ndarray, std: np.ndarray):
    """samples.png (test data | flow samples) and density.png (exp(log p) on a grid)."""
    plt = pyplot("samples.png", "density.png")
    if plt is None:
        return
    samples = flow.sample(len(test), generator=fd.Generator().manual_seed(0)).numpy()
    samples = samples * std + mean
    lo, hi = test.min(axis=0) - 0.5, test.max(axis=0) + 0.5
    fig, axes = plt.subplots(1, 2, figsize=(8, 4), dpi=120, sharex=True, sharey=True)
    for ax, pts, title in [(axes[0], test, "test data"), (axes[1], samples, "RealNVP samples")]:
        ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.5)
        ax.set_title(title)
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(out / "samples.png")
    plt.close(fig)

    # density in the data's units: p(x) = p_flow((x − mean) / std) / Π std
    n = 200
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    with fd.no_grad():
        log_p = flow.log_prob(fd.tensor(((grid - mean) / std).astype(np.float32))).numpy()
    density = np.exp(log_p - np.log(std).sum()).reshape(n, n)
    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    image = ax.imshow(density, origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]), cmap="magma")
    fig.colorbar(image, ax=ax, label="p(x)")
    ax.set_title("RealNVP density")
    fig.tight_layout()
    fig.savefig(out / "density.png")
    plt.close(fig)


def run_toy(args, out: Path) -> float:
    make = TOY_SETS[args.dataset]
    n_train, n_test = (256, 256) if args.smoke else (args.train_size, args.test_size)
    train_x, _ = make(n_train, args.seed)
    test_x, _ = make(n_test, args.seed + 1000)
    # standardise with the training statistics; log p(x) = log p_flow(x') − Σ log std
    mean, std = train_x.mean(axis=0), train_x.std(axis=0)
    shift = float(np.log(std).sum())
    train_s = ((train_x - mean) / std).astype(np.float32)
    test_s = fd.tensor(((test_x - mean) / std).astype(np.float32))

    flow = RealNVP(
        2,
        num_coupling_layers=args.layers,
        hidden_features=args.hidden,
        num_hidden_layers=args.hidden_layers,
    )
    n_params = sum(p.numel() for p in flow.parameters())
    print(
        f"RealNVP: {n_params:,} parameters, {args.layers} coupling layers; {args.dataset}: "
        f"{n_train} training and {n_test} test points"
    )
    losses = train(flow, lambda xb: -flow.log_prob(xb).mean(), train_s, args, args.dataset)
    print(f"final training NLL (standardised units) {np.mean(losses[-100:]):.4f}")

    nll, inversion = evaluate(flow, test_s)
    nll += shift
    baseline = gaussian_nll(train_x, test_x)
    print(f"inversion error max |F^-1(F(x)) - x| = {inversion:.2e} (standardised units)")
    print(f"full-covariance Gaussian: test NLL (nats) = {baseline:.4f}")
    print(f"gap (Gaussian - RealNVP) = {baseline - nll:.4f} nats")
    plot_toy(out, flow, test_x, mean, std)
    plot_curves(out / "loss.png", {"training NLL": losses}, ylabel="NLL (nats, standardised)")
    report(NAME, "test NLL (nats)", nll)
    return nll


def run_digits(args, out: Path) -> float:
    n_train, n_test = (64, 64) if args.smoke else (args.train_size, args.test_size)
    train_x = load_digits(train=True, n=n_train, seed=args.seed)[0].reshape(n_train, -1)
    test_x = load_digits(train=False, n=n_test, seed=args.seed)[0].reshape(n_test, -1)
    flow = RealNVP(
        784,
        num_coupling_layers=args.layers,
        hidden_features=args.hidden,
        num_hidden_layers=args.hidden_layers,
        mask=checkerboard_mask(28, 28),
        logit_alpha=0.05,
    )
    n_params = sum(p.numel() for p in flow.parameters())
    print(
        f"RealNVP: {n_params:,} parameters, {args.layers} coupling layers; digits: "
        f"{n_train} training and {n_test} test images"
    )
    noise = fd.Generator().manual_seed(args.seed)

    def loss_of(xb: fd.Tensor) -> fd.Tensor:  # a fresh dequantization of every batch
        return bits_per_dim(flow.log_prob(dequantize(xb, generator=noise)), 784)

    losses = train(flow, loss_of, train_x, args, "digits")
    test_dq = dequantize(fd.tensor(test_x), generator=fd.Generator().manual_seed(12345))
    nll, inversion = evaluate(flow, test_dq)
    bpd = nll / (784 * math.log(2)) + 8
    print(f"inversion error max |F^-1(F(x)) - x| = {inversion:.2e}")
    print(f"test NLL {nll:.1f} nats per image on [0, 1]^784")
    samples = flow.sample(64, generator=fd.Generator().manual_seed(0)).clamp(0, 1)
    save_grid(out / "samples.png", samples.reshape(64, 1, 28, 28), nrow=8)
    plot_curves(out / "loss.png", {"training bits/dim": losses}, ylabel="bits/dim")
    report(NAME, "test bits/dim", bpd)
    return bpd


def main(argv: list[str] | None = None) -> float:
    parser = example_parser(NAME, __doc__)
    parser.add_argument("--dataset", choices=("moons", "rings", "gmm", "digits"), default="moons")
    parser.add_argument("--steps", type=int, help="training steps (default 3000; digits 1500)")
    parser.add_argument("--batch-size", type=int, help="default 256; digits 64")
    parser.add_argument("--lr", type=float, help="default 2e-3; digits 1e-3")
    parser.add_argument("--layers", type=int, help="coupling layers (default 8; digits 6)")
    parser.add_argument("--hidden", type=int, help="MLP width (default 64; digits 256)")
    parser.add_argument("--hidden-layers", type=int, default=2, help="hidden layers per MLP")
    parser.add_argument("--train-size", type=int, help="default 4000 points / 6000 images")
    parser.add_argument("--test-size", type=int, help="default 2000 points / 1000 images")
    args = parser.parse_args(argv)
    digits = args.dataset == "digits"
    defaults = {
        "steps": 1500 if digits else 3000,
        "batch_size": 64 if digits else 256,
        "lr": 1e-3 if digits else 2e-3,
        "layers": 6 if digits else 8,
        "hidden": 256 if digits else 64,
        "train_size": 6000 if digits else 4000,
        "test_size": 1000 if digits else 2000,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.smoke:  # a few steps of a narrow flow
        args.steps, args.hidden = min(args.steps, 20), min(args.hidden, 64)
    out = prepare(NAME, args)
    return run_digits(args, out) if digits else run_toy(args, out)


if __name__ == "__main__":
    main()

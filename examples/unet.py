"""Train a U-Net to segment the embedded overlapping shapes: every pixel of a 64×64 colour image
is background, circle, square or triangle.

The model (``pyfastdl.models.UNet``): base 16 channels, depth 3 (16, 32, 64, 128 channels at 64,
32, 16, 8 pixels), double 3×3 convolutions with BatchNorm, skip connections by concatenation,
transposed-convolution upsampling (``--upsampling bilinear`` for bilinear + 1×1 convolution);
482,788 parameters. The data (``pyfastdl.data.EmbeddedShapes``): 2,000 training and 400 test
images of 2-5 rotated shapes that may overlap, on textured noisy backgrounds. Adam, learning
rate 3e-3 with cosine annealing to 0, batch 8, 5 epochs (1,250 steps), random flips, and the
loss of milesial/Pytorch-UNet: cross-entropy + soft Dice (``--loss ce|dice|ce+dice``).
``--weight-map`` weights the cross-entropy per pixel by the U-Net paper's map
``w_c + w0 exp(-(d1 + d2)² / (2 σ²))`` (``pyfastdl.ext.losses.unet_weight_map``, w0 = 10,
σ = 3 pixels for these small shapes, balanced class weights), computed once for the training
masks.

The metric: the mean over the three shape classes of the hard Dice score
``2 |P ∩ T| / (|P| + |T|)`` on the test set. Reached with the defaults (seed 0): 0.973 (circle
0.982, square 0.973, triangle 0.964; 0.94 after two epochs), in about 3 CPU-minutes (one thread).

Pictures in ``--out``: ``overlays.png`` (rows of test images: the image, the truth and the
prediction overlaid in red, green and blue for circles, squares and triangles) and
``losses.png``. ``--images DIR --masks DIR`` trains on image/mask folders instead
(``SegmentationFolder``: PNG pairs of one size, masks of class indices; 80/20 split).

    python examples/unet.py
    python examples/unet.py --upsampling bilinear --loss dice
    python examples/unet.py --weight-map --loss ce
"""

from __future__ import annotations

import numpy as np
from _cli import example_parser, plot_curves, prepare, report, save_grid

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.data import EmbeddedShapes, SegmentationFolder
from pyfastdl.ext.losses import dice_loss, dice_score, unet_weight_map, weighted_cross_entropy
from pyfastdl.models import UNet
from pyfastdl.optim import Adam
from pyfastdl.optim.lr_scheduler import CosineAnnealingLR
from pyfastdl.utils.data import DataLoader, TensorDataset, random_split

NAME = "unet"
# overlay colours of the classes (the background keeps the image's own colour)
PALETTE = np.array([[0, 0, 0], [1, 0.15, 0.15], [0.15, 1, 0.15], [0.2, 0.4, 1]], np.float32)


def load_data(args) -> tuple[TensorDataset, TensorDataset, int]:
    """(train, test, number of classes) as in-memory tensors: images (N, C, H, W), masks (N, H,
    W) and the index of each image (to look up its weight map)."""
    if args.images:
        folder = SegmentationFolder(args.images, args.masks)
        n_test = max(1, len(folder) // 5)
        parts = random_split(folder, [len(folder) - n_test, n_test])
        sets = [[folder[i] for i in part.indices] for part in parts]
        stacked = [
            (np.stack([im.numpy() for im, _ in s]), np.stack([m.numpy() for _, m in s]))
            for s in sets
        ]
        num_classes = args.num_classes or int(max(m.max() for _, m in stacked)) + 1
    else:
        sets = [
            EmbeddedShapes(train=True, n=args.train_size, seed=args.seed),
            EmbeddedShapes(train=False, n=args.test_size, seed=args.seed),
        ]
        stacked = [(s.images, s.masks) for s in sets]
        num_classes = len(EmbeddedShapes.classes)
    train, test = (
        TensorDataset(fd.tensor(im), fd.tensor(m), fd.arange(len(m))) for im, m in stacked
    )
    return train, test, num_classes


def criterion(kind: str, logits: fd.Tensor, masks: fd.Tensor, weights: fd.Tensor | None):
    """The training loss: cross-entropy (per-pixel weighted with `weights`), Dice, or both."""
    parts = kind.split("+")
    loss = 0.0
    if "ce" in parts:
        if weights is None:
            loss = nn.functional.cross_entropy(logits, masks)
        else:
            loss = weighted_cross_entropy(logits, masks, weights)
    if "dice" in parts:
        loss = loss + dice_loss(logits, masks)
    return loss


def flip(images: fd.Tensor, masks: fd.Tensor, weights: fd.Tensor | None, rng):
    """Random horizontal and vertical flips, the same for an image, its mask and weights."""
    arrays = [t.numpy() for t in (images, masks) + ((weights,) if weights is not None else ())]
    for axis in (-1, -2):
        chosen = rng.random(len(arrays[1])) < 0.5
        for i, a in enumerate(arrays):
            arrays[i] = np.where(chosen.reshape((-1,) + (1,) * (a.ndim - 1)), np.flip(a, axis), a)
    out = [fd.tensor(np.ascontiguousarray(a)) for a in arrays]
    return out[0], out[1], (out[2] if weights is not None else None)


def predict(model: nn.Module, loader: DataLoader) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, true masks, predicted masks) over a loader, in eval mode."""
    model.eval()
    images, truth, pred = [], [], []
    with fd.no_grad():
        for x, m, _ in loader:
            images.append(x.numpy())
            truth.append(m.numpy())
            pred.append(model(x).argmax(dim=1).numpy())
    model.train()
    return np.concatenate(images), np.concatenate(truth), np.concatenate(pred)


def mean_dice(truth: np.ndarray, pred: np.ndarray, num_classes: int) -> float:
    """Mean over the foreground classes of the hard Dice score over the whole set."""
    scores = dice_score(fd.tensor(pred), fd.tensor(truth), num_classes, include_background=False)
    return float(scores.mean().item())


def overlay(images: np.ndarray, masks: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """Images (N, 3, H, W) with the classes of `masks` painted over them (background untouched)."""
    colours = PALETTE[masks % len(PALETTE)].transpose(0, 3, 1, 2)
    paint = alpha * (masks > 0)[:, None]
    rgb = images if images.shape[1] == 3 else np.repeat(images[:, :1], 3, axis=1)
    return (1 - paint) * rgb + paint * colours


def main(argv: list[str] | None = None) -> float:
    parser = example_parser(NAME, __doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--base-channels", type=int, default=16)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--upsampling", choices=["transpose", "bilinear"], default="transpose")
    parser.add_argument("--loss", choices=["ce", "dice", "ce+dice"], default="ce+dice")
    parser.add_argument(
        "--weight-map", action="store_true", help="weight the cross-entropy by the U-Net map"
    )
    parser.add_argument("--sigma", type=float, default=3.0, help="σ of the weight map (pixels)")
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--test-size", type=int, default=400)
    parser.add_argument("--images", metavar="DIR", help="folder of images (with --masks)")
    parser.add_argument("--masks", metavar="DIR", help="folder of masks of class indices")
    parser.add_argument("--num-classes", type=int, help="classes of --masks (default: max + 1)")
    args = parser.parse_args(argv)
    if bool(args.images) != bool(args.masks):
        parser.error("--images and --masks go together")
    if args.smoke:
        args.epochs, args.train_size, args.test_size = 1, 16, 8
        args.base_channels, args.depth = 4, 2
    out = prepare(NAME, args)
    rng = np.random.default_rng(args.seed)

    train_set, test_set, num_classes = load_data(args)
    weights = None
    if args.weight_map:
        if args.loss == "dice":
            parser.error("--weight-map weights the cross-entropy: use --loss ce or ce+dice")
        weights = unet_weight_map(train_set.tensors[1], sigma=args.sigma, class_weights="balanced")
        print(f"weight map: mean {weights.mean().item():.3f}, max {weights.max().item():.2f}")
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=100)

    in_channels = train_set.tensors[0].shape[1]
    model = UNet(in_channels, num_classes, args.base_channels, args.depth, args.upsampling)
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"UNet ({args.upsampling}): {n_params:,} parameters; {len(train_set)} training and "
        f"{len(test_set)} test images; loss {args.loss}{' (weighted)' if weights is not None else ''}"
    )
    optimizer = Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * len(train_loader)
    scheduler = CosineAnnealingLR(optimizer, T_max=steps)
    curve: list[float] = []
    dice = 0.0
    for epoch in range(1, args.epochs + 1):
        losses = []
        for step, (images, masks, index) in enumerate(train_loader):
            w = weights[index] if weights is not None else None
            images, masks, w = flip(images, masks, w, rng)
            loss = criterion(args.loss, model(images), masks, w)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            if args.smoke and step == 1:
                break
        curve.append(float(np.mean(losses)))
        _, truth, pred = predict(model, test_loader)
        dice = mean_dice(truth, pred, num_classes)
        print(f"epoch {epoch:2d}: train loss {curve[-1]:.4f}, test Dice {dice:.4f}")

    images, truth, pred = predict(model, test_loader)
    per_class = dice_score(fd.tensor(pred), fd.tensor(truth), num_classes).tolist()
    names = EmbeddedShapes.classes if not args.images else [str(c) for c in range(num_classes)]
    print("test Dice per class: " + ", ".join(f"{n} {v:.4f}" for n, v in zip(names, per_class)))
    k = min(8, len(images))
    rows = np.stack([images[:k], overlay(images[:k], truth[:k]), overlay(images[:k], pred[:k])])
    grid = rows.transpose(1, 0, 2, 3, 4).reshape(3 * k, 3, *images.shape[2:])
    grid = grid.repeat(2, axis=-2).repeat(2, axis=-1)  # twice the size, to be seen
    save_grid(out / "overlays.png", fd.tensor(np.ascontiguousarray(grid, np.float32)), nrow=3)
    plot_curves(out / "losses.png", {"train loss": curve}, xlabel="epoch")
    report(NAME, "mean test Dice", dice)
    return dice


if __name__ == "__main__":
    main()

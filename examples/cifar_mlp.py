"""Train the course's CIFAR model 1, an MLP (3072 → 1024 → 256 → 64 → 10, ReLU), on colour images.

Mini-batch SGD with momentum, cross-entropy on the logits, images standardised per channel.
Without ``--data`` it trains on the embedded colour images (10 classes of shapes and textures,
rendered in memory, no download); with ``--data DIR`` it reads the real CIFAR-10 batches
(python or binary version) from DIR. ``--augment`` adds random crops (padding 4) and horizontal
flips.

    python examples/cifar_mlp.py                       # embedded images
    python examples/cifar_mlp.py --data ~/cifar-10-batches-py --save mlp.safetensors

This file also holds the training loop that ``cifar_lenet.py`` and ``cifar_vgg.py`` share
(:func:`run`).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from tqdm import tqdm

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.data import CIFAR10, EmbeddedCifar
from pyfastdl.data import transforms as T
from pyfastdl.io import save
from pyfastdl.models import CifarMLP
from pyfastdl.optim import SGD
from pyfastdl.utils.data import DataLoader
from pyfastdl.utils.metrics import accuracy as test_accuracy

# Per-channel (mean, std) of the training images: CIFAR-10's, and the embedded set's.
CIFAR10_STATS = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
EMBEDDED_STATS = ((0.49, 0.50, 0.50), (0.28, 0.28, 0.28))


def training_parser(
    description: str,
    epochs: int,
    lr: float,
    batch_help: str | None = None,
    save_help: str = "write the trained state dict here",
) -> argparse.ArgumentParser:
    """The CIFAR examples' shared options (``ddp_cifar.py`` adds its own to them)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=64, help=batch_help)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument(
        "--data", metavar="DIR", help="folder with the CIFAR-10 batches (default: embedded images)"
    )
    parser.add_argument("--augment", action="store_true", help="random crops and flips")
    parser.add_argument("--train-size", type=int, help="embedded training images (default 5000)")
    parser.add_argument("--test-size", type=int, help="embedded test images (default 1000)")
    parser.add_argument("--save", metavar="PATH", help=save_help)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def cifar_sets(args: argparse.Namespace) -> tuple:
    """(training set, test set) for the options: the real CIFAR-10 batches with ``--data``, the
    embedded images without; standardised per channel, after random crops and flips with
    ``--augment`` (then images are prepared one by one)."""
    # Per-channel standardisation (a batchable transform: batches stay one indexing copy) ...
    normalize = T.Normalize(*(CIFAR10_STATS if args.data else EMBEDDED_STATS))
    augment = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), normalize])
    train_transform = augment if args.augment else normalize
    if args.data:
        return (
            CIFAR10(args.data, train=True, transform=train_transform),
            CIFAR10(args.data, train=False, transform=normalize),
        )
    return (
        EmbeddedCifar(train=True, transform=train_transform, n=args.train_size),
        EmbeddedCifar(train=False, transform=normalize, n=args.test_size),
    )


def run(
    make_model: Callable[[], nn.Module],
    description: str,
    argv: list[str] | None = None,
    epochs: int = 10,
    lr: float = 0.01,
) -> float:
    """Parses the command line, trains ``make_model()`` and returns the last test accuracy."""
    args = training_parser(description, epochs, lr).parse_args(argv)

    fd.manual_seed(args.seed)
    train_set, test_set = cifar_sets(args)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=500)

    model = make_model()
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"{type(model).__name__}: {n_params:,} parameters; {len(train_set)} training and "
        f"{len(test_set)} test images"
    )
    criterion = nn.CrossEntropyLoss()
    optimizer = SGD(model.parameters(), lr=args.lr, momentum=args.momentum)

    accuracy = 0.0
    for epoch in range(1, args.epochs + 1):
        losses, start = [], time.perf_counter()
        bar = tqdm(train_loader, desc=f"epoch {epoch}/{args.epochs}", leave=False)
        for images, labels in bar:
            loss = criterion(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
        seconds = time.perf_counter() - start
        accuracy = test_accuracy(model, test_loader)
        print(
            f"epoch {epoch:2d}: train loss {np.mean(losses):.4f}, test accuracy "
            f"{100 * accuracy:.2f}% ({seconds:.1f} s)"
        )
    if args.save:
        save(model.state_dict(), args.save)
        print(f"saved the state dict to {args.save}")
    return accuracy


def main(argv: list[str] | None = None) -> float:
    return run(CifarMLP, __doc__.split("\n\n")[0], argv, epochs=10, lr=0.01)


if __name__ == "__main__":
    main()

"""Train the course's MLP (784 → 64 → 32 → 10, ReLU) on handwritten digits.

The course's settings: mini-batch SGD, batch 64, learning rate 0.01, 12 epochs, cross-entropy
on the logits (softmax + negative log-likelihood in one fused loss). Momentum 0.9 is added to
mini-batch SGD so that the embedded data set (6,000 training images, ten times fewer than MNIST)
is learned in the same 12 epochs; pass ``--momentum 0`` for the plain update of the slides.

Without ``--data`` it trains on the embedded digits (rendered in memory, no download); with
``--data DIR`` it reads real MNIST IDX files (``train-images-idx3-ubyte[.gz]``, ...) from DIR.

    python examples/mnist_mlp.py                       # embedded digits, ~98% test accuracy
    python examples/mnist_mlp.py --data ~/mnist --save mlp.safetensors
"""

from __future__ import annotations

import argparse

import numpy as np
from tqdm import tqdm

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.data import MNIST, EmbeddedDigits, FashionMNIST
from pyfastdl.io import save
from pyfastdl.models import MnistMLP
from pyfastdl.optim import SGD
from pyfastdl.utils.data import DataLoader
from pyfastdl.utils.metrics import accuracy as test_accuracy


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument(
        "--data", metavar="DIR", help="folder with MNIST IDX files (default: the embedded digits)"
    )
    parser.add_argument("--fashion", action="store_true", help="read Fashion-MNIST from --data")
    parser.add_argument("--save", metavar="PATH", help="write the trained state dict here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    fd.manual_seed(args.seed)
    if args.data:
        cls = FashionMNIST if args.fashion else MNIST
        train_set, test_set = cls(args.data, train=True), cls(args.data, train=False)
    else:
        train_set, test_set = EmbeddedDigits(train=True), EmbeddedDigits(train=False)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=1000)

    model = MnistMLP()
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"MnistMLP: {n_params:,} parameters; {len(train_set)} training and {len(test_set)} "
        "test images"
    )
    criterion = nn.CrossEntropyLoss()
    optimizer = SGD(model.parameters(), lr=args.lr, momentum=args.momentum)

    accuracy = 0.0
    for epoch in range(1, args.epochs + 1):
        losses = []
        bar = tqdm(train_loader, desc=f"epoch {epoch}/{args.epochs}", leave=False)
        for images, labels in bar:
            loss = criterion(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
        accuracy = test_accuracy(model, test_loader)
        print(
            f"epoch {epoch:2d}: train loss {np.mean(losses):.4f}, test accuracy "
            f"{100 * accuracy:.2f}%"
        )
    if args.save:
        save(model.state_dict(), args.save)
        print(f"saved the state dict to {args.save}")
    return accuracy


if __name__ == "__main__":
    main()

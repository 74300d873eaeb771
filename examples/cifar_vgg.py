"""Train the course's CIFAR model 3, a small VGG with BatchNorm and dropout (5,852,170 parameters).

Six 3×3 convolutions (32, 64 | 128, 128 | 256, 256 channels, BatchNorm after the first of each
pair, a 2×2 max pool after each pair), then 4096 → 1024 → 512 → 10 with dropout 0.05. Same
command line as ``cifar_mlp.py`` (whose training loop it uses): ``--epochs``, ``--batch-size``,
``--lr``, ``--data DIR`` (real CIFAR-10 batches; default: the embedded colour images),
``--augment``, ``--save PATH``. It is the heaviest of the three: about 0.28 GFLOP per image
forward, three times that per training image.

    python examples/cifar_vgg.py
    python examples/cifar_vgg.py --data ~/cifar-10-batches-py --epochs 30 --augment
"""

from __future__ import annotations

from cifar_mlp import run

from pyfastdl.models import CifarVGG


def main(argv: list[str] | None = None) -> float:
    return run(CifarVGG, __doc__.split("\n\n")[0], argv, epochs=8, lr=0.01)


if __name__ == "__main__":
    main()

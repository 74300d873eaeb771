"""Train the course's CIFAR model 2, LeNet-5 for colour images (62,006 parameters).

Conv(3→6, 5) + ReLU, MaxPool 2, Conv(6→16, 5) + ReLU, MaxPool 2, then 400 → 120 → 84 → 10.
Same command line as ``cifar_mlp.py`` (whose training loop it uses): ``--epochs``,
``--batch-size``, ``--lr``, ``--data DIR`` (real CIFAR-10 batches; default: the embedded colour
images), ``--augment``, ``--save PATH``.

    python examples/cifar_lenet.py
    python examples/cifar_lenet.py --data ~/cifar-10-batches-bin --epochs 20 --augment
"""

from __future__ import annotations

from cifar_mlp import run

from pyfastdl.models import CifarLeNet


def main(argv: list[str] | None = None) -> float:
    return run(CifarLeNet, __doc__.split("\n\n")[0], argv, epochs=15, lr=0.02)


if __name__ == "__main__":
    main()

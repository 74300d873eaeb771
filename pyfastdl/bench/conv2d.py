"""conv2d workloads: ``F.conv2d`` (with bias) in pyfastdl and PyTorch at the course's shapes,
batch 64, float32, forward and forward + backward (gradients of input, weight and bias).

FLOPs count the direct convolution: 2 N O OH OW C kH kW per pass, three passes (forward, input
gradient, weight gradient) for forward + backward; whatever algorithm a library picks (im2col,
Winograd) is charged the same count. No NumPy contender (NumPy has no convolution).

Example:
    >>> from pyfastdl.bench.conv2d import ConvShape, conv_case
    >>> shape = ConvShape(32, 32, 32, 64, 3, 1)
    >>> shape.name
    '32x32x32->64 k3 p1'
    >>> conv_case(shape, backward=True).flops
    7247757312.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ops import OpCase

BATCH = 64


@dataclass(frozen=True)
class ConvShape:
    """Input C x H x W to O output channels, a k x k kernel, stride 1, `padding` on each side."""

    c: int
    h: int
    w: int
    o: int
    k: int
    padding: int = 0
    batch: int = BATCH

    @property
    def name(self) -> str:
        pad = f" p{self.padding}" if self.padding else ""
        return f"{self.c}x{self.h}x{self.w}->{self.o} k{self.k}{pad}"

    @property
    def out_hw(self) -> tuple[int, int]:
        return (self.h + 2 * self.padding - self.k + 1, self.w + 2 * self.padding - self.k + 1)

    @property
    def flops(self) -> float:
        oh, ow = self.out_hw
        return 2.0 * self.batch * self.o * oh * ow * self.c * self.k * self.k


# The conv2d workloads: CIFAR LeNet's two layers, then the VGG-style 3x3 layers.
SHAPES = [
    ConvShape(3, 32, 32, 6, 5),
    ConvShape(6, 14, 14, 16, 5),
    ConvShape(3, 32, 32, 32, 3, 1),
    ConvShape(32, 32, 32, 64, 3, 1),
    ConvShape(64, 16, 16, 128, 3, 1),
    ConvShape(128, 8, 8, 256, 3, 1),
]
# The quick run: one LeNet layer, one first layer, one deep 3x3 layer.
QUICK_SHAPES = [SHAPES[1], SHAPES[2], SHAPES[4]]


def conv_case(shape: ConvShape, backward: bool) -> OpCase:
    """The OpCase of one shape and pass."""
    pad = shape.padding

    def inputs(rng: np.random.Generator) -> list[np.ndarray]:
        x = rng.standard_normal((shape.batch, shape.c, shape.h, shape.w), dtype=np.float32)
        fan_in = shape.c * shape.k * shape.k
        w = rng.uniform(-1, 1, (shape.o, shape.c, shape.k, shape.k)).astype(np.float32)
        w *= np.float32(1.0 / np.sqrt(fan_in))
        b = rng.uniform(-0.1, 0.1, shape.o).astype(np.float32)
        return [x, w, b]

    def call(F, x, w, b):  # noqa: N803 - F is the functional module
        return F.conv2d(x, w, b, padding=pad)

    return OpCase(
        suite="conv",
        name=f"conv {shape.name} {'fwd+bwd' if backward else 'fwd'}",
        inputs=inputs,
        call=call,
        out_shape=(shape.batch, shape.o, *shape.out_hw),
        grads=(True, True, True),
        backward=backward,
        flops=shape.flops * (3 if backward else 1),
        needs=("conv2d",),
    )


def default_cases(quick: bool) -> list[OpCase]:
    """Every shape forward and forward + backward (the quick run: three shapes)."""
    shapes = QUICK_SHAPES if quick else SHAPES
    return [conv_case(s, backward) for s in shapes for backward in (False, True)]

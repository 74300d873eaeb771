"""conv2d workloads: ``F.conv2d`` (with bias) in pyfastdl and PyTorch at the course's shapes,
batch 64, float32, forward and forward + backward (gradients of input, weight and bias).

FLOPs count the direct convolution: 2 N O OH OW (C / groups) kH kW per pass, three passes
(forward, input gradient, weight gradient) for forward + backward; whatever algorithm a library
picks (im2col, Winograd) is charged the same count. A transposed convolution
(``F.conv_transpose2d``, the input gradient of a conv2d) is charged the FLOPs of that conv2d:
2 N C H W (O / groups) kH kW, input and output swapped. No NumPy contender (NumPy has no
convolution). ``ConvShape``'s stride, groups and transposed fields and ``conv_case``'s ``bias``
serve the layer-shape sweep (``conv_sweep``).

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
    """Input C x H x W to O output channels, a k x k kernel, `padding` on each side, `stride`,
    `groups`; `transposed`: ``F.conv_transpose2d`` (weight (C, O/groups, k, k)) instead of
    ``F.conv2d`` (weight (O, C/groups, k, k))."""

    c: int
    h: int
    w: int
    o: int
    k: int
    padding: int = 0
    batch: int = BATCH
    stride: int = 1
    groups: int = 1
    transposed: bool = False

    @property
    def name(self) -> str:
        pad = f" p{self.padding}" if self.padding else ""
        stride = f" s{self.stride}" if self.stride != 1 else ""
        groups = f" g{self.groups}" if self.groups != 1 else ""
        kind = " T" if self.transposed else ""
        return f"{self.c}x{self.h}x{self.w}->{self.o} k{self.k}{pad}{stride}{groups}{kind}"

    @property
    def out_hw(self) -> tuple[int, int]:
        k, s, p = self.k, self.stride, self.padding
        if self.transposed:
            return ((self.h - 1) * s - 2 * p + k, (self.w - 1) * s - 2 * p + k)
        return ((self.h + 2 * p - k) // s + 1, (self.w + 2 * p - k) // s + 1)

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        if self.transposed:
            return (self.c, self.o // self.groups, self.k, self.k)
        return (self.o, self.c // self.groups, self.k, self.k)

    @property
    def flops(self) -> float:
        """Direct-convolution FLOPs of one forward pass (transposed: of the conv2d whose input
        gradient it is, so the input's pixels stand in for the output's)."""
        if self.transposed:
            pixels, c_in, c_out = self.h * self.w, self.o, self.c
        else:
            oh, ow = self.out_hw
            pixels, c_in, c_out = oh * ow, self.c, self.o
        return 2.0 * self.batch * c_out * pixels * (c_in // self.groups) * self.k * self.k


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


def conv_case(shape: ConvShape, backward: bool, bias: bool = True) -> OpCase:
    """The OpCase of one shape and pass (with `bias`: gradients of input, weight and bias;
    without: of input and weight)."""
    pad, stride, groups = shape.padding, shape.stride, shape.groups
    fan_in = (shape.c // groups) * shape.k * shape.k

    def inputs(rng: np.random.Generator) -> list[np.ndarray]:
        x = rng.standard_normal((shape.batch, shape.c, shape.h, shape.w), dtype=np.float32)
        w = rng.uniform(-1, 1, shape.weight_shape).astype(np.float32)
        w *= np.float32(1.0 / np.sqrt(fan_in))
        if not bias:
            return [x, w]
        b = rng.uniform(-0.1, 0.1, shape.o).astype(np.float32)
        return [x, w, b]

    def call(F, x, w, b=None):  # noqa: N803 - F is the functional module
        if shape.transposed:
            return F.conv_transpose2d(x, w, b, stride=stride, padding=pad, groups=groups)
        if stride == 1 and groups == 1:
            return F.conv2d(x, w, b, padding=pad)
        return F.conv2d(x, w, b, stride=stride, padding=pad, groups=groups)

    return OpCase(
        suite="conv",
        name=f"conv {shape.name} {'fwd+bwd' if backward else 'fwd'}",
        inputs=inputs,
        call=call,
        out_shape=(shape.batch, shape.o, *shape.out_hw),
        grads=(True, True, True) if bias else (True, True),
        backward=backward,
        flops=shape.flops * (3 if backward else 1),
        needs=("conv_transpose2d",) if shape.transposed else ("conv2d",),
    )


def default_cases(quick: bool) -> list[OpCase]:
    """Every shape forward and forward + backward (the quick run: three shapes)."""
    shapes = QUICK_SHAPES if quick else SHAPES
    return [conv_case(s, backward) for s in shapes for backward in (False, True)]

"""The conv2d layer-shape sweep (suite ``convsweep``, ``--conv-sweep``): every distinct
convolution of the networks people run on CPUs, at batches 1, 8, 32 and 64, forward and
forward + backward, pyfastdl against PyTorch -- the measurements a cost-model algorithm picker is
fitted on.

The layers are not typed in: a small generator per architecture walks its layer list for an
input size and a batch and yields one :class:`Layer` per convolution, named as in torchvision
(or in the reference implementation named below), with the feature map it gets::

    resnet(18 | 34 | 50)  torchvision's ResNet: conv1 7x7 stride 2 + max pool 3x3 stride 2;
                          stages of 64/128/256/512 planes, the first block of stages 2-4 with
                          stride 2. BasicBlock (18: [2, 2, 2, 2], 34: [3, 4, 6, 3] blocks):
                          conv1 3x3 (stride), conv2 3x3. Bottleneck (50: [3, 4, 6, 3]): conv1
                          1x1, conv2 3x3 (stride, "V1.5"), conv3 1x1 to 4x the planes. A block
                          that changes the stride or the width adds downsample.0, 1x1 with its
                          stride. Conv layers: 18: 1 + 16 + 3 = 20; 34: 1 + 32 + 3 = 36;
                          50: 1 + 48 + 4 = 53. small_input: the CIFAR stem (conv1 3x3 stride 1,
                          no max pool; ``pyfastdl.models.ResNet(small_input=True)``).
    vgg16                 torchvision's VGG-16 (configuration D): 13 convs 3x3 padding 1,
                          64, 64, M, 128, 128, M, 256 x3, M, 512 x3, M, 512 x3, M (features.0 ..
                          features.28).
    mobilenet_v2          torchvision's MobileNetV2 (width 1.0): features.0 3x3 stride 2 to 32;
                          17 inverted residuals (t, c, n, s) = (1, 16, 1, 1), (6, 24, 2, 2),
                          (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                          (6, 320, 1, 1): 1x1 expand to t x the channels (not when t = 1),
                          3x3 depthwise (groups = channels, stride s on the first of a group),
                          1x1 project; features.18 1x1 to 1280. Conv layers: 1 + 2 + 16 x 3 + 1
                          = 52.
    unet                  ``pyfastdl.models.UNet`` (milesial/Pytorch-UNet's layers): double
                          3x3 padding-1 convs at 64, 128, 256, 512, 1024 channels with 2x2 max
                          pools between; the decoder's ConvTranspose2d 2x2 stride 2 halving the
                          channels, the skip concatenated, a double conv; outc 1x1. Depth 4,
                          base 64: 2 + 8 + 4 x 3 + 1 = 23 (4 transposed); ``unet_course``: the
                          course's UNet(3, 4, base_channels=16, depth=3) of examples/unet.py.
    dcgan_g, dcgan_d      the DCGAN of Radford et al. as in PyTorch's DCGAN tutorial (64x64
                          images, nz 100, ngf = ndf = 64): the generator's ConvTranspose2d 4x4,
                          100 -> 512 (stride 1, 1x1 -> 4x4), then stride 2 padding 1
                          512 -> 256 -> 128 -> 64 -> 3; the discriminator's Conv2d 4x4 stride 2
                          padding 1 3 -> 64 -> 128 -> 256 -> 512, then 512 -> 1 4x4 (4x4 -> 1x1).

The networks and inputs (``NETWORKS``): ResNet-18/34/50, VGG-16 and MobileNet-V2 at 224
(ImageNet), both U-Nets and DCGAN at 64, and the small inputs the CPUs also see: VGG-16 at 32 (a
CIFAR VGG: 512 -> 512 on 2x2 maps), the CIFAR ResNet-18 at 32 (``resnet18_cifar``) and
torchvision's ResNet-18 run unchanged on 32x32 images (its last stage on 1x1 maps). Layers of
identical shape (channels, map, kernel, stride, padding, groups, transposed, batch) are measured
once; each row's ``notes["users"]`` names every layer that has that shape, ``notes["conv"]`` holds
the shape's parameters (what a cost model reads from ``--json``).

Work per case is capped: a (shape, batch) whose forward pass exceeds ``BUDGET_GFLOP`` (10 GFLOP:
most 224x224 layers at batch 64, VGG-16's first ones from batch 8) is left out -- its row says so
and the table counts those rows in one line. The sweep's cases are many (138 shapes, 1002 cases
within the budget), so they are timed shorter than the other suites': at most ``SWEEP_ROUNDS`` (3)
interleaved rounds in the full sweep (``--quick``: its 5), batches of ``SWEEP_TARGET_S`` (25 ms),
pauses of ``SWEEP_PAUSE_S`` (0.05 s). The full sweep (``sweep_cases(False)``: every shape at
batches 1, 8, 32, 64, both passes) takes about 20 minutes on 2 idle cores (an estimate: about
0.75 s per case plus 0.4 s per GFLOP of the case on 2 busy shared cores, 30 minutes there, from 29
sampled cases); ``--quick`` measures one representative shape per kind (``KINDS``: stem, k x k,
k x k on a small map, strided, 1x1, depthwise, transposed) at batch 8, under a minute.

FLOPs are those of ``conv2d.ConvShape`` (direct convolution: 2 N O OH OW (C / groups) k k
forward, 3x that forward + backward; transposed: those of the conv2d it is the input gradient
of). No bias (the networks' convolutions are followed by batch norm): the backward pass computes
the gradients of the input and the weight.

Example:
    >>> from pyfastdl.bench import conv_sweep
    >>> [layer.label for layer in conv_sweep.resnet(18, 224)[:2]]
    ['resnet18 conv1 3->64 7x7 s2 224x224 N1', 'resnet18 layer1.0.conv1 64->64 3x3 s1 56x56 N1']
    >>> len(conv_sweep.resnet(18)), len(conv_sweep.resnet(50)), len(conv_sweep.mobilenet_v2())
    (20, 53, 52)
    >>> [c.name for c in conv_sweep.sweep_cases(True)][:2]
    ['resnet18 conv1 3->64 7x7 s2 224x224 N8 fwd', 'resnet18 conv1 3->64 7x7 s2 224x224 N8 fwd+bwd']
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from .config import Config
from .conv2d import ConvShape, conv_case
from .ops import OpCase
from .ops import run_case as run_op_case
from .results import Row

SUITE = "convsweep"
BATCHES = (1, 8, 32, 64)
QUICK_BATCHES = (8,)
BUDGET_GFLOP = 10.0  # a (shape, batch) whose forward pass needs more is left out
# Timing of the sweep's cases (about 900): at most 3 rounds in the full sweep, batches of 25 ms,
# 0.05 s pauses (with the suite's 5-21 rounds and 0.2 s pauses it would take hours)
SWEEP_ROUNDS = 3
SWEEP_TARGET_S = 0.025
SWEEP_PAUSE_S = 0.05
OVER_BUDGET = "skipped: forward over the sweep's budget"


@dataclass(frozen=True)
class Layer:
    """One convolution of a network: `model`'s layer `layer` (its module path), fed a batch of
    `n` maps of `c_in` x `h` x `w`, `c_out` output channels, a `kernel` x `kernel` kernel."""

    model: str
    layer: str
    n: int
    c_in: int
    h: int
    w: int
    c_out: int
    kernel: int
    stride: int = 1
    padding: int = 0
    groups: int = 1
    transposed: bool = False

    @property
    def name(self) -> str:
        return f"{self.model} {self.layer}"

    @property
    def shape(self) -> ConvShape:
        """The shape alone (the dedup key; the FLOPs and the OpCase come from it)."""
        return ConvShape(
            self.c_in,
            self.h,
            self.w,
            self.c_out,
            self.kernel,
            self.padding,
            batch=self.n,
            stride=self.stride,
            groups=self.groups,
            transposed=self.transposed,
        )

    @property
    def out_hw(self) -> tuple[int, int]:
        return self.shape.out_hw

    @property
    def flops(self) -> float:
        """Forward FLOPs (direct convolution)."""
        return self.shape.flops

    @property
    def kind(self) -> str:
        return kind_of(self.shape)

    @property
    def label(self) -> str:
        """'resnet18 layer4.0.conv2 512->512 3x3 s1 7x7 N8': name, channels, depthwise (dw) or
        transposed (convT), kernel, stride, padding where it is not (k - 1) // 2, input map."""
        return f"{self.name} {describe(self.shape)}"


def describe(s: ConvShape) -> str:
    """A shape in words: '512->512 3x3 s1 7x7 N8', '144->144 dw 3x3 s1 56x56 N8',
    '512->256 convT 4x4 s2 4x4 N8' (padding shown where it is not (k - 1) // 2)."""
    op = " convT" if s.transposed else ""
    if s.groups > 1:
        op += " dw" if s.groups == s.c == s.o else f" g{s.groups}"
    pad = "" if s.padding == (s.k - 1) // 2 else f" p{s.padding}"
    return f"{s.c}->{s.o}{op} {s.k}x{s.k} s{s.stride}{pad} {s.h}x{s.w} N{s.batch}"


# The kinds of convolution the quick run covers (one representative shape each).
KINDS = ("stem", "kxk", "small map", "strided", "1x1", "depthwise", "transposed")
SMALL_MAP = 16  # output pixels (4x4) up to which a k x k stride-1 layer counts as "small map"


def kind_of(s: ConvShape) -> str:
    """transposed, depthwise (groups = channels), stem (at most 4 input channels: the image),
    1x1, strided (k x k, stride > 1), small map (k x k stride 1, output of at most 4x4 pixels),
    else kxk."""
    if s.transposed:
        return "transposed"
    if s.groups > 1 and s.groups == s.c:
        return "depthwise"
    if s.c <= 4:
        return "stem"
    if s.k == 1:
        return "1x1"
    if s.stride > 1:
        return "strided"
    oh, ow = s.out_hw
    return "small map" if oh * ow <= SMALL_MAP else "kxk"


class _Walk:
    """A walk down a network's layer list: the current feature map (channels, height, width)."""

    def __init__(self, model: str, channels: int, size: int, batch: int) -> None:
        self.model, self.n = model, batch
        self.c, self.h, self.w = channels, size, size
        self.layers: list[Layer] = []

    @property
    def state(self) -> tuple[int, int, int]:
        return (self.c, self.h, self.w)

    @state.setter
    def state(self, value: tuple[int, int, int]) -> None:
        self.c, self.h, self.w = value

    def conv(
        self,
        layer: str,
        c_out: int,
        kernel: int,
        stride: int = 1,
        padding: int | None = None,
        groups: int = 1,
        transposed: bool = False,
    ) -> Layer:
        """Appends the layer (padding default: (kernel - 1) // 2) and moves to its output."""
        pad = (kernel - 1) // 2 if padding is None else padding
        conv = Layer(
            self.model,
            layer,
            self.n,
            self.c,
            self.h,
            self.w,
            c_out,
            kernel,
            stride,
            pad,
            groups,
            transposed,
        )
        self.layers.append(conv)
        self.c, (self.h, self.w) = c_out, conv.out_hw
        return conv

    def pool(self, kernel: int, stride: int, padding: int = 0) -> None:
        """A max pool (floor)."""
        self.h = (self.h + 2 * padding - kernel) // stride + 1
        self.w = (self.w + 2 * padding - kernel) // stride + 1


RESNETS = {18: (False, (2, 2, 2, 2)), 34: (False, (3, 4, 6, 3)), 50: (True, (3, 4, 6, 3))}


def resnet(
    depth: int, size: int = 224, batch: int = 1, small_input: bool = False, model: str = ""
) -> list[Layer]:
    """torchvision's ResNet-18/34/50 (see the module docstring); `small_input`: the CIFAR stem."""
    bottleneck, blocks = RESNETS[depth]
    net = _Walk(model or f"resnet{depth}", 3, size, batch)
    if small_input:
        net.conv("conv1", 64, 3)
    else:
        net.conv("conv1", 64, 7, stride=2)
        net.pool(3, 2, 1)
    expansion = 4 if bottleneck else 1
    for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), blocks)):
        for b in range(count):
            stride = 2 if stage > 0 and b == 0 else 1
            prefix = f"layer{stage + 1}.{b}"
            entry = net.state
            if bottleneck:
                net.conv(f"{prefix}.conv1", planes, 1)
                net.conv(f"{prefix}.conv2", planes, 3, stride)
                net.conv(f"{prefix}.conv3", planes * expansion, 1)
            else:
                net.conv(f"{prefix}.conv1", planes, 3, stride)
                net.conv(f"{prefix}.conv2", planes, 3)
            if stride != 1 or entry[0] != planes * expansion:
                out = net.state
                net.state = entry
                net.conv(f"{prefix}.downsample.0", planes * expansion, 1, stride)
                assert net.state == out, (prefix, net.state, out)
    return net.layers


VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def vgg16(size: int = 224, batch: int = 1) -> list[Layer]:
    """torchvision's VGG-16 (configuration D): 13 convs 3x3 padding 1, 2x2 max pools between."""
    net = _Walk("vgg16", 3, size, batch)
    index = 0
    for v in VGG16:
        if v == "M":
            net.pool(2, 2)
            index += 1
        else:
            net.conv(f"features.{index}", int(v), 3)
            index += 2  # conv, ReLU
    return net.layers


MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1))
MOBILENET_V2 += ((6, 160, 3, 2), (6, 320, 1, 1))


def mobilenet_v2(size: int = 224, batch: int = 1) -> list[Layer]:
    """torchvision's MobileNetV2, width 1.0: stem, 17 inverted residuals (t, c, n, s), 1x1 head."""
    net = _Walk("mobilenet_v2", 3, size, batch)
    net.conv("features.0.0", 32, 3, stride=2)
    index = 1
    for t, c, n, s in MOBILENET_V2:
        for i in range(n):
            hidden = net.c * t
            prefix = f"features.{index}.conv"
            j = 0
            if t != 1:
                net.conv(f"{prefix}.0.0", hidden, 1)
                j = 1
            net.conv(f"{prefix}.{j}.0", hidden, 3, s if i == 0 else 1, groups=hidden)
            net.conv(f"{prefix}.{j + 1}", c, 1)
            index += 1
    net.conv(f"features.{index}.0", 1280, 1)
    return net.layers


def unet(
    size: int = 64,
    batch: int = 1,
    base: int = 64,
    depth: int = 4,
    in_channels: int = 3,
    num_classes: int = 2,
    model: str = "unet",
) -> list[Layer]:
    """``pyfastdl.models.UNet(in_channels, num_classes, base, depth)`` with transposed up-convs."""
    widths = [base * 2**i for i in range(depth + 1)]
    net = _Walk(model, in_channels, size, batch)
    net.conv("inc.0", widths[0], 3)
    net.conv("inc.3", widths[0], 3)
    skips = [net.state]
    for i in range(depth):
        net.pool(2, 2)
        net.conv(f"downs.{i}.1.0", widths[i + 1], 3)
        net.conv(f"downs.{i}.1.3", widths[i + 1], 3)
        skips.append(net.state)
    skips.pop()
    for j, i in enumerate(reversed(range(depth))):
        net.conv(f"ups.{j}.up", widths[i + 1] // 2, 2, stride=2, transposed=True)
        skip_c, skip_h, skip_w = skips.pop()
        net.state = (skip_c + net.c, skip_h, skip_w)  # padded to the skip's size, concatenated
        net.conv(f"ups.{j}.conv.0", widths[i], 3)
        net.conv(f"ups.{j}.conv.3", widths[i], 3)
    net.conv("outc", num_classes, 1)
    return net.layers


def dcgan_generator(size: int = 64, batch: int = 1, nz: int = 100, ngf: int = 64, nc: int = 3):
    """The DCGAN tutorial's generator for `size` x `size` images (a power of 2, at least 8):
    ConvTranspose2d 4x4 nz -> ngf 2^(m-1) (1x1 -> 4x4), then 4x4 stride 2 padding 1 halving the
    channels down to ngf, then ngf -> nc (m = log2(size) - 2 stride-2 layers)."""
    m = int(math.log2(size)) - 2
    if size != 4 * 2**m or m < 1:
        raise ValueError(f"[conv_sweep] DCGAN image size must be a power of 2 >= 8, got {size}")
    net = _Walk("dcgan_g", nz, 1, batch)
    channels = ngf * 2 ** (m - 1)
    net.conv("main.0", channels, 4, 1, 0, transposed=True)
    index = 3  # ConvTranspose2d, BatchNorm2d, ReLU
    while channels > ngf:
        channels //= 2
        net.conv(f"main.{index}", channels, 4, 2, 1, transposed=True)
        index += 3
    net.conv(f"main.{index}", nc, 4, 2, 1, transposed=True)
    return net.layers


def dcgan_discriminator(size: int = 64, batch: int = 1, ndf: int = 64, nc: int = 3):
    """The DCGAN tutorial's discriminator: Conv2d 4x4 stride 2 padding 1 nc -> ndf, doubling the
    channels down to a 4x4 map, then 4x4 (no padding) to one logit."""
    if size < 8 or size & (size - 1):
        raise ValueError(f"[conv_sweep] DCGAN image size must be a power of 2 >= 8, got {size}")
    net = _Walk("dcgan_d", nc, size, batch)
    net.conv("main.0", ndf, 4, 2, 1)
    index = 2  # Conv2d, LeakyReLU; then Conv2d, BatchNorm2d, LeakyReLU
    while net.h > 4:
        net.conv(f"main.{index}", net.c * 2, 4, 2, 1)
        index += 3
    net.conv(f"main.{index}", 1, 4, 1, 0)
    return net.layers


# name -> generator(size, batch)
GENERATORS: dict[str, Callable[[int, int], list[Layer]]] = {
    "resnet18": lambda size, batch: resnet(18, size, batch),
    "resnet34": lambda size, batch: resnet(34, size, batch),
    "resnet50": lambda size, batch: resnet(50, size, batch),
    "vgg16": vgg16,
    "mobilenet_v2": mobilenet_v2,
    "unet": unet,
    "unet_course": lambda size, batch: unet(
        size, batch, base=16, depth=3, num_classes=4, model="unet_course"
    ),
    "dcgan_g": dcgan_generator,
    "dcgan_d": dcgan_discriminator,
    "resnet18_cifar": lambda size, batch: resnet(
        18, size, batch, small_input=True, model="resnet18_cifar"
    ),
}
# (network, input size): the sweep's networks, in the order of its rows
NETWORKS = (
    ("resnet18", 224),
    ("resnet34", 224),
    ("resnet50", 224),
    ("vgg16", 224),
    ("mobilenet_v2", 224),
    ("unet", 64),
    ("unet_course", 64),
    ("dcgan_g", 64),
    ("dcgan_d", 64),
    ("resnet18_cifar", 32),
    ("vgg16", 32),
    ("resnet18", 32),
)
# kind -> (network, input size, layer): the quick run's representative of each kind
QUICK = {
    "stem": ("resnet18", 224, "conv1"),
    "kxk": ("resnet18", 224, "layer1.0.conv1"),
    "small map": ("vgg16", 32, "features.28"),
    "strided": ("resnet18", 224, "layer2.0.conv1"),
    "1x1": ("resnet50", 224, "layer3.1.conv1"),
    "depthwise": ("mobilenet_v2", 224, "features.3.conv.1.0"),
    "transposed": ("dcgan_g", 64, "main.3"),
}


def network(model: str, size: int, batch: int = 1) -> list[Layer]:
    """The conv layers of one network (a name of GENERATORS) at one input size and batch."""
    if model not in GENERATORS:
        raise ValueError(
            f"[conv_sweep] unknown network {model!r}, expected one of {list(GENERATORS)}"
        )
    return GENERATORS[model](size, batch)


def dedup(layers: Iterable[Layer]) -> dict[ConvShape, list[Layer]]:
    """Distinct shapes (in order of first appearance) -> every layer that has that shape."""
    shapes: dict[ConvShape, list[Layer]] = {}
    for layer in layers:
        shapes.setdefault(layer.shape, []).append(layer)
    return shapes


def sweep_layers(
    batches: Iterable[int] = BATCHES,
    inputs: Iterable[int] | None = None,
    models: Iterable[str] | None = None,
) -> dict[ConvShape, list[Layer]]:
    """The distinct (shape, batch) pairs of NETWORKS, grouped by shape then batch, with their
    layers; `inputs` / `models`: only the networks at these input sizes / of these names."""
    keep_inputs = None if inputs is None else set(inputs)
    keep_models = None if models is None else set(models)
    if keep_models is not None:
        unknown = keep_models - set(GENERATORS)
        if unknown:
            raise ValueError(
                f"[conv_sweep] unknown networks {sorted(unknown)}, expected some of "
                f"{list(GENERATORS)}"
            )
    nets = [
        (m, s)
        for m, s in NETWORKS
        if (keep_inputs is None or s in keep_inputs) and (keep_models is None or m in keep_models)
    ]
    by_shape = dedup(layer for m, s in nets for layer in network(m, s))
    return {
        dataclasses.replace(shape, batch=n): [dataclasses.replace(u, n=n) for u in users]
        for shape, users in by_shape.items()
        for n in batches
    }


@dataclass(frozen=True)
class SweepCase(OpCase):
    """An OpCase of the sweep: its shape's layers (`users`, the first names the row) and whether
    it is over the FLOP budget (then it is reported, not run)."""

    users: tuple[Layer, ...] = field(default=(), repr=False)
    budget_gflop: float = BUDGET_GFLOP

    @property
    def layer(self) -> Layer:
        return self.users[0]

    @property
    def over_budget(self) -> bool:
        return bool(self.users) and self.users[0].flops > self.budget_gflop * 1e9


def sweep_case(
    users: list[Layer],
    backward: bool,
    budget_gflop: float = BUDGET_GFLOP,
    max_rounds: int | None = SWEEP_ROUNDS,
) -> SweepCase:
    """The case of one shape (`users`: the layers that have it) and pass."""
    first = users[0]
    base = conv_case(first.shape, backward, bias=False)
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(OpCase)}
    fields.update(
        suite=SUITE,
        name=f"{first.label} {'fwd+bwd' if backward else 'fwd'}",
        max_rounds=max_rounds,
    )
    return SweepCase(**fields, users=tuple(users), budget_gflop=budget_gflop)


def quick_shapes() -> dict[str, ConvShape]:
    """kind -> the shape (batch 1) of its representative layer (QUICK)."""
    shapes = {}
    for kind, (model, size, layer) in QUICK.items():
        match = [x for x in network(model, size) if x.layer == layer]
        if len(match) != 1:
            raise ValueError(f"[conv_sweep] {model}@{size} has no layer {layer!r}")
        shapes[kind] = match[0].shape
    return shapes


def sweep_cases(
    quick: bool = False,
    batches: Iterable[int] | None = None,
    inputs: Iterable[int] | None = None,
    backward: bool | None = None,
    models: Iterable[str] | None = None,
    budget_gflop: float = BUDGET_GFLOP,
) -> list[SweepCase]:
    """The sweep's cases: every distinct shape of NETWORKS (`quick`: the representative of each
    kind, QUICK) at `batches` (default: 1, 8, 32, 64; quick: 8), forward and forward + backward
    (`backward` False / True: only one), grouped by shape, then batch, then pass. `inputs`,
    `models`: only the networks at these input sizes / of these names (see sweep_layers). A case
    whose forward exceeds `budget_gflop` is kept, flagged ``over_budget`` (reported, not run)."""
    batches = tuple(batches or (QUICK_BATCHES if quick else BATCHES))
    if min(batches) < 1:
        raise ValueError(f"[conv_sweep] batches must be positive, got {batches}")
    pairs = sweep_layers(batches, inputs, models)
    if quick:
        wanted = set(quick_shapes().values())
        pairs = {s: u for s, u in pairs.items() if dataclasses.replace(s, batch=1) in wanted}
    passes = (False, True) if backward is None else (backward,)
    rounds = None if quick else SWEEP_ROUNDS
    return [sweep_case(users, b, budget_gflop, rounds) for users in pairs.values() for b in passes]


def default_cases(quick: bool) -> list[SweepCase]:
    return sweep_cases(quick)


def run_case(
    case: OpCase,
    config: Config,
    rng: np.random.Generator,
    on_round: Callable[[], None] | None = None,
) -> Row:
    """ops.run_case with the sweep's shorter batches and pauses (SWEEP_TARGET_S, SWEEP_PAUSE_S,
    or the run's when shorter), the shape's parameters and layers in the row's notes; a case over
    the budget gives its row at once, status OVER_BUDGET."""
    users = getattr(case, "users", ())
    if isinstance(case, SweepCase) and case.over_budget:
        row = Row(case.suite, case.name, flops=case.flops, unit=case.unit)
        row.status = f"{OVER_BUDGET} ({case.budget_gflop:g} GFLOP)"
        row.notes["over_budget"] = True
    else:
        config = dataclasses.replace(
            config,
            target_s=min(config.target_s, SWEEP_TARGET_S),
            pause_s=min(config.pause_s, SWEEP_PAUSE_S),
        )
        row = run_op_case(case, config, rng, on_round)
    if users:
        s = users[0].shape
        row.notes["conv"] = {
            "n": s.batch,
            "c_in": s.c,
            "h": s.h,
            "w": s.w,
            "c_out": s.o,
            "kernel": s.k,
            "stride": s.stride,
            "padding": s.padding,
            "groups": s.groups,
            "transposed": s.transposed,
            "backward": case.backward,
            "kind": kind_of(s),
        }
        row.notes["users"] = [u.name for u in users]
    return row

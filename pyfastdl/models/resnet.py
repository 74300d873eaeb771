"""ResNet as torchvision builds it (He et al. 2015, "Deep Residual Learning"), from the public API.

The classes, constructors, arguments and parameter names are torchvision's
(``torchvision/models/resnet.py``): ``conv1``, ``bn1``, ``layer1.0.conv1``, ...,
``layer2.0.downsample.0``, ``fc``, so a torchvision state dict (``torch.save`` file or
safetensors) loads with ``model.load_state_dict(pyfastdl.load(path))``.

A residual block computes ``relu(F(x) + shortcut(x))``: :class:`BasicBlock` has
F = conv3x3, BN, ReLU, conv3x3, BN (ResNet-18/34); :class:`Bottleneck` has F = conv1x1 (reduce),
BN, ReLU, conv3x3 (stride here, as in torchvision's "ResNet V1.5"), BN, ReLU, conv1x1 (expand
×4), BN (ResNet-50). The shortcut is the identity, or conv1x1 + BN when the stride or the width
changes. The stem is conv 7×7 stride 2 + BN + ReLU + max pool 3×3 stride 2 (224 → 56 pixels),
the four stages have 64, 128, 256, 512 planes (stride 2 from the second on), then a global
average pool and ``fc``.

Ours, beyond torchvision (keyword-only, defaults give torchvision's nets exactly): ``width``, the
planes of the first stage (the stages double it), and ``small_input``, a stem for 32×32 images
as in the CIFAR ResNets of He et al. §4.2: conv 3×3 stride 1 and no max pool (``maxpool`` is
``nn.Identity``; the parameter names do not change). :func:`resnet_small` uses both: ResNet-18's
layout with one BasicBlock per stage, 16/32/64/128 planes, 32 → 32 → 16 → 8 → 4 pixels
(308,826 parameters with 10 classes, 16.2 M multiply-adds per image), the CNN of
``examples/transfer_learning.py``.

Parameter counts (1000 classes, as torchvision): resnet18 11,689,512; resnet34 21,797,672;
resnet50 25,557,032.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.models import resnet_small
    >>> model = resnet_small(num_classes=5)
    >>> model(fd.randn(2, 3, 32, 32)).shape
    (2, 5)
    >>> [name for name, _ in model.named_parameters()][:3]
    ['conv1.weight', 'bn1.weight', 'bn1.bias']
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from .. import nn
from ..io import load
from ..tensor import Tensor

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet_small",
]


def conv3x3(
    in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1
) -> nn.Conv2d:
    """3×3 convolution, padding = dilation (size-preserving at stride 1), no bias (a BN follows)."""
    return nn.Conv2d(
        in_planes,
        out_planes,
        kernel_size=3,
        stride=stride,
        padding=dilation,
        groups=groups,
        bias=False,
        dilation=dilation,
    )


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1×1 convolution, no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with BN; out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models.resnet import BasicBlock
        >>> BasicBlock(8, 8)(fd.randn(1, 8, 6, 6)).shape
        (1, 8, 6, 6)
    """

    expansion: int = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("[BasicBlock] only supports groups=1 and base_width=64")
        if dilation > 1:
            raise ValueError("[BasicBlock] dilation > 1 is not supported")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """conv1×1 (reduce to `width`), conv3×3 (with the stride), conv1×1 (expand to 4·planes),
    each followed by BN, ReLU between; plus the shortcut. ``width = planes · base_width/64 ·
    groups``.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models.resnet import Bottleneck
        >>> Bottleneck(32, 8)(fd.randn(1, 32, 6, 6)).shape
        (1, 32, 6, 6)
    """

    expansion: int = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """torchvision's ResNet: stem, ``layer1`` ... ``layer4`` of residual blocks, ``avgpool``, ``fc``.

    Args (torchvision's): block: BasicBlock or Bottleneck; layers: blocks per stage (4 ints);
    num_classes; zero_init_residual: zero the last BN's weight of each block (each block starts
    as the identity); groups, width_per_group: ResNeXt / wide ResNet widths;
    replace_stride_with_dilation: 3 bools, dilate stages 2-4 instead of striding; norm_layer.
    Ours (keyword-only): width: planes of the first stage (64); small_input: 3×3 stride-1 stem and
    no max pool, for 32×32 images.

    Initialisation as torchvision: Kaiming normal (fan_out, ReLU) convolutions, BN weight 1 and
    bias 0, ``fc`` PyTorch's default Linear init.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models import ResNet
        >>> from pyfastdl.models.resnet import BasicBlock
        >>> net = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=3, width=8, small_input=True)
        >>> net(fd.randn(2, 3, 32, 32)).shape, net.fc.in_features
        ((2, 3), 64)
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: Sequence[int],
        num_classes: int = 1000,
        zero_init_residual: bool = False,
        groups: int = 1,
        width_per_group: int = 64,
        replace_stride_with_dilation: Sequence[bool] | None = None,
        norm_layer: Callable[..., nn.Module] | None = None,
        *,
        width: int = 64,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"[ResNet] layers must hold 4 block counts, got {list(layers)}")
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self._norm_layer = norm_layer
        self.inplanes = width
        self.dilation = 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError(
                "[ResNet] replace_stride_with_dilation should be None or a 3-element tuple, "
                f"got {replace_stride_with_dilation}"
            )
        self.groups = groups
        self.base_width = width_per_group
        if small_input:
            self.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(width)
        self.relu = nn.ReLU(inplace=True)
        if small_input:
            self.maxpool: nn.Module = nn.Identity()
        else:
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        dilate = replace_stride_with_dilation
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, 2 * width, layers[1], stride=2, dilate=dilate[0])
        self.layer3 = self._make_layer(block, 4 * width, layers[2], stride=2, dilate=dilate[1])
        self.layer4 = self._make_layer(block, 8 * width, layers[3], stride=2, dilate=dilate[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            # Goyal et al. 2017: each residual branch starts at zero, each block as the identity.
            for m in self.modules():
                if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        planes: int,
        blocks: int,
        stride: int = 1,
        dilate: bool = False,
    ) -> nn.Sequential:
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                norm_layer(planes * block.expansion),
            )
        layers = [
            block(
                self.inplanes,
                planes,
                stride,
                downsample,
                self.groups,
                self.base_width,
                previous_dilation,
                norm_layer,
            )
        ]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(
                block(
                    self.inplanes,
                    planes,
                    groups=self.groups,
                    base_width=self.base_width,
                    dilation=self.dilation,
                    norm_layer=norm_layer,
                )
            )
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes) of images (N, 3, H, W)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def _resnet(
    name: str,
    block: type[BasicBlock] | type[Bottleneck],
    layers: list[int],
    weights: str | os.PathLike | None,
    **kwargs: Any,
) -> ResNet:
    """Builds the net; `weights` is a state-dict file (pyfastdl never downloads weights)."""
    model = ResNet(block, layers, **kwargs)
    if weights is not None:
        if not isinstance(weights, (str, os.PathLike)) or not os.path.isfile(weights):
            raise ValueError(
                f"[{name}] weights must be None or the path of a state-dict file (.pt, .pth or "
                f".safetensors), got {weights!r}; pyfastdl never downloads weights"
            )
        model.load_state_dict(load(weights))
    return model


def resnet18(
    *, weights: str | os.PathLike | None = None, progress: bool = True, **kwargs: Any
) -> ResNet:
    """ResNet-18: BasicBlock, [2, 2, 2, 2] (11,689,512 parameters with 1000 classes).

    `weights`: None (random init) or the path of a state-dict file, e.g. torchvision's
    ``resnet18-f37072fd.pth`` downloaded by the user; `progress` is accepted and unused.
    `kwargs` go to :class:`ResNet` (``num_classes=10``, ...).

    Example:
        >>> from pyfastdl.models import resnet18
        >>> sum(p.numel() for p in resnet18().parameters())
        11689512
    """
    return _resnet("resnet18", BasicBlock, [2, 2, 2, 2], weights, **kwargs)


def resnet34(
    *, weights: str | os.PathLike | None = None, progress: bool = True, **kwargs: Any
) -> ResNet:
    """ResNet-34: BasicBlock, [3, 4, 6, 3] (21,797,672 parameters); arguments as resnet18.

    Example:
        >>> from pyfastdl.models import resnet34
        >>> resnet34(num_classes=10).fc.out_features
        10
    """
    return _resnet("resnet34", BasicBlock, [3, 4, 6, 3], weights, **kwargs)


def resnet50(
    *, weights: str | os.PathLike | None = None, progress: bool = True, **kwargs: Any
) -> ResNet:
    """ResNet-50: Bottleneck, [3, 4, 6, 3] (25,557,032 parameters); arguments as resnet18.

    Example:
        >>> from pyfastdl.models import resnet50
        >>> resnet50().fc.in_features
        2048
    """
    return _resnet("resnet50", Bottleneck, [3, 4, 6, 3], weights, **kwargs)


def resnet_small(num_classes: int = 10, width: int = 16, **kwargs: Any) -> ResNet:
    """Ours: a ResNet for 32×32 images, ``ResNet(BasicBlock, [1, 1, 1, 1], width=16,
    small_input=True)``: 3×3 stride-1 stem, no max pool, stages of 16/32/64/128 planes at
    32/16/8/4 pixels (308,826 parameters with 10 classes). torchvision's parameter names.

    Example:
        >>> from pyfastdl.models import resnet_small
        >>> sum(p.numel() for p in resnet_small().parameters())
        308826
    """
    kwargs.setdefault("small_input", True)
    return ResNet(BasicBlock, [1, 1, 1, 1], num_classes=num_classes, width=width, **kwargs)

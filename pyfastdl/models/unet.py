"""U-Net (Ronneberger, Fischer and Brox, 2015): an encoder-decoder for image segmentation whose
decoder concatenates, at every level, the encoder's feature map of the same resolution (the skip
connections), so that the coarse context of the deep levels meets the fine detail of the shallow
ones. It returns per-pixel logits (N, num_classes, H, W) of the same height and width as the input.

With ``c_i = base_channels · 2^i`` channels at level i (i = 0 .. depth)::

    inc:       DoubleConv(in_channels → c_0)                                    H × W
    downs[i]:  MaxPool2d(2), DoubleConv(c_i → c_{i+1})                          H / 2^(i+1)
    ups[depth-1-i]: up(c_{i+1} → c_i), pad to the skip's size, cat(skip, up) (2·c_i),
               DoubleConv(2·c_i → c_i)                                          back to H / 2^i
    outc:      Conv2d(c_0 → num_classes, 1)

``DoubleConv(a → b)`` is (Conv2d 3×3 padding 1 without bias, BatchNorm2d, ReLU) twice, as in
milesial/Pytorch-UNet (the paper's unpadded convolutions, which shrink the output, are replaced by
padded ones so that the mask has the image's size). ``up`` halves the channels and doubles the
size: ``upsampling="transpose"`` is the paper's "up-convolution", ConvTranspose2d(c_{i+1}, c_i,
2, stride 2); ``"bilinear"`` is Upsample(scale_factor=2, mode="bilinear", align_corners=True)
followed by Conv2d(c_{i+1}, c_i, 1), a learned channel mix without learned upsampling.

Sizes not divisible by 2^depth: max pooling floors each size, so an upsampled map can be one
pixel short of its skip; it is padded with zeros on the bottom and right (the skip keeps every
pixel), and the output has the input's size for any H, W ≥ 2^depth.

Parameters, with b = base_channels, k = in_channels, n = num_classes, BatchNorm's weight and
bias counted (its running statistics are buffers)::

    DoubleConv(a → c) = 9·a·c + 9·c·c + 4·c
    total = DoubleConv(k → b) + b·n + n
            + Σ_{i<depth} [DoubleConv(c_i → c_{i+1}) + up_i + DoubleConv(2·c_i → c_i)]
    up_i  = 4·c_{i+1}·c_i + c_i  (transpose)   or   c_{i+1}·c_i + c_i  (bilinear)

``UNet(3, 4, base_channels=16, depth=3)`` (the example's model) has 482,788 parameters with
transposed convolutions and 450,532 with bilinear upsampling; ``UNet(3, 2, 64, 4)`` has
31,037,698, the count of milesial/Pytorch-UNet's ``UNet(3, 2, bilinear=False)`` (same layers, same
order). Multiply-adds: every level costs about the same (four times the channels squared on a
quarter of the pixels), about 42·b² per input pixel and level (13.5·b² in the encoder, 27·b² in
the decoder, 2·b² in the up-convolution), so the example's model takes about 0.15 G per 64×64
image.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.models import UNet
    >>> model = UNet(3, 4, base_channels=8, depth=2)
    >>> model(fd.randn(2, 3, 20, 18)).shape
    (2, 4, 20, 18)
    >>> sum(p.numel() for p in model.parameters())
    29652
"""

from __future__ import annotations

from .. import nn
from ..nn import functional as F
from ..ops.shape import cat
from ..tensor import Tensor

__all__ = ["UNet"]

_UPSAMPLING = ("transpose", "bilinear")


class DoubleConv(nn.Sequential):
    """(Conv2d 3×3 padding 1, no bias, BatchNorm2d, ReLU) × 2: `in_channels` → `out_channels`
    channels at the same height and width; 9·a·c + 9·c·c + 4·c parameters."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )


class Down(nn.Sequential):
    """MaxPool2d(2), then DoubleConv: half the height and width (floored)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))


class Up(nn.Module):
    """Upsamples `x` (twice the size, half the channels), pads it to the skip's size, concatenates
    (skip, x) along the channels and applies DoubleConv(in_channels → out_channels)."""

    def __init__(self, in_channels: int, out_channels: int, upsampling: str) -> None:
        super().__init__()
        half = in_channels // 2
        if upsampling == "transpose":
            self.up: nn.Module = nn.ConvTranspose2d(in_channels, half, kernel_size=2, stride=2)
        else:
            self.up = nn.Sequential(
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
                nn.Conv2d(in_channels, half, kernel_size=1),
            )
        self.conv = DoubleConv(half + out_channels, out_channels)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = self.up(x)
        # floor pooling on the way down: x is short of the skip by 0 or 1 pixel per side
        dy, dx = skip.shape[2] - x.shape[2], skip.shape[3] - x.shape[3]
        if dy or dx:
            x = F.pad(x, [0, dx, 0, dy])
        return self.conv(cat([skip, x], dim=1))


class UNet(nn.Module):
    """U-Net with `depth` poolings; logits (N, num_classes, H, W) of images (N, in_channels, H, W).

    Args:
        in_channels: channels of the input images.
        num_classes: logits per pixel (background included).
        base_channels: channels of the first level (the paper: 64), doubled at every level.
        depth: number of 2×2 poolings (the paper: 4); the input needs H, W ≥ 2^depth.
        upsampling: ``"transpose"`` (ConvTranspose2d 2×2 stride 2, the paper's up-convolution)
            or ``"bilinear"`` (bilinear upsampling, then a 1×1 convolution).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.models import UNet
        >>> model = UNet(1, 2, base_channels=4, depth=1, upsampling="bilinear")
        >>> model(fd.randn(1, 1, 7, 7)).shape, sum(p.numel() for p in model.parameters())
        ((1, 2, 7, 7), 1586)
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 2,
        base_channels: int = 64,
        depth: int = 4,
        upsampling: str = "transpose",
    ) -> None:
        super().__init__()
        name = type(self).__name__
        for arg, value in (
            ("in_channels", in_channels),
            ("num_classes", num_classes),
            ("base_channels", base_channels),
            ("depth", depth),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"[{name}] {arg} must be a positive int, got {value!r}")
        if upsampling not in _UPSAMPLING:
            raise ValueError(
                f"[{name}] upsampling must be 'transpose' or 'bilinear', got {upsampling!r}"
            )
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.depth = depth
        self.upsampling = upsampling
        widths = [base_channels * 2**i for i in range(depth + 1)]
        self.inc = DoubleConv(in_channels, widths[0])
        self.downs = nn.ModuleList(Down(widths[i], widths[i + 1]) for i in range(depth))
        # ups[0] takes the deepest level back up one step; ups[-1] ends at level 0
        self.ups = nn.ModuleList(
            Up(widths[i + 1], widths[i], upsampling) for i in reversed(range(depth))
        )
        self.outc = nn.Conv2d(widths[0], num_classes, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes, H, W) of images (N, in_channels, H, W)."""
        name = type(self).__name__
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"[{name}] input must have shape (N, {self.in_channels}, H, W), got "
                f"{tuple(x.shape)}"
            )
        if min(x.shape[2], x.shape[3]) < 2**self.depth:
            raise ValueError(
                f"[{name}] height and width must be at least 2**depth = {2**self.depth}, got "
                f"{tuple(x.shape[2:])}"
            )
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up in self.ups:
            x = up(x, skips.pop())
        return self.outc(x)

"""MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d, PixelShuffle, PixelUnshuffle, Upsample."""

from __future__ import annotations

__all__: list[str] = []

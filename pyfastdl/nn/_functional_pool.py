"""nn.functional: max/avg/adaptive pooling, pixel_shuffle/unshuffle, interpolate, pad."""

from __future__ import annotations

__all__: list[str] = []

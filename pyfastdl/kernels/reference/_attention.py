"""Reference kernels of fused scaled-dot-product attention (forward, backward)."""

from __future__ import annotations

__all__: list[str] = []

KERNELS: dict = {}

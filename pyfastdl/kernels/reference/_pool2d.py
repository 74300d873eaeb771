"""Reference pooling, pixel shuffle, interpolation and padding kernels."""

from __future__ import annotations

__all__: list[str] = []

KERNELS: dict = {}

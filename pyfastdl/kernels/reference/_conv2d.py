"""Reference conv2d and conv_transpose2d kernels."""

from __future__ import annotations

__all__: list[str] = []

KERNELS: dict = {}

"""Reference kernels of elementwise activations (GELU) (placeholder: being written)."""

from __future__ import annotations

__all__: list[str] = []

KERNELS: dict = {}

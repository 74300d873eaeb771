"""Reference kernels of embedding lookup and scatter-add backward (placeholder: being written)."""

from __future__ import annotations

__all__: list[str] = []

KERNELS: dict = {}

"""Transformer encoder/decoder layers and nn.Transformer (placeholder: being written)."""

from __future__ import annotations

__all__: list[str] = []

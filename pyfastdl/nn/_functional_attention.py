"""nn.functional: scaled_dot_product_attention and multi-head attention forward."""

from __future__ import annotations

__all__: list[str] = []

"""nn.functional: embedding, one_hot-style lookups (placeholder: being written)."""

from __future__ import annotations

__all__: list[str] = []

"""nn.functional: batch_norm."""

from __future__ import annotations

__all__: list[str] = []

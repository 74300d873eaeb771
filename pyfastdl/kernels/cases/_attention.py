"""Cases and probes of fused scaled-dot-product attention (forward, backward) (placeholder: being written)."""

from __future__ import annotations

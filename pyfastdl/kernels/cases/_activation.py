"""Cases and probes of elementwise activations (GELU) (placeholder: being written)."""

from __future__ import annotations

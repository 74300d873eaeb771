"""Cases and probes of layer normalization (placeholder: being written)."""

from __future__ import annotations

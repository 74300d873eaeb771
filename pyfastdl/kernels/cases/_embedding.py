"""Cases and probes of embedding lookup and scatter-add backward (placeholder: being written)."""

from __future__ import annotations

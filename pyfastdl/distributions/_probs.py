"""The probs/logits pair the discrete distributions take: exactly one given, the other derived."""

from __future__ import annotations

from typing import Any

from .utils import as_param


def one_of(owner: str, probs: Any, logits: Any) -> tuple:
    """(probs, logits) as given, one of them None; ValueError unless exactly one is given."""
    if (probs is None) == (logits is None):
        raise ValueError(f"[{owner}] Either `probs` or `logits` must be specified, but not both.")
    if probs is not None:
        return as_param(probs, "probs", owner), None
    return None, as_param(logits, "logits", owner)

"""Test cases and autograd probes of the batch normalization kernels."""

from __future__ import annotations

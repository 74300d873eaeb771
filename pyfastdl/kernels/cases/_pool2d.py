"""Test cases and autograd probes of the pooling, pixel shuffle, interpolation and padding kernels."""

from __future__ import annotations

"""Test cases and autograd probes of the conv2d and conv_transpose2d kernels."""

from __future__ import annotations

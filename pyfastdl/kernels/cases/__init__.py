"""Test cases of each kernel, shared by ``kernels.check`` and the test suite.

A case builds the arguments of one call (inputs, the outputs the caller allocates, parameters);
``outputs`` names the positions of the output arguments, which are compared against the reference
with a tolerance that grows with the reduction length. A *probe* runs an op inside autograd (forward
and backward of a small expression) so that a swapped kernel is checked where models use it.

Families add their cases with ``@case("op")``, one module per op family (the same families and
names as ``kernels/reference/`` and cpp/src/). Probes need the layers above the registry, so they
live in ``pyfastdl/nn/probes.py`` and register here with ``@probe("op")``.
"""

from __future__ import annotations

from . import (
    activation,
    attention,
    batchnorm,
    conv2d,
    embedding,
    gemm,
    layernorm,
    optimizer,
    pool2d,
    rnn,
    softmax,
)
from .base import Case, case, cases, f32, probe, probes

__all__ = [
    "Case",
    "activation",
    "attention",
    "batchnorm",
    "case",
    "cases",
    "conv2d",
    "embedding",
    "f32",
    "gemm",
    "layernorm",
    "optimizer",
    "pool2d",
    "probe",
    "probes",
    "rnn",
    "softmax",
]

"""The kernel registry: every hot operation by name, in every backend, swappable at run time.

A kernel is a named operation on raw arrays (no autograd): inputs first, then outputs (allocated by
the caller), then parameters. Each name has versions registered side by side -- ``gemm/reference``
(NumPy), ``gemm/generic``, ``gemm/avx2``, ``gemm/avx512`` -- and one default per device.

For each call, :func:`get` resolves a name to a function in this order:
  1. the innermost scoped override (``with kernels.use(...)``, or one set on a module with
     ``module.use_kernels(...)``), on this thread;
  2. a global override (``kernels.use(...)`` called as a plain function);
  3. the native default for the device (the C++ kernels on the CPU, the CUDA kernels of
     ``pyfastdl._cuda`` on the GPU; a dtype a native kernel does not take goes to the reference);
  4. the reference.

The package holds the registry (``registry.py``), the NumPy references (``reference/``, one module
per op family), the native CPU kernels of ``pyfastdl._C`` (``cpu.py``) and CUDA kernels of
``pyfastdl._cuda`` (``cuda.py``), and the test cases of every
kernel (``cases/``) with the checker that runs them (``check.py``), and ``shadow()``
(``shadowing.py``), which runs every kernel of a model beside its reference and names the first op that
differs, with the module path ``trace.py`` keeps while it listens. It imports nothing from the
layers above it (autograd, Tensor, ops, nn).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import kernels
    >>> "gemm/reference" in kernels.list()
    True
    >>> with kernels.use(gemm="reference"):  # this block runs GEMM in NumPy
    ...     y = fd.randn(3, 4) @ fd.randn(4, 5)
    >>> kernels.get("gemm").__name__ != "gemm_reference"
    True
"""

from __future__ import annotations

from . import cases, cpu, cuda, reference, trace
from .check import CheckReport, check
from .registry import (
    Override,
    active_scopes,
    builtin_of,
    current,
    for_array,
    get,
    list,
    reference_of,
    register,
    scope,
    use,
    validate,
    versions,
)
from .shadowing import Mismatch, ShadowMismatch, ShadowReport, shadow

__all__ = [
    "CheckReport",
    "Mismatch",
    "Override",
    "ShadowMismatch",
    "ShadowReport",
    "active_scopes",
    "builtin_of",
    "cases",
    "check",
    "current",
    "for_array",
    "get",
    "list",
    "reference",
    "reference_of",
    "register",
    "scope",
    "shadow",
    "trace",
    "use",
    "validate",
    "versions",
]

reference.register_all()  # every op gets op/reference first...
cpu.register_all()  # ...then the native versions, which become the CPU defaults
cuda.register_all()  # ...and the GPU defaults

"""The compiled modules: ``_C`` (the CPU kernels, always built) and ``_cuda`` (built with nvcc).

Every Python module that calls into compiled code takes it from here. They are loaded with
importlib rather than ``from . import _C`` for one reason: import analysis (import-linter, the
layer contract of the tests) cannot see inside compiled modules and would read ``from . import
_C`` as an import of the whole package, a cycle that does not exist. ``_C`` imports nothing of
pyfastdl, so this module is a leaf of the bottom layer.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["_C", "cuda_module"]

_C = importlib.import_module("pyfastdl._C")


def cuda_module() -> ModuleType | None:
    """The CUDA module ``pyfastdl._cuda``, or None when it was not built (no nvcc at install)."""
    try:
        return importlib.import_module("pyfastdl._cuda")
    except ImportError:
        return None

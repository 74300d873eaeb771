"""Utilities: ``pyfastdl.utils.data`` (datasets and loaders, PyTorch's import paths) and
``pyfastdl.utils.metrics`` (evaluation helpers)."""

from . import data, metrics

__all__ = ["data", "metrics"]

"""Utilities with PyTorch's import paths: ``pyfastdl.utils.data`` (datasets and loaders)."""

from . import data

__all__ = ["data"]

"""Utilities: ``pyfastdl.utils.data`` (datasets and loaders, PyTorch's import paths) and
``pyfastdl.utils.metrics`` (evaluation helpers); ``make_grid`` and ``save_image``
(``pyfastdl.utils.image``, as torchvision.utils has them)."""

from . import data, image, metrics
from .image import make_grid, save_image

__all__ = ["data", "image", "make_grid", "metrics", "save_image"]

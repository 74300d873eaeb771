"""The course's models, built only from pyfastdl's public API.

Example:
    >>> from pyfastdl.models import MnistMLP
    >>> MnistMLP().layers[1].weight.shape
    (64, 784)
"""

from .mlp import MnistMLP

__all__ = ["MnistMLP"]

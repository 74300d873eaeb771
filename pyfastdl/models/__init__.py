"""The course's models, built only from pyfastdl's public API: the MNIST MLP and the three CIFAR
models (MLP, LeNet, VGG).

Example:
    >>> from pyfastdl.models import MnistMLP
    >>> MnistMLP().layers[1].weight.shape
    (64, 784)
"""

from .cifar import CifarLeNet, CifarMLP, CifarVGG
from .mlp import MnistMLP

__all__ = ["CifarLeNet", "CifarMLP", "CifarVGG", "MnistMLP"]

"""pyfastdl.nn: modules, parameters, losses, initialisation (PyTorch's ``torch.nn``).

``nn.functional`` (imported as ``F``) holds the stateless ops the modules call; ``nn.init`` the
weight initialisers; ``nn.utils`` gradient clipping. Importing it also registers the autograd probes that
``kernels.check`` runs (``nn/probes.py``).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
    >>> sum(p.numel() for p in model.parameters())
    50890
    >>> model(fd.randn(2, 784)).shape
    (2, 10)
"""

from __future__ import annotations

from . import functional, init, parallel, probes, utils
from . import functional as F  # noqa: F401 - the conventional alias
from .modules import *  # noqa: F403 - every layer, listed in modules.__all__
from .modules import __all__ as _layers
from .parameter import Parameter

__all__ = [*_layers, "F", "Parameter", "functional", "init", "parallel", "utils"]

"""Optimizers and learning-rate schedulers (PyTorch's ``torch.optim``).

SGD, Adam, AdamW, Adamax, NAdam, RAdam, RMSprop, Adagrad, Adadelta, ASGD, Rprop and LBFGS, with
PyTorch's options, defaults, update rules and state-dict layout; ``lr_scheduler`` holds the
schedulers. Importing it registers the probes of the ``optimizer`` kernels (``probes.py``).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import optim
    >>> w = fd.randn(3, requires_grad=True)
    >>> opt = optim.Adam([w], lr=1e-2)
    >>> sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
"""

from . import (
    lr_scheduler,
    probes,  # noqa: F401 - registers the probes of the optimizer kernels
)
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .asgd import ASGD
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = [
    "ASGD",
    "LBFGS",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "Rprop",
    "lr_scheduler",
]

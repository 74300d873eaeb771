"""Optimizers and learning-rate schedulers (PyTorch's ``torch.optim``).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import optim
    >>> w = fd.randn(3, requires_grad=True)
    >>> opt = optim.Adam([w], lr=1e-2)
    >>> sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
"""

from . import lr_scheduler
from .adam import Adam
from .adamw import AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]

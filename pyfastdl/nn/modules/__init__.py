"""The layer classes of ``pyfastdl.nn``, one file per family."""

from .activation import (
    ELU,
    GELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from .container import ModuleDict, ModuleList, ParameterList, Sequential
from .dropout import Dropout, Dropout1d, Dropout2d
from .flatten import Flatten, Unflatten
from .linear import Identity, Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss
from .module import Module

__all__ = [
    "ELU",
    "GELU",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Flatten",
    "Identity",
    "KLDivLoss",
    "L1Loss",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "ParameterList",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "Unflatten",
]

# Families that list their layers in __all__.
from . import (  # noqa: E402
    attention,
    batchnorm,
    conv,
    normalization,
    pooling,
    rnn,
    sparse,
    transformer,
)
from .attention import *  # noqa: E402,F403
from .batchnorm import *  # noqa: E402,F403
from .conv import *  # noqa: E402,F403
from .normalization import *  # noqa: E402,F403
from .pooling import *  # noqa: E402,F403
from .rnn import *  # noqa: E402,F403
from .sparse import *  # noqa: E402,F403
from .transformer import *  # noqa: E402,F403

__all__ += (
    conv.__all__
    + pooling.__all__
    + batchnorm.__all__
    + normalization.__all__
    + sparse.__all__
    + rnn.__all__
    + attention.__all__
    + transformer.__all__
)

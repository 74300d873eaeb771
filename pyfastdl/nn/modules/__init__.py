"""The layer classes of ``pyfastdl.nn``, one file per family (the family names of nn.functional)."""

from __future__ import annotations

from . import (
    activation,
    attention,
    batchnorm,
    container,
    conv2d,
    dropout,
    embedding,
    flatten,
    layernorm,
    linear,
    loss,
    module,
    pool2d,
    rnn,
    transformer,
)
from .activation import *  # noqa: F403
from .attention import *  # noqa: F403
from .batchnorm import *  # noqa: F403
from .container import *  # noqa: F403
from .conv2d import *  # noqa: F403
from .dropout import *  # noqa: F403
from .embedding import *  # noqa: F403
from .flatten import *  # noqa: F403
from .layernorm import *  # noqa: F403
from .linear import *  # noqa: F403
from .loss import *  # noqa: F403
from .module import *  # noqa: F403
from .pool2d import *  # noqa: F403
from .rnn import *  # noqa: F403
from .transformer import *  # noqa: F403

__all__ = sorted(
    activation.__all__
    + attention.__all__
    + batchnorm.__all__
    + container.__all__
    + conv2d.__all__
    + dropout.__all__
    + embedding.__all__
    + flatten.__all__
    + layernorm.__all__
    + linear.__all__
    + loss.__all__
    + module.__all__
    + pool2d.__all__
    + rnn.__all__
    + transformer.__all__
)

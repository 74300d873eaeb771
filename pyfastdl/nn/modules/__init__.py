"""The layer classes of ``pyfastdl.nn``, one file per family (the family names of nn.functional)."""

from __future__ import annotations

from . import (
    activation,
    attention,
    batchnorm,
    container,
    conv1d,
    conv2d,
    distance,
    dropout,
    embedding,
    flatten,
    fold,
    layernorm,
    linear,
    loss,
    lppool,
    module,
    norms,
    padding,
    pool1d,
    pool2d,
    rnn,
    transformer,
    unpool,
)
from .activation import *  # noqa: F403
from .attention import *  # noqa: F403
from .batchnorm import *  # noqa: F403
from .container import *  # noqa: F403
from .conv1d import *  # noqa: F403
from .conv2d import *  # noqa: F403
from .distance import *  # noqa: F403
from .dropout import *  # noqa: F403
from .embedding import *  # noqa: F403
from .flatten import *  # noqa: F403
from .fold import *  # noqa: F403
from .layernorm import *  # noqa: F403
from .linear import *  # noqa: F403
from .loss import *  # noqa: F403
from .lppool import *  # noqa: F403
from .module import *  # noqa: F403
from .norms import *  # noqa: F403
from .padding import *  # noqa: F403
from .pool1d import *  # noqa: F403
from .pool2d import *  # noqa: F403
from .rnn import *  # noqa: F403
from .transformer import *  # noqa: F403
from .unpool import *  # noqa: F403

__all__ = sorted(
    activation.__all__
    + attention.__all__
    + batchnorm.__all__
    + container.__all__
    + conv1d.__all__
    + conv2d.__all__
    + distance.__all__
    + dropout.__all__
    + embedding.__all__
    + flatten.__all__
    + fold.__all__
    + layernorm.__all__
    + linear.__all__
    + loss.__all__
    + lppool.__all__
    + module.__all__
    + norms.__all__
    + padding.__all__
    + pool1d.__all__
    + pool2d.__all__
    + rnn.__all__
    + transformer.__all__
    + unpool.__all__
)

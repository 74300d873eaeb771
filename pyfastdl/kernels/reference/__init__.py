"""Reference kernels: plain NumPy (or CuPy, for GPU arrays), the readable specification of every op.

Each function has exactly the signature of the native kernels of the same name (inputs, then
outputs the caller allocated, then parameters) and writes its result into the outputs. They are
the test oracle of the native kernels and run float64 for gradient checks. They are written for
clarity, not speed. One private module per op family (the same families as cpp/src/); each lists
its kernels in ``KERNELS``.
"""

from __future__ import annotations

from . import (
    _activation,
    _attention,
    _batchnorm,
    _conv2d,
    _embedding,
    _gemm,
    _layernorm,
    _pool2d,
    _rnn,
    _softmax,
)
from ._activation import *  # noqa: F403
from ._attention import *  # noqa: F403
from ._batchnorm import *  # noqa: F403
from ._conv2d import *  # noqa: F403
from ._embedding import *  # noqa: F403
from ._gemm import *  # noqa: F403
from ._layernorm import *  # noqa: F403
from ._pool2d import *  # noqa: F403
from ._rnn import *  # noqa: F403
from ._softmax import *  # noqa: F403

FAMILIES = (
    _gemm,
    _softmax,
    _conv2d,
    _pool2d,
    _batchnorm,
    _attention,
    _layernorm,
    _embedding,
    _activation,
    _rnn,
)

# Every reference kernel by name, registered as "<name>/reference" on both devices.
KERNELS = {name: fn for family in FAMILIES for name, fn in family.KERNELS.items()}


def register_all() -> None:
    from .. import register

    for name, fn in KERNELS.items():
        register(f"{name}/reference", fn, device="cpu")
        register(f"{name}/reference", fn, device="cuda")

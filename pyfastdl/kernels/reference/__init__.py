"""Reference kernels: plain NumPy (or CuPy, for GPU arrays), the readable specification of every op.

Each function has exactly the signature of the native kernels of the same name (inputs, then
outputs the caller allocated, then parameters) and writes its result into the outputs. They are
the test oracle of the native kernels and run float64 for gradient checks. They are written for
clarity, not speed. One module per op family (the same families as cpp/src/); each lists
its kernels in ``KERNELS``.
"""

from __future__ import annotations

from ..registry import register
from .activation import *  # noqa: F403
from .activation import KERNELS as _ACTIVATION
from .attention import *  # noqa: F403
from .attention import KERNELS as _ATTENTION
from .batchnorm import *  # noqa: F403
from .batchnorm import KERNELS as _BATCHNORM
from .conv2d import *  # noqa: F403
from .conv2d import KERNELS as _CONV2D
from .embedding import *  # noqa: F403
from .embedding import KERNELS as _EMBEDDING
from .gemm import *  # noqa: F403
from .gemm import KERNELS as _GEMM
from .layernorm import *  # noqa: F403
from .layernorm import KERNELS as _LAYERNORM
from .optimizer import *  # noqa: F403
from .optimizer import KERNELS as _OPTIMIZER
from .pool2d import *  # noqa: F403
from .pool2d import KERNELS as _POOL2D
from .rnn import *  # noqa: F403
from .rnn import KERNELS as _RNN
from .softmax import *  # noqa: F403
from .softmax import KERNELS as _SOFTMAX

# Every reference kernel by name, registered as "<name>/reference" on both devices.
KERNELS = {
    **_GEMM,
    **_SOFTMAX,
    **_CONV2D,
    **_POOL2D,
    **_BATCHNORM,
    **_ATTENTION,
    **_LAYERNORM,
    **_EMBEDDING,
    **_ACTIVATION,
    **_RNN,
    **_OPTIMIZER,
}


def register_all() -> None:
    for name, fn in KERNELS.items():
        register(f"{name}/reference", fn, device="cpu")
        register(f"{name}/reference", fn, device="cuda")

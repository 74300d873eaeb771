"""pyfastdl: a fast, readable deep-learning library with a PyTorch-like API.

Hand-written C++ kernels (AVX-512, AVX2 and portable paths, OpenMP threads) under a small Python
layer: Tensor with reverse-mode autograd, ``nn`` modules, optimizers and data loading. Every
kernel has a NumPy reference beside it (``pyfastdl.kernels``), and any kernel can be swapped for
your own. Tensors move to a GPU as CuPy arrays (``x.to("cuda")``), where every kernel family has
a CUDA version (``pyfastdl._cuda``; README's "GPU" section says what has run on a GPU so far).

Example:
    >>> import pyfastdl as fd
    >>> x = fd.randn(4, 3, requires_grad=True)
    >>> (x @ x.T).relu().sum().backward()
    >>> x.grad.shape
    (4, 3)
"""

from __future__ import annotations

import builtins as _builtins
import os as _os

from . import (
    amp,
    autograd,
    backends,
    cuda,
    data,
    distributed,
    distributions,
    kernels,
    memory,
    models,
    nn,
    optim,
    utils,
)
from ._native import _C
from .amp import autocast
from .autograd import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .dtypes import ALIASES as _ALIASES
from .dtypes import (
    bool_,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from .io import load, save
from .nn.functional import (  # PyTorch has these at the top level too, with the same signatures
    adaptive_avg_pool1d,
    avg_pool1d,
    bilinear,
    celu,
    channel_shuffle,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    cosine_similarity,
    hardshrink,
    log_softmax,
    max_pool1d,
    max_pool2d,
    pairwise_distance,
    pixel_shuffle,
    pixel_unshuffle,
    prelu,
    selu,
    softmax,
    threshold,
)
from .ops import *  # noqa: F401,F403
from .ops import linalg
from .random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from .tensor import *  # noqa: F401,F403
from .tensor import Tensor

globals().update(_ALIASES)  # pyfastdl.float, pyfastdl.long, pyfastdl.bool, ...

# Large array buffers freed by one step are reused by the next (pyfastdl.memory's docstring;
# PYFASTDL_ARRAY_CACHE_MB=0 turns it off).
memory.install_from_environment()

__version__ = "0.1.0"


def cpu_capability() -> str:
    """The CPU instruction-set path the kernels use: 'avx512', 'avx2' or 'generic'.

    It is the best one the processor supports, unless PYFASTDL_CPU=avx2|generic asked for a lower
    one at start-up (or :func:`set_cpu_capability` changed it).
    """
    return _C.cpu_capability()


def set_cpu_capability(name: str) -> None:
    """Selects the CPU path ('avx512', 'avx2' or 'generic'); one the processor lacks is refused."""
    _C.set_cpu_capability(name)


def get_num_threads() -> int:
    """How many threads the CPU kernels use."""
    return _C.get_num_threads()


def set_num_threads(n: int) -> None:
    """Sets how many threads the CPU kernels use.

    `n` must be a positive int (ValueError for 0 or less, TypeError for other types). A value
    above ``max(4 * os.cpu_count(), 64)`` is capped to that bound, so that a huge request can't
    make the OpenMP runtime fail to create its threads and abort the process.
    """
    if not isinstance(n, _builtins.int) or isinstance(n, _builtins.bool):
        raise TypeError(f"[set_num_threads] n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"[set_num_threads] n must be a positive integer, got {n}")
    _C.set_num_threads(_builtins.min(n, _max_threads()))


def _max_threads() -> int:
    """The cap of set_num_threads: 4 threads per CPU, and at least 64."""
    return _builtins.max(4 * (_os.cpu_count() or 1), 64)

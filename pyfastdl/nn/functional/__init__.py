"""pyfastdl.nn.functional: PyTorch's ``torch.nn.functional`` API (imported as ``F``).

Names, signatures, defaults and results follow PyTorch. The heavy ops run fused kernels from the
registry (``pyfastdl.kernels``): ``linear`` is one gemm with the bias in its epilogue;
``softmax``, ``log_softmax`` and ``cross_entropy`` are single-pass, numerically stable row
kernels. The elementwise activations are those of ``pyfastdl.ops``.

One module per op family, each holding the family's public functions and its autograd Functions
(named ``<Op>Fn``, so that they cannot be mistaken for the ``nn`` layers): ``linear`` (gemm),
``conv2d``, ``pool2d``, ``batchnorm``, ``layernorm``, ``attention``, ``softmax``, ``embedding``,
``activation``, ``rnn``; ``conv1d`` and ``pool1d`` (the 2-d kernels on a height-1 view),
``norms`` (group and instance norm on the layernorm kernels, local response norm); and the
kernel-free ``fold`` (fold/unfold), ``distance``, ``dropout``, ``loss`` (pointwise losses),
``margin`` (margin and embedding losses), ``likelihood`` (Poisson and Gaussian NLL), ``ctc`` and
``padding``.

pyfastdl's one extension is :func:`linear_act`, a Linear layer and its activation in one gemm.

Example:
    >>> import pyfastdl as fd
    >>> import pyfastdl.nn.functional as F
    >>> logits = fd.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], requires_grad=True)
    >>> loss = F.cross_entropy(logits, fd.tensor([0, 2]))
    >>> loss.backward()
    >>> round(loss.item(), 4), logits.grad.shape
    (0.1755, (2, 3))
"""

from __future__ import annotations

from .activation import *  # noqa: F403
from .activation import __all__ as _activation_names
from .attention import *  # noqa: F403
from .attention import __all__ as _attention_names
from .batchnorm import *  # noqa: F403
from .batchnorm import __all__ as _batchnorm_names
from .conv1d import *  # noqa: F403
from .conv1d import __all__ as _conv1d_names
from .conv2d import *  # noqa: F403
from .conv2d import __all__ as _conv2d_names
from .ctc import *  # noqa: F403
from .ctc import __all__ as _ctc_names
from .distance import *  # noqa: F403
from .distance import __all__ as _distance_names
from .dropout import *  # noqa: F403
from .dropout import __all__ as _dropout_names
from .embedding import *  # noqa: F403
from .embedding import __all__ as _embedding_names
from .fold import *  # noqa: F403
from .fold import __all__ as _fold_names
from .layernorm import *  # noqa: F403
from .layernorm import __all__ as _layernorm_names
from .likelihood import *  # noqa: F403
from .likelihood import __all__ as _likelihood_names
from .linear import *  # noqa: F403
from .linear import __all__ as _linear_names
from .loss import *  # noqa: F403
from .loss import __all__ as _loss_names
from .lppool import *  # noqa: F403
from .lppool import __all__ as _lppool_names
from .margin import *  # noqa: F403
from .margin import __all__ as _margin_names
from .norms import *  # noqa: F403
from .norms import __all__ as _norms_names
from .padding import *  # noqa: F403
from .padding import __all__ as _padding_names
from .pool1d import *  # noqa: F403
from .pool1d import __all__ as _pool1d_names
from .pool2d import *  # noqa: F403
from .pool2d import __all__ as _pool2d_names
from .rnn import *  # noqa: F403
from .rnn import __all__ as _rnn_names
from .softmax import *  # noqa: F403
from .softmax import __all__ as _softmax_names
from .unpool import *  # noqa: F403
from .unpool import __all__ as _unpool_names

# The family modules are not attributes of F: F.conv2d is the function, as in PyTorch.
__all__ = sorted(
    _activation_names
    + _attention_names
    + _batchnorm_names
    + _conv1d_names
    + _conv2d_names
    + _ctc_names
    + _distance_names
    + _dropout_names
    + _embedding_names
    + _fold_names
    + _layernorm_names
    + _likelihood_names
    + _linear_names
    + _lppool_names
    + _margin_names
    + _loss_names
    + _norms_names
    + _padding_names
    + _pool1d_names
    + _pool2d_names
    + _rnn_names
    + _softmax_names
    + _unpool_names
)

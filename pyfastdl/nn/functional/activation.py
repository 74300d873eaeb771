"""The elementwise activations under PyTorch's functional names.

Each one is a Function of ``pyfastdl.ops.activation`` (GELU runs the activation family's kernels);
here they get the ``F.relu(input, inplace=False)`` signatures of ``torch.nn.functional``.
"""

from __future__ import annotations

from ...ops import activation as _act
from ...tensor import Tensor

__all__ = [
    "elu",
    "elu_",
    "gelu",
    "hardtanh",
    "hardtanh_",
    "leaky_relu",
    "leaky_relu_",
    "logsigmoid",
    "mish",
    "relu",
    "relu6",
    "relu_",
    "sigmoid",
    "silu",
    "softplus",
    "softsign",
    "tanh",
]


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(input, 0)."""
    return _act.relu(input, inplace)


def relu_(input: Tensor) -> Tensor:
    """relu in place."""
    return _act.relu(input, True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return _act.relu6(input, inplace)


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    return _act.hardtanh(input, min_val, max_val, inplace)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return _act.hardtanh(input, min_val, max_val, True)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    return _act.leaky_relu(input, negative_slope, inplace)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return _act.leaky_relu(input, negative_slope, True)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _act.elu(input, alpha, inplace)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return _act.elu(input, alpha, True)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    return _act.gelu(input, approximate)


def sigmoid(input: Tensor) -> Tensor:
    return _act.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    return _act.tanh(input)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    return _act.silu(input, inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return _act.softplus(input, beta, threshold)


def softsign(input: Tensor) -> Tensor:
    return _act.softsign(input)


def logsigmoid(input: Tensor) -> Tensor:
    return _act.logsigmoid(input)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    return _act.mish(input, inplace)

"""Parameter: a Tensor that a Module registers as one of its learnable weights.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.nn import Parameter
    >>> p = Parameter(fd.zeros(2))
    >>> p.requires_grad, p.is_leaf
    (True, True)
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A Tensor that, assigned as a Module attribute, is added to the module's parameters.

    ``Parameter(data)`` shares `data`'s array (no copy), as in PyTorch; ``requires_grad`` is True
    unless asked otherwise. ``Parameter()`` is an empty float tensor.
    """

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(self.array.copy(), self.requires_grad)
        if self.grad is not None:
            result.grad = Tensor(self.grad.array.copy())
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol: Any) -> tuple:
        return (Parameter, (self.array, self.requires_grad))

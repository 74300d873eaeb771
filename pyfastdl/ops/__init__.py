"""Tensor operations with autograd, one file per family.

elementwise (add, mul, exp, clamp, ...), activation (relu, gelu, sigmoid, ...), reduction (sum,
max, var, logsumexp, ...), shape (reshape, permute, cat, split, ...), indexing (``t[idx]``,
gather, where, comparisons), matmul (matmul, mm, bmm, dot), convert (dtype/device changes,
clone) and inplace (add_, zero_, normal_, ...). Importing this package also binds them to
Tensor as methods and operators (``methods.install``).

Example:
    >>> import pyfastdl as fd
    >>> x = fd.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = fd.relu(x).sum(dim=1)
    >>> y.tolist()
    [1.0, 7.0]
"""

from __future__ import annotations

from . import activation, convert, elementwise, indexing, methods, reduction, shape
from . import inplace as inplace
from . import matmul as _matmul_ops
from .activation import *
from .convert import *
from .elementwise import *
from .indexing import *
from .matmul import *
from .reduction import *
from .shape import *
from .shape import t as t

methods.install()

__all__ = (
    activation.__all__
    + convert.__all__
    + elementwise.__all__
    + indexing.__all__
    + _matmul_ops.__all__
    + reduction.__all__
    + shape.__all__
)

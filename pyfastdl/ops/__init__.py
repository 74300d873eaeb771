"""Tensor operations with autograd, one file per family.

elementwise (add, mul, exp, clamp, ...), elementwise_math (tan, asin, atan2, logaddexp, ...),
activation (relu, gelu, sigmoid, ...), reduction (sum, max, var, logsumexp, cumsum, ...), norms
(norm and the ``linalg`` norms), shape (reshape, permute, cat, split, ...), layout (roll, rot90,
repeat_interleave, tensor_split, meshgrid, diff, ...), indexing (``t[idx]``, gather, where,
comparisons), scattering (scatter, index_add, masked_scatter, ...), sorting (sort, topk, median,
unique, searchsorted, ...), matmul (matmul, mm, bmm, dot), matrix (tril, diagonal, trace, addmm,
einsum, ...), products (cross, kron, ...), convert (dtype/device changes, clone) and inplace
(add_, zero_, ...). Importing this package also binds them to Tensor as methods and operators
(``methods.install``).

Example:
    >>> import pyfastdl as fd
    >>> x = fd.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = fd.relu(x).sum(dim=1)
    >>> y.tolist()
    [1.0, 7.0]
"""

from __future__ import annotations

from . import (
    activation,
    convert,
    elementwise,
    elementwise_math,
    indexing,
    layout,
    linalg,
    matrix,
    methods,
    norms,
    products,
    reduction,
    sampling,
    scattering,
    shape,
    sorting,
)
from . import inplace as inplace
from . import matmul as _matmul_ops
from .activation import *
from .convert import *
from .elementwise import *
from .elementwise_math import *
from .indexing import *
from .layout import *
from .matmul import *
from .matrix import *
from .norms import *
from .products import *
from .reduction import *
from .sampling import *
from .scattering import *
from .shape import *
from .shape import t as t
from .sorting import *

methods.install()

__all__ = (
    activation.__all__
    + convert.__all__
    + elementwise.__all__
    + elementwise_math.__all__
    + indexing.__all__
    + layout.__all__
    + _matmul_ops.__all__
    + matrix.__all__
    + norms.__all__
    + products.__all__
    + reduction.__all__
    + sampling.__all__
    + scattering.__all__
    + shape.__all__
    + sorting.__all__
)

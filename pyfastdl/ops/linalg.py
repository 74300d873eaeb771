"""``pyfastdl.linalg``: the linear-algebra namespace of PyTorch's ``torch.linalg`` (norms so far).

Example:
    >>> import pyfastdl as fd
    >>> fd.linalg.norm(fd.tensor([[3.0, 0.0], [0.0, 4.0]])).item()
    5.0
"""

from __future__ import annotations

from .norms import linalg_norm as norm
from .norms import matrix_norm, vector_norm

__all__ = ["matrix_norm", "norm", "vector_norm"]

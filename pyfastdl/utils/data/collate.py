"""default_collate: turns a list of samples into a batch (PyTorch's rules).

- Tensors and numpy arrays are stacked along a new first dimension (same dtype);
- Python ints become an int64 tensor, floats a float64 tensor, bools a bool tensor; numpy
  scalars keep their dtype;
- strings and bytes stay a list;
- dicts are collated key by key, namedtuples field by field, tuples and lists position by
  position (a tuple of samples gives a list of batches, as in PyTorch).

Example:
    >>> from pyfastdl.utils.data import default_collate
    >>> xb, yb = default_collate([([1.0, 2.0], 0), ([3.0, 4.0], 1)])
    >>> xb[0].tolist(), yb.tolist()
    ([1.0, 3.0], [0, 1])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...arrays import xp
from ...dtypes import check_dtype
from ...tensor import Tensor

__all__ = ["default_collate", "default_convert"]

_ERROR = (
    "[default_collate] batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)


def _stack(arrays: list, what: str) -> Tensor:
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise RuntimeError(
            f"[default_collate] stack expects each {what} to be equal size, got "
            f"shapes {sorted(shapes)}"
        )
    out = xp(arrays[0]).stack(arrays)  # GPU tensors are stacked on their device
    check_dtype(out.dtype, "default_collate")
    return Tensor(out)


def default_collate(batch: Sequence[Any]) -> Any:
    """Collates a list of samples into a batch (see the module docstring for the rules)."""
    if len(batch) == 0:
        raise ValueError("[default_collate] got an empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([b.array for b in batch], "tensor")
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "UOSV":
            raise TypeError(_ERROR.format(f"numpy array of dtype {elem.dtype}"))
        return _stack(list(batch), "array")
    if isinstance(elem, np.generic):
        return Tensor(np.array(batch))
    if isinstance(elem, bool):
        return Tensor(np.array(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError(
                "[default_collate] each element in list of batch should be of equal size"
            )
        transposed = [default_collate(list(s)) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return transposed
        try:
            return type(elem)(transposed)
        except TypeError:
            return transposed
    raise TypeError(_ERROR.format(type(elem).__name__))


def default_convert(data: Any) -> Any:
    """Converts one unbatched sample: numpy arrays become Tensors, containers are walked."""
    if isinstance(data, np.ndarray) and data.dtype.kind not in "UOSV":
        return Tensor(data)
    if isinstance(data, Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data

"""dtypes: numpy dtypes under torch's names, so `x.dtype == pyfastdl.float32` and numpy code agree.

float32 is the compute type of the native kernels; float64 runs through the NumPy reference
kernels (gradient checks); int64 holds indices and class labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
float16 = np.dtype(np.float16)
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

# torch's aliases (exported as pyfastdl.float, pyfastdl.long, ...; not used inside the package
# because they shadow Python builtins).
ALIASES = {
    "float": float32,
    "double": float64,
    "half": float16,
    "long": int64,
    "int": int32,
    "bool": bool_,
}

SUPPORTED = (float32, float64, float16, int64, int32, int8, uint8, bool_)
_default = [float32]


def get_default_dtype() -> np.dtype:
    """The dtype of new floating-point tensors (float32 unless changed)."""
    return _default[0]


def set_default_dtype(dtype: Any) -> None:
    d = np.dtype(dtype)
    if d not in (float32, float64):
        raise TypeError(f"[set_default_dtype] only float32 and float64 are supported, got {d}")
    _default[0] = d


def check_dtype(dtype: Any, op: str) -> np.dtype:
    """`dtype` as a numpy dtype, or TypeError naming `op` if pyfastdl does not support it."""
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"[{op}] unsupported dtype {dtype!r}") from None
    if d not in SUPPORTED:
        raise TypeError(
            f"[{op}] unsupported dtype {d}; expected one of float32, float64, float16, "
            "int64, int32, int8, uint8, bool"
        )
    return d

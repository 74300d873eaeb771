"""IDX files: the format of MNIST and Fashion-MNIST (raw, or gzip-compressed ``.gz``).

Layout (big-endian): two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
0x0D float32, 0x0E float64), the number of dimensions, one uint32 per dimension, then the data in
C order.

Example:
    >>> import numpy as np, tempfile, os
    >>> from pyfastdl.data import read_idx, write_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "x-idx2-ubyte.gz")
    >>> write_idx(path, np.arange(6, dtype=np.uint8).reshape(2, 3))
    >>> read_idx(path).tolist()
    [[0, 1, 2], [3, 4, 5]]
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib

import numpy as np

__all__ = ["read_idx", "write_idx"]

_CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_BY_DTYPE = {np.dtype(v).newbyteorder("="): k for k, v in _CODES.items()}


def _read_bytes(path: str) -> bytes:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"[read_idx] no such file: '{path}'")
    with open(path, "rb") as f:
        head = f.read(2)
    if head == b"\x1f\x8b":  # gzip magic, whatever the file name says
        try:
            with gzip.open(path, "rb") as f:
                return f.read()
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(
                f"[read_idx] '{path}' is a corrupt or truncated gzip file: {e}"
            ) from None
    with open(path, "rb") as f:
        return f.read()


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in an IDX file (native byte order, its dtype and shape).

    Raises FileNotFoundError for a missing file and ValueError for a corrupt one (bad magic
    number, unknown type code, or a size that does not match the header).
    """
    path = os.fspath(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"[read_idx] '{path}' is too short for an IDX header ({len(raw)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0:
        raise ValueError(
            f"[read_idx] '{path}' is not an IDX file: magic number "
            f"0x{raw[:4].hex()} should start with two zero bytes"
        )
    if code not in _CODES:
        raise ValueError(
            f"[read_idx] '{path}' has unknown data type code 0x{code:02x}; expected "
            "one of " + ", ".join(f"0x{c:02x}" for c in _CODES)
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"[read_idx] '{path}' is truncated inside its header ({len(raw)} bytes, "
            f"expected {header} for {ndim} dimensions)"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_CODES[code])
    expected = math.prod(shape) * dtype.itemsize  # Python ints: a header can't wrap it
    if math.prod(d for d in shape if d) * dtype.itemsize >= 2**63:
        # NumPy refuses such a shape even when a zero dim leaves nothing to read
        raise ValueError(
            f"[read_idx] '{path}' has a header whose dims {tuple(shape)} pass what an array holds"
        )
    found = len(raw) - header
    if found != expected:
        what = "truncated" if found < expected else "longer than its header says"
        raise ValueError(
            f"[read_idx] '{path}' is {what}: shape {tuple(shape)} of {dtype.name} "
            f"needs {expected} bytes of data, found {found}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # a writable copy in native order


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Writes `array` as an IDX file (gzip-compressed when the name ends in ``.gz``)."""
    path = os.fspath(path)
    array = np.asarray(array)
    code = _BY_DTYPE.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(
            f"[write_idx] IDX has no type code for dtype {array.dtype}; expected "
            "uint8, int8, int16, int32, float32 or float64"
        )
    if array.ndim > 255 or any(s >= 2**32 for s in array.shape):
        raise ValueError(f"[write_idx] shape {array.shape} does not fit an IDX header")
    header = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    body = np.ascontiguousarray(array, dtype=_CODES[code]).tobytes()
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + body)

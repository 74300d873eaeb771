"""Fuzzes ``pyfastdl.data.read_idx`` (MNIST's IDX files, plain and gzip). See _harness.py."""

from __future__ import annotations

import gzip
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _harness import check, main, scratch_path  # noqa: E402

from pyfastdl.data import (  # noqa: E402
    idx,  # noqa: E402
    read_idx,
    write_idx,
)

PLAIN = scratch_path("input-idx3-ubyte")
GZIP = PLAIN + ".gz"


def read_one(data: bytes) -> None:
    # Inputs that start like gzip go through the .gz name (the reader decompresses those).
    check("read_idx", read_idx, GZIP if data[:2] == b"\x1f\x8b" else PLAIN, data)


def seeds(folder: str) -> None:
    write_idx(os.path.join(folder, "a"), np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    write_idx(os.path.join(folder, "b"), np.arange(5, dtype=np.int32))
    with open(os.path.join(folder, "a"), "rb") as f:
        raw = f.read()
    with open(os.path.join(folder, "c"), "wb") as f:
        f.write(gzip.compress(raw))


if __name__ == "__main__":
    main(read_one, seeds, [idx])

"""Fuzzes ``pyfastdl.data.read_cifar_batch``: the binary batches (``.bin``) and the python
(pickled) batches, through the restricted unpickler. See _harness.py."""

from __future__ import annotations

import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _harness import check, main, scratch_path  # noqa: E402

from pyfastdl.data import (
    cifar,  # noqa: E402
    read_cifar_batch,  # noqa: E402
)

BINARY = scratch_path("data_batch_1.bin")
PYTHON = scratch_path("data_batch_1")


def read_one(data: bytes) -> None:
    # The first byte picks the format, so one corpus drives both readers.
    path = BINARY if data[:1] != b"\x80" else PYTHON
    check("read_cifar_batch", read_cifar_batch, path, data)


def seeds(folder: str) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 3072), dtype=np.uint8)
    labels = [3, 7]
    with open(os.path.join(folder, "python"), "wb") as f:
        pickle.dump({b"data": images, b"labels": labels, b"batch_label": b"x"}, f, protocol=2)
    with open(os.path.join(folder, "binary"), "wb") as f:
        f.write(np.concatenate([np.array(labels, np.uint8)[:, None], images], axis=1).tobytes())


if __name__ == "__main__":
    main(read_one, seeds, [cifar])

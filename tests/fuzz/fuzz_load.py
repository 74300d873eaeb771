"""Fuzzes ``pyfastdl.load`` on safetensors files (with and without pyfastdl's structure
metadata) and on PyTorch zip checkpoints (``.pt``). See _harness.py for the rule and usage."""

from __future__ import annotations

import io
import os
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _harness import check, main, scratch_path  # noqa: E402

import pyfastdl as fd  # noqa: E402
from pyfastdl import io_torch  # noqa: E402

PATH = scratch_path("input.safetensors")


def read_one(data: bytes) -> None:
    check("load", fd.load, PATH, data)


def _torch_zip() -> bytes:
    """A small zip checkpoint in torch.save's layout, written without torch."""
    import pickle

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"step": 3, "names": ["a", "b"]}, protocol=2))
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


def seeds(folder: str) -> None:
    fd.save({"w": fd.ones(2, 3), "n": {"k": [1, 2.5, "x", None]}}, os.path.join(folder, "a"))
    from safetensors.numpy import save_file

    save_file({"x": np.arange(6, dtype=np.float32)}, os.path.join(folder, "b"))
    with open(os.path.join(folder, "c"), "wb") as f:
        f.write(_torch_zip())


if __name__ == "__main__":
    main(read_one, seeds, [fd.io, io_torch])

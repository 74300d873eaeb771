"""Runs bad-input cases in this process and prints one JSON line per case.

Usage: ``python worker.py ID [ID ...]``. Before each case it prints ``{"start": ID}`` (flushed),
so that when a case kills the process the parent knows which one did; after it, ``{"id": ID,
"outcome": "raised" | "returned", "type": ..., "message": ...}``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cases  # noqa: E402

import pyfastdl as fd  # noqa: E402
import pyfastdl.nn.functional as F  # noqa: E402
from pyfastdl import nn, optim  # noqa: E402
from pyfastdl.utils.data import DataLoader, TensorDataset  # noqa: E402


def main(ids: list[str]) -> None:
    table = {c.id: c for c in cases.CASES}
    tmp = tempfile.mkdtemp(prefix="pyfastdl-bad-input-")
    for case_id in ids:
        print(json.dumps({"start": case_id}), flush=True)
        space = {
            "fd": fd,
            "F": F,
            "nn": nn,
            "optim": optim,
            "np": np,
            "DataLoader": DataLoader,
            "TensorDataset": TensorDataset,
            "tmp": tmp,
            "os": os,
        }
        result = {"id": case_id}
        try:
            with np.errstate(all="ignore"):
                exec(table[case_id].code, space)
            result.update(outcome="returned", type=None, message="")
        except BaseException as e:  # a case may raise anything: that is what is being tested
            # KeyError's str() is the repr of its argument: take the message itself
            text = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
            result.update(outcome="raised", type=type(e).__name__, message=str(text)[:400])
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

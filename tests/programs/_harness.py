"""Runs a PyTorch program under PyTorch and under pyfastdl, changing only its imports.

A program (tests/programs/prog_*.py) is plain PyTorch code whose imports take the forms in
IMPORTS below; ``load(path, "pyfastdl")`` rewrites exactly those lines (and nothing else) to
pyfastdl's, and executes the file as a module. Every program defines:

    build_model()              the model (its parameters are then copied from the torch run)
    make_batches(seed)         a list of training batches as NumPy arrays (the data source)
    evaluate(model, batch)     the loss of one batch with the model in eval mode, no grad
    train(model, batches)      trains in place and returns the list of training losses (floats)

and optionally ``STEPS_MATCH = True`` when its training is deterministic (no dropout, no
sampling), so the two libraries' loss curves must agree step by step, not only at the start.
"""

from __future__ import annotations

import pathlib
import re
import types

import numpy as np

import pyfastdl as fd

# (the PyTorch import line, its pyfastdl replacement)
IMPORTS = [
    (r"^import torch$", "import pyfastdl as torch"),
    (r"^import torch\.nn as nn$", "from pyfastdl import nn"),
    (r"^import torch\.nn\.functional as F$", "from pyfastdl.nn import functional as F"),
    (r"^import torch\.optim as optim$", "from pyfastdl import optim"),
    (r"^import torch\.([\w.]+) as (\w+)$", r"import pyfastdl.\1 as \2"),
    (r"^from torch import (.+)$", r"from pyfastdl import \1"),
    (r"^from torch\.(\w[\w.]*) import (.+)$", r"from pyfastdl.\1 import \2"),
]


def translate(source: str) -> str:
    """The program with its torch imports replaced by pyfastdl's (other lines untouched)."""
    lines = []
    for line in source.splitlines():
        if line.startswith(("import torch", "from torch")):
            for pattern, replacement in IMPORTS:
                if re.match(pattern, line):
                    line = re.sub(pattern, replacement, line)
                    break
            else:
                raise ValueError(f"unsupported import form in a program: {line!r}")
        lines.append(line)
    return "\n".join(lines) + "\n"


def load(path: pathlib.Path, library: str) -> types.ModuleType:
    """The program as a module running on `library` ('torch' or 'pyfastdl')."""
    source = path.read_text()
    if library == "pyfastdl":
        source = translate(source)
    module = types.ModuleType(f"program_{path.stem}_{library}")
    module.__file__ = str(path)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def copy_weights(torch_model, ours) -> None:
    """Gives the pyfastdl model the torch model's parameters and buffers (by state-dict key)."""
    state = {k: fd.tensor(v.detach().cpu().numpy()) for k, v in torch_model.state_dict().items()}
    ours.load_state_dict(state)


def relative_gap(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-12)


def falling(losses: list[float]) -> bool:
    """Whether training lowered the loss: the mean of the last third below the first third's."""
    k = max(1, len(losses) // 3)
    return float(np.mean(losses[-k:])) < float(np.mean(losses[:k]))

"""save / load: tensors, state dicts and checkpoints in the safetensors format (never pickle);
load also reads PyTorch's ``.pt`` files without running their pickle code (``io_torch``).

A file is a standard safetensors file: every Tensor (or numpy array) of the saved object is one
entry, named by its path in the object (``"fc.weight"``, ``"optimizer.state.0.exp_avg"``); the
rest of the structure (dicts, lists, tuples, numbers, strings, None) is JSON in the file's
metadata under ``"pyfastdl"``. A flat state dict is thus readable by any safetensors reader, and
``load`` also reads safetensors files written by other tools (as a flat dict of Tensors).

Writes are atomic: the bytes go to a temporary file in the same folder, which is flushed, synced
and renamed over the target, so a failure never leaves a truncated file where a good one was.

Example:
    >>> import os, tempfile
    >>> import pyfastdl as fd
    >>> from pyfastdl.io import load, save
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> save({"w": fd.ones(2, 3), "epoch": 3, "lrs": [0.1, 0.01]}, path)
    >>> ckpt = load(path)
    >>> ckpt["w"].shape, ckpt["epoch"], ckpt["lrs"]
    ((2, 3), 3, [0.1, 0.01])
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import time
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from .io_torch import is_torch_legacy, is_torch_zip, load_torch
from .tensor import Tensor, _place
from .tensor import device as _device

__all__ = ["load", "save"]

_META_KEY = "pyfastdl"
_FORMAT = 1
_SCALARS = (str, int, float, bool, type(None))
_TMP_SUFFIX = ".tmp"
_STALE_S = 60.0  # a temporary this old belongs to no save still running


class _Encoder:
    """Walks an object: tensors go to `tensors` under unique path names, the rest to JSON."""

    def __init__(self) -> None:
        self.tensors: dict[str, np.ndarray] = {}

    def name(self, path: list[str]) -> str:
        base = ".".join(path) or "tensor"
        name, i = base, 1
        while name in self.tensors:
            name, i = f"{base}#{i}", i + 1
        return name

    def encode(self, obj: Any, path: list[str]) -> Any:
        if isinstance(obj, Tensor):
            return {"$tensor": self.add(obj.array, path)}
        if isinstance(obj, np.ndarray):
            return {"$ndarray": self.add(obj, path)}
        if isinstance(obj, np.generic):
            obj = obj.item()
        if isinstance(obj, float) and not math.isfinite(obj):
            return {"$float": repr(obj)}
        if isinstance(obj, _SCALARS):
            return obj
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if not isinstance(k, (str, int, float, bool, type(None))):
                    raise TypeError(
                        f"[save] dict keys must be str, int, float, bool or None, "
                        f"got {type(k).__name__} at '{'.'.join(path) or '<root>'}'"
                    )
                items.append([k, self.encode(v, path + [str(k)])])
            if all(isinstance(k, str) for k in obj):
                return {"$dict": dict(items)}
            return {"$items": items}
        if isinstance(obj, (list, tuple)):
            out = [self.encode(v, path + [str(i)]) for i, v in enumerate(obj)]
            return out if isinstance(obj, list) else {"$tuple": out}
        raise TypeError(
            f"[save] can't save an object of type {type(obj).__name__} at "
            f"'{'.'.join(path) or '<root>'}'; expected Tensors, numpy arrays, numbers, "
            "strings, None, and dicts/lists/tuples of them"
        )

    def add(self, array: Any, path: list[str]) -> str:
        if not isinstance(array, np.ndarray):
            array = array.get()  # a GPU array: saved from host memory
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"[save] can't save an array of dtype {array.dtype} at '{'.'.join(path)}'"
            )
        name = self.name(path)
        # (np.ascontiguousarray would turn a 0-d array into shape (1,))
        self.tensors[name] = array if array.flags.c_contiguous else array.copy(order="C")
        return name


def _decode(node: Any, tensors: dict[str, np.ndarray], used: set) -> Any:
    if isinstance(node, list):
        return [_decode(v, tensors, used) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) != 1:
        raise ValueError("[load] corrupt structure metadata: expected one tag per object")
    ((tag, value),) = node.items()
    if tag in ("$tensor", "$ndarray"):
        if value not in tensors:
            raise ValueError(
                f"[load] corrupt file: the structure names tensor '{value}', which "
                "the file does not contain"
            )
        used.add(value)
        array = tensors[value]
        return Tensor(array) if tag == "$tensor" else array
    if tag == "$dict":
        return {k: _decode(v, tensors, used) for k, v in value.items()}
    if tag == "$items":
        return {k: _decode(v, tensors, used) for k, v in value}
    if tag == "$tuple":
        return tuple(_decode(v, tensors, used) for v in value)
    if tag == "$float":
        return float(value)
    raise ValueError(f"[load] corrupt structure metadata: unknown tag '{tag}'")


def save(obj: Any, f: str | os.PathLike) -> None:
    """Saves `obj` (a Tensor, a state dict, or a checkpoint: nested dicts/lists of Tensors,
    numbers and strings) to the file `f`, atomically, in the safetensors format.

    The bytes go to a hidden temporary ``.<name>.XXXXXXXX.tmp`` beside `f`, renamed over `f`
    when complete. A save killed mid-write leaves such a temporary behind: the next save to the
    same path removes that path's own stale temporaries (those matching the pattern and older
    than a minute, so a concurrent save's file is left alone); no other file is touched.
    A missing folder raises FileNotFoundError, a directory at `f` IsADirectoryError.
    """
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"[save] the folder of '{path}' does not exist: '{folder}'")
    if os.path.isdir(path):
        raise IsADirectoryError(f"[save] '{path}' is a directory, expected a file path")
    enc = _Encoder()
    structure = enc.encode(obj, [])
    meta = {_META_KEY: json.dumps({"format": _FORMAT, "structure": structure})}
    data = st_save(enc.tensors, metadata=meta)
    prefix = "." + os.path.basename(path) + "."
    _remove_stale_temps(folder, prefix)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _remove_stale_temps(folder: str, prefix: str) -> None:
    """Deletes the temporaries that an interrupted save to this path left (mkstemp's names:
    `prefix`, 8 random characters, `_TMP_SUFFIX`), once older than `_STALE_S` seconds."""
    pattern = re.compile(re.escape(prefix) + r"[a-z0-9_]{8}" + re.escape(_TMP_SUFFIX))
    now = time.time()
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not pattern.fullmatch(name):
            continue
        full = os.path.join(folder, name)
        try:
            if os.path.isfile(full) and now - os.path.getmtime(full) > _STALE_S:
                os.unlink(full)
        except OSError:
            pass  # gone already, or not ours to delete


def load(f: str | os.PathLike, map_location: Any = None) -> Any:
    """Loads what :func:`save` wrote (Tensors come back as Tensors, arrays as arrays).

    Tensors load on the CPU (a GPU tensor is saved from host memory), or on `map_location`
    ('cpu', 'cuda', 'cuda:N' or a device) when given, as ``torch.load(f, map_location=...)``;
    NumPy arrays stay NumPy arrays.

    A safetensors file without pyfastdl's metadata loads as a flat dict name → Tensor. A
    PyTorch ``torch.save`` file (``.pt`` / ``.pth``, the zip format) loads with Tensors (and
    Parameters) in place of torch's, on the CPU, without torch (see :mod:`pyfastdl.io_torch`).
    Nothing in the file is ever executed: a pickle naming anything but tensors, containers and
    numbers is refused, and a corrupt file raises ValueError.
    """
    if map_location is not None:
        return _moved(load(f), _device(map_location))
    path = os.fspath(f)
    if os.path.isdir(path):
        raise IsADirectoryError(f"[load] '{path}' is a directory, expected a file")
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"[load] no such file: '{path}'") from None
    if is_torch_zip(raw):
        return load_torch(raw, path)
    if is_torch_legacy(raw):
        raise ValueError(
            f"[load] '{path}' is in PyTorch's legacy (pre-1.6, non-zip) format, which is not "
            "supported; re-save it with a recent torch.save"
        )
    try:
        tensors = st_load(raw)
    except (SafetensorError, ValueError, OverflowError) as e:
        raise ValueError(f"[load] '{path}' is not a valid safetensors file: {e}") from None
    tensors = {k: (v if v.flags.writeable else v.copy()) for k, v in tensors.items()}
    meta = _metadata(raw, path)
    if meta is None or _META_KEY not in meta:
        return {k: Tensor(v) for k, v in tensors.items()}
    try:
        info = json.loads(meta[_META_KEY])
        structure = info["structure"]
    except (ValueError, TypeError, KeyError, RecursionError):  # RecursionError: absurd nesting
        raise ValueError(f"[load] '{path}' has corrupt pyfastdl metadata") from None
    if not isinstance(info.get("format"), int) or info["format"] > _FORMAT:
        raise ValueError(
            f"[load] '{path}' was written by a newer pyfastdl (format {info.get('format')!r})"
        )
    used: set = set()
    try:
        return _decode(structure, tensors, used)
    except RecursionError:
        raise ValueError(
            f"[load] '{path}' has corrupt pyfastdl metadata: its structure nests too deeply"
        ) from None


def _moved(obj: Any, device: Any) -> Any:
    """`obj` (what load read) with its Tensors on `device`."""
    if isinstance(obj, Tensor):
        moved = Tensor(_place(obj.array, device, "load"), requires_grad=obj.requires_grad)
        if type(obj) is not Tensor:  # a Parameter from a PyTorch file stays one
            moved = type(obj)(moved, requires_grad=obj.requires_grad)
        return moved
    if isinstance(obj, dict):
        return {k: _moved(v, device) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_moved(v, device) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_moved(v, device) for v in obj)
    return obj


def _metadata(raw: bytes, path: str) -> dict | None:
    """The ``__metadata__`` of a safetensors header (already validated by the reader)."""
    n = int.from_bytes(raw[:8], "little")
    try:
        header = json.loads(raw[8 : 8 + n])
    except (ValueError, RecursionError):
        raise ValueError(f"[load] '{path}' has a corrupt safetensors header") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else None

"""Reading PyTorch's ``torch.save`` files without torch and without running code from the file.

A ``.pt`` / ``.pth`` file (PyTorch >= 1.6) is a zip archive under one folder ``<name>/``:
``data.pkl`` pickles the object, whose tensors refer by key to raw storages stored as
``data/<key>`` in the byte order named by ``byteorder``. The pickle is read by an unpickler whose
``find_class`` answers only an allow-list (containers, numbers, torch's tensor and parameter
rebuild functions, storage types, dtypes, ``torch.Size``, ``torch.device``), each with pyfastdl's
own stand-in: nothing the file names is ever imported or called. Every tensor view is checked
against its storage (offset, sizes and strides inside the bytes, no negative stride) and copied
out. BFloat16 tensors load as float32 and int16 as int32, the dtypes pyfastdl has; tensors that
lived on a GPU load on the CPU; a bare saved storage loads as a 1-d Tensor. The legacy (pre-1.6,
non-zip) format is refused.

:func:`pyfastdl.load` dispatches here on the zip magic; the names here serve it.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
import zlib
from typing import Any

import numpy as np

from .nn.parameter import Parameter
from .tensor import Tensor, device

__all__ = [
    "CheckpointError",
    "UnsafeCheckpointError",
    "is_torch_legacy",
    "is_torch_zip",
    "load_torch",
]

# pickle of the magic number that opens a legacy torch.save file (protocol 2, LONG1 of 10 bytes).
_LEGACY_MAGIC = b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


class CheckpointError(ValueError):
    """A PyTorch file that is corrupt or malformed."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A PyTorch file whose pickle names something outside the allow-list."""


# What zipfile raises on a corrupt archive: offsets before its start ("negative seek value":
# ValueError), an unknown version or compression (NotImplementedError), an encrypted record
# (RuntimeError), bad deflate data, ...
_ZIP_ERRORS = (
    RuntimeError,
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    NotImplementedError,
    ValueError,
    KeyError,
    UnicodeDecodeError,
    OverflowError,
)


def is_torch_zip(head: bytes) -> bool:
    """Whether `head` (the first bytes of a file) opens a zip archive."""
    return head[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def is_torch_legacy(head: bytes) -> bool:
    """Whether `head` opens a legacy (pre-1.6) torch.save file."""
    return head[:1] == b"\x80" and head[2:14] == _LEGACY_MAGIC


class _StorageType:
    """A torch storage class (``torch.FloatStorage``, ...): the element type as stored in the
    file and the dtype it loads as."""

    def __init__(self, name: str, stored: str, loaded: str) -> None:
        self.name = name
        self.stored = np.dtype(stored)  # native order; the file's byte order is applied on read
        self.loaded = np.dtype(loaded)


_STORAGE_TYPES = {
    name: _StorageType(name, stored, loaded)
    for name, stored, loaded in [
        ("FloatStorage", "f4", "f4"),
        ("DoubleStorage", "f8", "f8"),
        ("HalfStorage", "f2", "f2"),
        ("BFloat16Storage", "u2", "f4"),  # the high half of a float32
        ("LongStorage", "i8", "i8"),
        ("IntStorage", "i4", "i4"),
        ("ShortStorage", "i2", "i4"),
        ("CharStorage", "i1", "i1"),
        ("ByteStorage", "u1", "u1"),
        ("BoolStorage", "u1", "?"),
        ("UntypedStorage", "u1", "u1"),
    ]
}

# torch dtypes, as data, become the dtype a tensor of that dtype loads as.
_TORCH_DTYPES = {
    **{n: np.dtype("f4") for n in ("float32", "float", "bfloat16")},
    **{n: np.dtype("f8") for n in ("float64", "double")},
    **{n: np.dtype("f2") for n in ("float16", "half")},
    **{n: np.dtype("i8") for n in ("int64", "long")},
    **{n: np.dtype("i4") for n in ("int32", "int", "int16", "short")},
    "int8": np.dtype("i1"),
    "uint8": np.dtype("u1"),
    "bool": np.dtype("?"),
    "complex64": np.dtype("c8"),
    "complex128": np.dtype("c16"),
}


def _latin1_encode(text: Any, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles of bytes use it (``encode(str, 'latin1')``)."""
    if not isinstance(text, str) or encoding != "latin1":
        raise CheckpointError("[load] _codecs.encode is only allowed on (str, 'latin1') for bytes")
    return text.encode("latin1")


def _torch_device(spec: Any, index: Any = None) -> device:
    try:
        return device(spec, index)
    except RuntimeError as e:
        raise CheckpointError(f"[load] unsupported torch.device in the file: {e}") from None


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


class _Storage:
    """The bytes of ``data/<key>``, read as `type` elements in the file's byte order."""

    def __init__(self, raw: bytes, stype: _StorageType, numel: int, byteorder: str) -> None:
        self.stype = stype
        self.numel = numel
        self.elements = np.frombuffer(raw, dtype=stype.stored.newbyteorder(byteorder))

    def view(self, offset: Any, size: Any, stride: Any, where: str) -> np.ndarray:
        """The array of sizes `size` and element strides `stride` from element `offset`, after
        checking that every element it reads lies inside the storage; a copy, in native order."""
        if not _is_int(offset) or not all(_is_int(v) for v in (*size, *stride)):
            raise CheckpointError(f"[load] {where}: storage offset, sizes and strides must be ints")
        if len(size) != len(stride):
            raise CheckpointError(f"[load] {where}: {len(size)} sizes but {len(stride)} strides")
        if offset < 0 or any(v < 0 for v in size) or any(v < 0 for v in stride):
            raise CheckpointError(
                f"[load] {where}: negative storage offset, size or stride "
                f"(offset {offset}, sizes {tuple(size)}, strides {tuple(stride)})"
            )
        numel = 1
        for n in size:
            numel *= n
        # Python ints: no overflow. The last element read is offset + sum((n - 1) * stride).
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if offset > self.numel or (numel > 0 and last >= self.numel):
            raise CheckpointError(
                f"[load] {where}: the view (offset {offset}, sizes {tuple(size)}, strides "
                f"{tuple(stride)}) reads past its storage of {self.numel} elements"
            )
        if numel * self.stype.loaded.itemsize > 2**62:
            raise CheckpointError(f"[load] {where}: tensor of {numel} elements is too large")
        base = self.elements[offset:]
        contiguous = _contiguous_strides(size)
        if numel == 0:
            out = np.empty(size, dtype=base.dtype)
        elif all(n == 1 or s == c for n, s, c in zip(size, stride, contiguous)):
            out = base[:numel].reshape(size)
        else:  # bounds checked above, so as_strided reads only inside `base`
            item = base.dtype.itemsize
            # a dim of size 1 never steps: its stride (unchecked, maybe huge) is irrelevant
            steps = tuple(0 if n == 1 else s * item for n, s in zip(size, stride))
            out = np.lib.stride_tricks.as_strided(
                base, shape=tuple(size), strides=steps, writeable=False
            )
        return _convert(out, self.stype)

    def whole(self) -> Tensor:
        """The storage itself as a 1-d Tensor (a file that saved a bare storage)."""
        return Tensor(self.view(0, (self.numel,), (1,), "storage"))


def _contiguous_strides(size: Any) -> list[int]:
    strides, acc = [], 1
    for n in reversed(size):
        strides.append(acc)
        acc *= max(n, 1)
    return strides[::-1]


def _convert(stored: np.ndarray, stype: _StorageType) -> np.ndarray:
    """A native-order, writable copy of `stored` in the dtype `stype` loads as."""
    native = stored.astype(stype.stored, order="C")  # a copy; also swaps a big-endian file's bytes
    if stype.name == "BFloat16Storage":
        return (native.astype(np.uint32) << 16).view(np.float32)
    if stype.loaded == np.dtype("?"):
        return native != 0
    return native.astype(stype.loaded, copy=False)


def _load_build(self: _Unpickler) -> None:
    """BUILD (set an object's state) only as torch uses it: the ``_metadata`` attribute of a
    state dict. On anything else it could call ``__setstate__`` (numpy dtypes have one) or
    overwrite a Tensor's array, so it is refused."""
    state = self.stack.pop()
    inst = self.stack[-1]
    if type(inst) is not collections.OrderedDict or not (
        isinstance(state, dict) and all(isinstance(k, str) for k in state)
    ):
        raise UnsafeCheckpointError(
            f"[load] refusing to set the state of a {type(inst).__name__} from {self.path}: "
            "only a state dict's attributes may be set"
        )
    inst.__dict__.update(state)


class _Unpickler(pickle._Unpickler):
    """Python's own unpickler (the pure-Python one, whose opcode table can be changed), with
    ``find_class`` resolving only allow-listed globals, to pyfastdl's stand-ins, and BUILD
    restricted to state dicts. REDUCE and NEWOBJ can then call nothing but the stand-ins."""

    dispatch = dict(pickle._Unpickler.dispatch)
    dispatch[pickle.BUILD[0]] = _load_build

    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str, path: str) -> None:
        super().__init__(io.BytesIO(data))
        self.archive = archive
        self.prefix = prefix
        self.path = path
        self.byteorder = _byteorder(archive, prefix, path)
        self.storages: dict[str, bytes] = {}
        self.created: list[_Storage] = []  # every storage reference, and those tensors used
        self.consumed: set[int] = set()
        self.allowed = {
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2"): self.rebuild_tensor_v2,
            ("torch._utils", "_rebuild_parameter"): self.rebuild_parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): self.rebuild_parameter_with_state,
            ("torch", "Size"): tuple,
            ("torch", "device"): _torch_device,
            ("_codecs", "encode"): _latin1_encode,
        }
        for builtins in ("builtins", "__builtin__"):
            for name, obj in (("set", set), ("frozenset", frozenset), ("slice", slice)):
                self.allowed[(builtins, name)] = obj
        for name, stype in _STORAGE_TYPES.items():
            self.allowed[("torch", name)] = stype
        self.allowed[("torch.storage", "UntypedStorage")] = _STORAGE_TYPES["UntypedStorage"]
        for name, dtype in _TORCH_DTYPES.items():
            self.allowed[("torch", name)] = dtype

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.allowed[(module, name)]
        except (KeyError, TypeError):
            raise UnsafeCheckpointError(
                f"[load] refusing to unpickle {module}.{name} from {self.path}: only tensors, "
                "containers and numbers are allowed"
            ) from None

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise CheckpointError(
                f"[load] '{self.path}': unsupported persistent id {pid!r:.80}; expected "
                "('storage', type, key, location, numel)"
            )
        _, stype, key, _location, numel = pid
        if not isinstance(stype, _StorageType):
            raise CheckpointError(f"[load] '{self.path}': storage {key!r:.40} has no storage type")
        if not isinstance(key, str) or not _is_int(numel) or numel < 0:
            raise CheckpointError(
                f"[load] '{self.path}': malformed storage reference (key {key!r:.40}, numel "
                f"{numel!r:.40})"
            )
        name = f"{self.prefix}data/{key}"
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            raise CheckpointError(
                f"[load] '{self.path}' is missing the storage record '{name}'"
            ) from None
        nbytes = numel * stype.stored.itemsize
        if info.file_size != nbytes:
            raise CheckpointError(
                f"[load] '{self.path}': storage record '{name}' holds {info.file_size} bytes, "
                f"but its {stype.name} of {numel} elements needs {nbytes}"
            )
        if key not in self.storages:
            self.storages[key] = _read(self.archive, name, self.path)
        storage = _Storage(self.storages[key], stype, numel, self.byteorder)
        self.created.append(storage)
        return storage

    def rebuild_tensor_v2(
        self,
        storage: Any,
        storage_offset: Any,
        size: Any,
        stride: Any,
        requires_grad: Any = False,
        backward_hooks: Any = None,
        metadata: Any = None,
    ) -> Tensor:
        if not isinstance(storage, _Storage):
            raise CheckpointError(f"[load] '{self.path}': a tensor is rebuilt from a non-storage")
        self.consumed.add(id(storage))
        if not isinstance(size, tuple) or not isinstance(stride, tuple):
            raise CheckpointError(f"[load] '{self.path}': tensor sizes and strides must be tuples")
        array = storage.view(storage_offset, size, stride, f"'{self.path}'")
        return Tensor(array, requires_grad=bool(requires_grad) and array.dtype.kind == "f")

    def rebuild_parameter(self, data: Any, requires_grad: Any, backward_hooks: Any) -> Parameter:
        if not isinstance(data, Tensor):
            raise CheckpointError(f"[load] '{self.path}': a Parameter is rebuilt from a non-tensor")
        return Parameter(data, requires_grad=bool(requires_grad) and data.dtype.kind == "f")

    def rebuild_parameter_with_state(
        self, data: Any, requires_grad: Any, backward_hooks: Any, state: Any
    ) -> Parameter:
        """A Parameter with Python attributes (``p.foo = ...``): set as plain attributes, which
        may not shadow a Tensor attribute or be private."""
        param = self.rebuild_parameter(data, requires_grad, backward_hooks)
        parts = state if isinstance(state, tuple) else (state,)  # (__dict__, slots) or __dict__
        for part in parts:
            if part is None:
                continue
            if not isinstance(part, dict):
                raise CheckpointError(f"[load] '{self.path}': malformed Parameter state")
            for name, value in part.items():
                if not isinstance(name, str) or name.startswith("_") or hasattr(param, name):
                    raise UnsafeCheckpointError(
                        f"[load] refusing to set attribute {name!r:.40} of a Parameter from "
                        f"{self.path}: only new public attributes may be set"
                    )
                setattr(param, name, value)
        return param

    def finish(self, obj: Any) -> Any:
        """`obj`, with any storage that no tensor used (a saved bare storage) as a Tensor."""
        if all(id(s) in self.consumed for s in self.created):
            return obj
        return _replace_storages(obj, set())


def _replace_storages(obj: Any, seen: set) -> Any:
    if isinstance(obj, _Storage):
        return obj.whole()
    if id(obj) in seen:  # pickles may hold shared and self-referencing containers
        return obj
    seen.add(id(obj))
    if isinstance(obj, dict):
        for k, v in obj.items():
            obj[k] = _replace_storages(v, seen)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            obj[i] = _replace_storages(v, seen)
    elif isinstance(obj, tuple):
        items = tuple(_replace_storages(v, seen) for v in obj)
        if any(a is not b for a, b in zip(items, obj)):
            return items
    return obj


def _read(archive: zipfile.ZipFile, name: str, path: str) -> bytes:
    try:
        return archive.read(name)
    except _ZIP_ERRORS as e:
        raise CheckpointError(f"[load] '{path}': corrupt zip record '{name}': {e}") from None


def _byteorder(archive: zipfile.ZipFile, prefix: str, path: str) -> str:
    """'<' or '>' from the archive's ``byteorder`` record (little-endian when absent)."""
    name = prefix + "byteorder"
    if name not in archive.NameToInfo:
        return "<"
    text = _read(archive, name, path).strip()
    if text not in (b"little", b"big"):
        raise CheckpointError(f"[load] '{path}': unknown byteorder {text[:20]!r}")
    return "<" if text == b"little" else ">"


def load_torch(raw: bytes, path: str) -> Any:
    """The object a zip-format ``torch.save`` file `raw` (read from `path`) holds, with
    Tensors (and Parameters) in place of torch's; raises CheckpointError on a corrupt file and
    UnsafeCheckpointError on anything outside the allow-list."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except _ZIP_ERRORS as e:
        raise CheckpointError(f"[load] '{path}' is a corrupt zip archive: {e}") from None
    with archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise CheckpointError(
                f"[load] '{path}' is a zip archive but not a PyTorch file: expected one "
                f"'<name>/data.pkl', found {len(pickles)}"
            )
        prefix = pickles[0][: -len("data.pkl")]
        data = _read(archive, pickles[0], path)
        unpickler = _Unpickler(data, archive, prefix, path)
        try:
            return unpickler.finish(unpickler.load())
        except CheckpointError:
            raise
        except Exception as e:  # a malformed pickle stream (the C unpickler's own errors)
            raise CheckpointError(
                f"[load] '{path}' has a corrupt data.pkl: {type(e).__name__}: {e}"
            ) from None

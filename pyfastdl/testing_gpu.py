"""A stand-in for CuPy that runs on the CPU, to test the GPU plumbing on machines without a GPU.

``with fake_gpu():`` installs a module named ``cupy`` whose arrays hold NumPy arrays inside but
behave like CuPy's where the library could go wrong:

- an implicit conversion to NumPy (``np.asarray(a)``, ``np.sum(a)``, ``np.add(a, b)``, a NumPy
  array mixed into an operator) raises ``TypeError`` ("NumPy called on a GPU array"), as CuPy
  does for ``np.asarray`` -- and stricter than CuPy, which forwards some NumPy functions;
- reductions return 0-d arrays, not Python scalars, as CuPy's do;
- ``.get()`` is the only way back to the host; ``cupy.asarray`` the way there;
- the arrays report ``device.id == 0`` and DLPack device (kDLCUDA, 0).

Inside the block ``Tensor.to('cuda')``, ``device='cuda'`` factories and ``Module.cuda()`` produce
these arrays, and the kernel registry's 'cuda' device runs the NumPy references on them (the
native CUDA kernels are set aside: their pointers would be host memory). So a model trained
"on the GPU" here runs every line of the device plumbing, and any NumPy call on a GPU array fails
loudly. The CUDA kernels themselves are tested on a real GPU (tests/cuda, ``tools/gpu_check.sh``).

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl.testing_gpu import fake_gpu
    >>> with fake_gpu():
    ...     x = fd.ones(2, 3, device="cuda")
    ...     (x * 2).sum().item(), x.device.type
    (12.0, 'cuda')
"""

from __future__ import annotations

import contextlib
import math
import operator
import sys
import types
from collections.abc import Iterator
from typing import Any

import numpy as np

from .kernels import registry

__all__ = ["FakeGPUArray", "fake_gpu", "make_fake_cupy"]


class _NumpyOnGPU(TypeError):
    pass


def _refuse(what: str) -> _NumpyOnGPU:
    return _NumpyOnGPU(
        f"[fake_gpu] NumPy called on a GPU array ({what}); use the array module of the data "
        "(pyfastdl.arrays.xp) or move it with .get()"
    )


def _unwrap(v: Any, allow_numpy: bool) -> Any:
    if isinstance(v, FakeGPUArray):
        return v._a
    if isinstance(v, np.ndarray) and not allow_numpy:
        raise TypeError(
            "[fake_gpu] a NumPy array was passed to a CuPy function (CuPy refuses host arrays; "
            "move it with cupy.asarray)"
        )
    if isinstance(v, (list, tuple)):
        return type(v)(_unwrap(x, allow_numpy) for x in v)
    if isinstance(v, dict):
        return {k: _unwrap(x, allow_numpy) for k, x in v.items()}
    return v


def _wrap(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return FakeGPUArray(v)
    if isinstance(v, np.generic):  # CuPy's reductions give 0-d arrays, never scalars
        return FakeGPUArray(np.asarray(v))
    if isinstance(v, tuple):
        return tuple(_wrap(x) for x in v)
    if isinstance(v, list) and v and isinstance(v[0], np.ndarray):
        return [_wrap(x) for x in v]
    return v


class _Device:
    id = 0

    def __enter__(self) -> _Device:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def synchronize(self) -> None:
        pass


class _Flags:
    def __init__(self, a: np.ndarray) -> None:
        self.c_contiguous = a.flags.c_contiguous
        self.f_contiguous = a.flags.f_contiguous
        self.owndata = a.flags.owndata


class _Pointer:
    def __init__(self, a: np.ndarray) -> None:
        self.ptr = int(a.ctypes.data)


class FakeGPUArray:
    """A NumPy array dressed as a ``cupy.ndarray`` (see the module docstring)."""

    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 1000.0

    def __init__(self, a: np.ndarray) -> None:
        self._a = a

    # -- NumPy must not see inside ---------------------------------------------------------
    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise _refuse("implicit conversion, np.asarray / np.array")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        raise _refuse(f"numpy.{func.__name__}")

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        raise _refuse(f"numpy.{ufunc.__name__}")

    # -- the CuPy surface --------------------------------------------------------------------
    def get(self, stream: Any = None, out: Any = None) -> np.ndarray:
        return self._a.copy()

    def set(self, arr: np.ndarray, stream: Any = None) -> None:
        self._a[...] = arr

    @property
    def device(self) -> _Device:
        return _Device()

    @property
    def flags(self) -> _Flags:
        return _Flags(self._a)

    @property
    def data(self) -> _Pointer:
        return _Pointer(self._a)

    @property
    def base(self) -> Any:
        return None if self._a.base is None else FakeGPUArray(self._a.base)

    def __dlpack_device__(self) -> tuple[int, int]:
        return (2, 0)  # kDLCUDA, device 0

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("[fake_gpu] DLPack export of a fake GPU array is not supported")

    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    T = property(lambda self: FakeGPUArray(self._a.T))
    mT = property(lambda self: FakeGPUArray(np.swapaxes(self._a, -1, -2)))

    @property
    def real(self) -> FakeGPUArray:
        return FakeGPUArray(self._a.real)

    @property
    def imag(self) -> FakeGPUArray:
        return FakeGPUArray(self._a.imag)

    def __getattr__(self, name: str) -> Any:  # methods: reshape, astype, sum, ...
        if name in ("ctypes", "tofile", "tobytes", "__array_interface__", "__array_struct__"):
            raise AttributeError(f"[fake_gpu] cupy.ndarray has no host attribute {name!r}")
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr)

        def method(*args: Any, **kwargs: Any) -> Any:
            return _wrap(attr(*_unwrap(args, False), **_unwrap(kwargs, False)))

        return method

    def tolist(self) -> Any:
        return self._a.tolist()

    def item(self, *args: Any) -> Any:
        return self._a.item(*args)

    def __repr__(self) -> str:
        return "fake_gpu." + repr(self._a)

    def __str__(self) -> str:
        return str(self._a)

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self._a)):
            yield self[i]

    def __bool__(self) -> bool:
        return bool(self._a)

    def __float__(self) -> float:
        return float(self._a)

    def __int__(self) -> int:
        return int(self._a)

    def __index__(self) -> int:
        return operator.index(self._a)

    def __complex__(self) -> complex:
        return complex(self._a)

    def __getitem__(self, key: Any) -> Any:
        return _wrap(self._a[_unwrap(key, True)])

    def __setitem__(self, key: Any, value: Any) -> None:
        self._a[_unwrap(key, True)] = _unwrap(value, True)

    def __copy__(self) -> FakeGPUArray:
        return FakeGPUArray(self._a.copy())

    def __deepcopy__(self, memo: Any) -> FakeGPUArray:
        return FakeGPUArray(self._a.copy())

    def __reduce__(self) -> Any:
        raise TypeError("[fake_gpu] pickling a GPU array: move it to the host first")


def _binary(name: str) -> Any:
    fn = getattr(operator, name)

    def op(self: FakeGPUArray, other: Any) -> Any:
        return _wrap(fn(self._a, _unwrap(other, False)))

    def rop(self: FakeGPUArray, other: Any) -> Any:
        return _wrap(fn(_unwrap(other, False), self._a))

    return op, rop


def _inplace(name: str) -> Any:
    fn = getattr(operator, "i" + name)

    def op(self: FakeGPUArray, other: Any) -> FakeGPUArray:
        fn(self._a, _unwrap(other, False))
        return self

    return op


for _name in (
    "add",
    "sub",
    "mul",
    "truediv",
    "floordiv",
    "mod",
    "pow",
    "matmul",
    "and_",
    "or_",
    "xor",
    "lshift",
    "rshift",
):
    _dunder = _name.rstrip("_")
    _op, _rop = _binary(_name)
    setattr(FakeGPUArray, f"__{_dunder}__", _op)
    setattr(FakeGPUArray, f"__r{_dunder}__", _rop)
    setattr(FakeGPUArray, f"__i{_dunder}__", _inplace(_dunder))

for _name in ("lt", "le", "eq", "ne", "gt", "ge"):
    setattr(FakeGPUArray, f"__{_name}__", _binary(_name)[0])

for _name in ("neg", "pos", "abs", "invert"):
    setattr(
        FakeGPUArray,
        f"__{_name}__",
        (lambda fn: lambda self: FakeGPUArray(fn(self._a)))(getattr(operator, _name)),
    )

FakeGPUArray.__hash__ = None  # type: ignore[assignment]
FakeGPUArray.__module__ = "cupy"


# Functions that take host data on purpose (the ways onto the device) or return host data.
_HOST_IN = {"asarray", "array", "ascontiguousarray", "asanyarray", "asfortranarray"}


def _function(name: str, fn: Any) -> Any:
    allow = name in _HOST_IN

    def call(*args: Any, **kwargs: Any) -> Any:
        out = fn(*_unwrap(args, allow), **_unwrap(kwargs, allow))
        if allow and isinstance(out, np.ndarray) and any(a is out for a in args):
            out = out.copy()  # host data is copied to the device, never shared
        return _wrap(out)

    call.__name__ = name
    return call


def _asnumpy(a: Any, stream: Any = None, **kwargs: Any) -> np.ndarray:
    return a.get() if isinstance(a, FakeGPUArray) else np.asarray(a)


def _get_array_module(*args: Any) -> types.ModuleType:
    return sys.modules["cupy"] if any(isinstance(a, FakeGPUArray) for a in args) else np


class _Stream:
    ptr = 0
    null = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def synchronize(self) -> None:
        pass


def _submodule(name: str, **attrs: Any) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    return mod


def make_fake_cupy() -> tuple[types.ModuleType, dict[str, types.ModuleType]]:
    """The fake ``cupy`` module and its submodules by name (for ``sys.modules``)."""

    cupy = types.ModuleType("cupy")
    cupy.__doc__ = "pyfastdl.testing_gpu's stand-in for CuPy"
    cupy.ndarray = FakeGPUArray
    cupy.asnumpy = _asnumpy
    cupy.get_array_module = _get_array_module
    cupy.from_dlpack = _function("from_dlpack", np.from_dlpack)

    def module_getattr(name: str) -> Any:
        attr = getattr(np, name)
        if isinstance(attr, type) or not callable(attr):
            return attr  # dtypes (cupy.float32 is numpy.float32), constants
        return _function(name, attr)

    cupy.__getattr__ = module_getattr  # type: ignore[attr-defined]
    random = _submodule(
        "cupy.random",
        RandomState=lambda seed=None: _FakeRandom(seed),
        **{n: _function(n, getattr(np.random, n)) for n in ("rand", "randn", "random", "seed")},
    )
    random.default_rng = lambda seed=None: _FakeRandom(seed)
    cupy.random = random
    cupy.linalg = _submodule(
        "cupy.linalg",
        **{
            n: _function(n, getattr(np.linalg, n))
            for n in (
                "norm",
                "inv",
                "solve",
                "det",
                "slogdet",
                "svd",
                "qr",
                "cholesky",
                "eigh",
                "eigvalsh",
                "pinv",
            )
        },
    )
    runtime = _submodule("cupy.cuda.runtime", getDeviceCount=lambda: 1)
    cuda = _submodule(
        "cupy.cuda",
        Device=lambda *a: _Device(),
        Stream=_Stream,
        get_current_stream=lambda *a: _Stream(),
        runtime=runtime,
        Event=lambda *a, **k: None,
    )
    cupy.cuda = cuda
    erf = np.vectorize(math.erf, otypes=[np.float64])
    erfc = np.vectorize(math.erfc, otypes=[np.float64])

    def _special(fn: Any) -> Any:
        def call(x: Any) -> Any:
            a = _unwrap(x, False)
            return FakeGPUArray(fn(a).astype(a.dtype) if a.size else a.copy())

        return call

    special = _submodule("cupyx.scipy.special", erf=_special(erf), erfc=_special(erfc))
    scipy = _submodule("cupyx.scipy", special=special)

    def scatter_add(a: Any, slices: Any, value: Any) -> None:
        np.add.at(_unwrap(a, False), _unwrap(slices, False), _unwrap(value, False))

    cupyx = _submodule("cupyx", scipy=scipy, scatter_add=scatter_add)
    return cupy, {
        "cupy": cupy,
        "cupy.random": random,
        "cupy.linalg": cupy.linalg,
        "cupy.cuda": cuda,
        "cupy.cuda.runtime": runtime,
        "cupyx": cupyx,
        "cupyx.scipy": scipy,
        "cupyx.scipy.special": special,
    }


class _FakeRandom:
    def __init__(self, seed: Any = None) -> None:
        self._rng = np.random.default_rng(seed)

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._rng, name)
        return lambda *a, **k: _wrap(np.asarray(fn(*_unwrap(a, False), **_unwrap(k, False))))


@contextlib.contextmanager
def fake_gpu() -> Iterator[types.ModuleType]:
    """Installs the fake ``cupy`` (see the module docstring) for the block; yields it."""
    cupy, modules = make_fake_cupy()
    saved_modules = {name: sys.modules.get(name) for name in modules}
    saved_defaults = dict(registry._defaults["cuda"])
    saved_versions = {op: dict(vs) for op, vs in registry._versions["cuda"].items()}
    sys.modules.update(modules)
    # The 'cuda' device runs the references on the fake arrays: the native CUDA versions are set
    # aside for the block (they take real device pointers).
    for op, versions in saved_versions.items():
        registry._versions["cuda"][op] = {"reference": versions["reference"]}
        registry._defaults["cuda"][op] = "reference"
    registry._invalidate()
    try:
        yield cupy
    finally:
        for name, mod in saved_modules.items():
            if mod is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = mod
        registry._versions["cuda"].update(saved_versions)
        registry._defaults["cuda"].update(saved_defaults)
        registry._invalidate()

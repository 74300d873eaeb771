"""Tensor: an array (``numpy.ndarray`` on the CPU, ``cupy.ndarray`` on the GPU) plus autograd state.

The array is ``tensor.array``; operations go through :class:`pyfastdl.autograd.Function` subclasses
in ``pyfastdl/ops/`` and return new Tensors linked into the graph when gradients are recorded.

Example:
    >>> import pyfastdl as fd
    >>> x = fd.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x @ x.T).sum()
    >>> y.backward()
    >>> x.grad.shape
    (2, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import autograd
from . import random as _random
from .arrays import cupy_module, is_gpu, to_gpu, to_host, xp
from .autograd import version_counter
from .dtypes import (
    bool_,
    check_dtype,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int32,
    int64,
    uint8,
)
from .random import Generator, numpy_rng
from .shapes import allocates

__all__ = [
    "Tensor",
    "arange",
    "as_tensor",
    "channels_last",
    "channels_last_3d",
    "contiguous_format",
    "device",
    "empty",
    "empty_like",
    "eye",
    "from_dlpack",
    "from_numpy",
    "full",
    "full_like",
    "is_tensor",
    "is_complex",
    "is_floating_point",
    "linspace",
    "memory_format",
    "ones",
    "ones_like",
    "rand",
    "rand_like",
    "randint",
    "randint_like",
    "randn",
    "randn_like",
    "randperm",
    "tensor",
    "preserve_format",
    "zeros",
    "zeros_like",
]


class device:
    """Where a tensor's array lives: ``device('cpu')``, ``device('cuda')``, ``device('cuda:0')``,
    ``device('cuda', 0)`` or ``device(0)`` (GPU 0); a ``torch.device`` is read by its name."""

    __slots__ = ("index", "type")

    def __init__(self, spec: Any = "cpu", index: Any = None) -> None:
        if isinstance(spec, device):
            self.type, self.index = spec.type, spec.index
            return
        if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
            spec, index = "cuda", int(spec)  # PyTorch: an int names a GPU
        spec = str(spec)
        kind, _, idx = spec.partition(":")
        if kind not in ("cpu", "cuda") or (idx and not idx.isdigit()):
            raise RuntimeError(f"[device] expected 'cpu' or 'cuda[:N]', got '{spec}'")
        self.type = kind
        self.index = int(idx) if idx else (None if index is None else int(index))
        if self.index is not None and self.index < 0:
            raise RuntimeError(f"[device] device index must be non-negative, got {self.index}")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return (
            isinstance(other, device)
            and self.type == other.type
            and (self.index is None or other.index is None or self.index == other.index)
        )

    def __hash__(self) -> int:
        return hash(self.type)

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"


class memory_format:
    """How a tensor's elements are laid out in memory (``pyfastdl.channels_last``, ...).

    ``contiguous_format`` is row-major (C order); ``channels_last`` stores a 4-d (N, C, H, W)
    tensor as (N, H, W, C) in memory, keeping its logical shape; ``channels_last_3d`` does the same
    for 5-d; ``preserve_format`` keeps the input's layout.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"pyfastdl.{self.name}"

    def __reduce__(self) -> str:
        return self.name


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")

# The dim order (outermost first) in memory of each channels-last format.
CHANNELS_LAST_ORDER = {channels_last: (0, 2, 3, 1), channels_last_3d: (0, 2, 3, 4, 1)}

_CPU = device("cpu")
_CUDA = device("cuda")


def _is_numpy(a: Any) -> bool:
    """True for a NumPy array (a subclass too, such as a memory map)."""
    return type(a) is np.ndarray or isinstance(a, np.ndarray)


class Tensor:
    """A multi-dimensional array with reverse-mode autograd.

    Build tensors with :func:`tensor`, :func:`from_numpy` or the factories (zeros, randn, ...);
    ``Tensor(array)`` wraps an existing array without copying.
    """

    __slots__ = (
        "__dict__",
        "__weakref__",
        "_node",
        "_out_index",
        "_retains_grad",
        "_version_counter",
        "array",
        "grad",
        "requires_grad",
    )

    # Let numpy defer to Tensor's reflected operators (ndarray + Tensor -> Tensor.__radd__).
    __array_priority__ = 1000

    def __init__(self, data: Any = None, requires_grad: bool = False) -> None:
        if data is None:
            data = np.empty((0,), dtype=get_default_dtype())
        elif isinstance(data, Tensor):
            data = data.array
        elif isinstance(data, np.generic):
            data = np.asarray(data)  # a numpy scalar keeps its dtype
        elif not (_is_numpy(data) or _is_cupy(data)):
            data = _to_array(data, None, "Tensor")
        self.array = data
        self.grad: Tensor | None = None
        self._node = None
        self._out_index = 0
        self._retains_grad = False
        self._version_counter = None  # created on first use (autograd.version_counter)
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_op(cls, data: Any, node: Any, index: int) -> Tensor:
        """The output `index` of an operation (node is None when no graph is recorded)."""
        if type(data) is not np.ndarray and isinstance(data, np.generic):
            data = np.asarray(data)  # numpy arithmetic on 0-d arrays returns scalars
        t = Tensor.__new__(Tensor)
        t.array = data
        t.grad = None
        t._node = node
        t._out_index = index
        t._retains_grad = False
        t._version_counter = None
        t.requires_grad = node is not None
        return t

    # ------------------------------------------------------------------ properties
    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's array, outside the graph (PyTorch's ``.data``)."""
        t = Tensor._from_op(self.array, None, 0)
        t._version_counter = version_counter(self)
        return t

    @data.setter
    def data(self, value: Any) -> None:
        array = value.array if isinstance(value, Tensor) else value
        if not (_is_numpy(array) or _is_cupy(array)):
            raise TypeError(f"[data] expected a Tensor or an array, got {type(value).__name__}")
        self.array = array

    @property
    def shape(self) -> tuple:
        return self.array.shape

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def device(self) -> device:
        return _CPU if _is_numpy(self.array) else _CUDA

    @property
    def is_cuda(self) -> bool:
        return not _is_numpy(self.array)

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's memory has seen (PyTorch's ``t._version``)."""
        counter = self._version_counter
        return 0 if counter is None else counter[0]

    @property
    def grad_fn(self) -> Any:
        return self._node

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    def size(self, dim: int | None = None) -> Any:
        if dim is None:
            return self.array.shape
        return self.array.shape[_normalize_dim(dim, self.array.ndim, "size")]

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return int(self.array.size)

    def nelement(self) -> int:
        return int(self.array.size)

    def ndimension(self) -> int:
        return self.array.ndim

    def get_device(self) -> int:
        """-1 for a CPU tensor, else the index of its GPU."""
        return -1 if _is_numpy(self.array) else int(self.array.device.id)

    def data_ptr(self) -> int:
        """The address of the first element."""
        a = self.array
        return int(a.ctypes.data) if _is_numpy(a) else int(a.data.ptr)

    def is_pinned(self) -> bool:
        """False: pyfastdl does not page-lock host memory (``pin_memory`` is a no-op)."""
        return False

    def pin_memory(self, device: Any = None) -> Tensor:
        """Self, for a CPU tensor (pinning is not needed for correctness and is not done here);
        RuntimeError for a GPU tensor, as in PyTorch."""
        if not _is_numpy(self.array):
            raise RuntimeError(
                "[pin_memory] cannot pin a cuda tensor: only CPU tensors can be pinned"
            )
        return self

    @property
    def retains_grad(self) -> bool:
        """True for a non-leaf tensor that keeps its ``.grad`` (``retain_grad()``)."""
        return bool(self._retains_grad) and self._node is not None

    def is_signed(self) -> bool:
        return self.array.dtype.kind in "fci"

    def is_nonzero(self) -> bool:
        """The truth of a one-element tensor."""
        if self.array.size != 1:
            raise RuntimeError(
                f"[is_nonzero] boolean value of a tensor with {self.array.size} elements is "
                "ambiguous"
            )
        return bool(self.array.reshape(()).item())

    def is_same_size(self, other: Tensor) -> bool:
        return tuple(self.array.shape) == tuple(other.array.shape)

    def element_size(self) -> int:
        return self.array.itemsize

    def stride(self, dim: int | None = None) -> Any:
        """The steps, in elements, between neighbours along each dim (or along `dim`)."""
        strides = tuple(s // self.array.itemsize for s in self.array.strides)
        if dim is None:
            return strides
        return strides[_normalize_dim(dim, self.array.ndim, "stride")]

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return self.array.itemsize

    @property
    def nbytes(self) -> int:
        """Bytes of the elements (numel * itemsize)."""
        return int(self.array.size) * self.array.itemsize

    @property
    def is_xpu(self) -> bool:
        return False

    @property
    def is_cpu(self) -> bool:
        return _is_numpy(self.array)

    def is_floating_point(self) -> bool:
        return self.array.dtype.kind == "f"

    def is_complex(self) -> bool:
        return self.array.dtype.kind == "c"

    def is_contiguous(self, memory_format: memory_format = contiguous_format) -> bool:
        """True when the elements lie in memory in the order of `memory_format`."""
        a = self.array
        if memory_format is contiguous_format:
            return bool(a.flags.c_contiguous)
        order = CHANNELS_LAST_ORDER.get(memory_format)
        if order is None:
            raise RuntimeError(f"[is_contiguous] unsupported memory_format {memory_format!r}")
        return a.ndim == len(order) and bool(a.transpose(order).flags.c_contiguous)

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("[len] len() of a 0-d tensor")
        return self.array.shape[0]

    # ------------------------------------------------------------------ conversion
    def item(self) -> Any:
        if self.array.size != 1:
            raise ValueError(
                f"[item] only one-element tensors can be converted to a Python scalar, got shape "
                f"{tuple(self.array.shape)}"
            )
        return self.array.reshape(()).item()

    def tolist(self) -> Any:
        return _host(self.array).tolist()

    def numpy(self, force: bool = False) -> np.ndarray:
        """The array itself (shared memory) for a CPU tensor; with `force`, a host copy of a GPU
        tensor (and no complaint about requires_grad)."""
        if not _is_numpy(self.array):
            if not force:
                raise TypeError(
                    "[numpy] can't convert cuda tensor to numpy; use Tensor.cpu() first"
                )
            return _host(self.array)
        if self.requires_grad and not force:
            raise RuntimeError(
                "[numpy] can't call numpy() on a tensor that requires grad; use "
                "tensor.detach().numpy()"
            )
        return self.array

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """NumPy's view of a CPU tensor; a GPU tensor refuses (TypeError, as in PyTorch): move it
        with ``.cpu()`` first, so that no copy to the host happens unseen."""
        a = self.array
        if not _is_numpy(a):
            raise TypeError(
                "[__array__] can't convert cuda tensor to numpy; use Tensor.cpu() first"
            )
        if dtype is not None and np.dtype(dtype) != a.dtype:
            return a.astype(dtype)
        if copy:
            return a.copy()
        return a

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        if self.requires_grad:
            raise RuntimeError(
                "[__dlpack__] can't export a tensor that requires grad; detach() it first"
            )
        return self.array.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self) -> tuple:
        return self.array.__dlpack_device__()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.array.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError(
                "[__index__] only integer tensors of one element can be used as an index"
            )
        return int(self.item())

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(
                f"[bool] boolean value of a tensor with {self.array.size} elements is ambiguous"
            )
        return bool(self.array.reshape(()).item())

    __hash__ = object.__hash__

    def cpu(self, memory_format: Any = None) -> Tensor:
        """This tensor on the CPU (itself when it is there already)."""
        if memory_format is None:
            return self.to("cpu")
        return self.to("cpu", memory_format=memory_format)

    def cuda(
        self, device: Any = None, non_blocking: bool = False, memory_format: Any = None
    ) -> Tensor:
        """This tensor on the GPU (`device`: an index, 'cuda:N' or a device; the current GPU by
        default); RuntimeError ``[to] CUDA is not available: ...`` without CuPy or a GPU."""
        target = _cuda_device(device)
        if memory_format is None:
            return self.to(target, non_blocking=non_blocking)
        return self.to(target, non_blocking=non_blocking, memory_format=memory_format)

    def type(self, dtype: Any = None) -> Any:
        if dtype is None:
            return f"pyfastdl.{self.array.dtype}"
        return self.to(dtype)

    def float(self) -> Tensor:
        return self.to(float32)

    def double(self) -> Tensor:
        return self.to(float64)

    def half(self) -> Tensor:
        return self.to(float16)

    def long(self) -> Tensor:
        return self.to(int64)

    def byte(self) -> Tensor:
        return self.to(uint8)

    def char(self) -> Tensor:
        return self.to(int8)

    def int(self) -> Tensor:
        return self.to(int32)

    def bool(self) -> Tensor:
        return self.to(bool_)

    # ------------------------------------------------------------------ autograd
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.array.dtype.kind not in "fc":
            raise RuntimeError(
                f"[requires_grad_] only floating-point tensors can require gradients, got {self.array.dtype}"
            )
        if not requires_grad and self._node is not None:
            raise RuntimeError(
                "[requires_grad_] can't turn off requires_grad of a non-leaf tensor; use detach()"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A tensor sharing this one's array (and its version counter), cut out of the graph."""
        t = Tensor._from_op(self.array, None, 0)
        t._version_counter = version_counter(self)
        return t

    def detach_(self) -> Tensor:
        self._node = None
        self.requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keeps ``.grad`` of this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError(
                "[retain_grad] can't retain_grad on a tensor that doesn't require grad"
            )
        self._retains_grad = True

    def register_hook(self, hook: Any) -> Any:
        """Runs ``hook(grad)`` on this tensor's gradient during backward; a returned tensor
        replaces the gradient. Returns a handle whose ``remove()`` unregisters it.

        Example:
            >>> import pyfastdl as fd
            >>> x = fd.tensor([1.0, 2.0], requires_grad=True)
            >>> h = x.register_hook(lambda g: g * 10)
            >>> (x * x).sum().backward()
            >>> x.grad.tolist()
            [20.0, 40.0]
        """
        return autograd.register_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook: Any) -> Any:
        """Runs ``hook(self)`` after backward has added this leaf's gradient into ``.grad``
        (while the rest of the backward may still be running)."""
        return autograd.register_post_accumulate_grad_hook(self, hook)

    def backward(
        self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        """Accumulates d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
        if create_graph:
            raise NotImplementedError("[backward] create_graph=True is not supported")
        autograd.backward(self, gradient, retain_graph)

    # ------------------------------------------------------------------ printing
    def __format__(self, format_spec: str) -> str:
        """A one-element 0-d tensor formats like its number (``'{:.4f}'.format(t)``)."""
        if self.array.ndim == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def __repr__(self) -> str:
        body = np.array2string(
            _host(self.array), separator=", ", precision=4, threshold=200, prefix="tensor("
        )
        extra = []
        if self.array.dtype not in (get_default_dtype(), int64, bool_):
            extra.append(f"dtype=pyfastdl.{self.array.dtype}")
        if not _is_numpy(self.array):
            extra.append(f"device='cuda:{self.get_device()}'")
        if self._node is not None:
            extra.append(f"grad_fn=<{self._node.name}Backward>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extra) + ")"

    # Operators and most methods (``+``, ``@``, ``.sum()``, ``.to()``, ...) are attached by
    # pyfastdl.ops, one layer above, with the functions they run; the families of nn.functional
    # attach theirs (``.softmax()``).


autograd.set_tensor_class(Tensor)
_random.set_tensor_class(Tensor)  # get_rng_state hands back Tensors


def _normalize_dim(dim: Any, ndim: Any, op: str) -> Any:
    lo = -ndim if ndim else -1
    hi = ndim - 1 if ndim else 0
    if not (lo <= dim <= hi):
        raise IndexError(
            f"[{op}] dim {dim} is out of range for a tensor of {ndim} dims (expected {lo}..{hi})"
        )
    return dim + ndim if dim < 0 else dim


_is_cupy = is_gpu  # (the layers above import it under this name)
_host = to_host


def _cuda_device(spec: Any) -> device:
    """The device ``Tensor.cuda(spec)`` / ``Module.cuda(spec)`` means: GPU `spec` (an index, a
    'cuda:N' name or a device), the current GPU for None."""
    if spec is None:
        return _CUDA
    d = device(spec)
    if d.type != "cuda":
        raise RuntimeError(f"[cuda] expected a cuda device, got '{spec}'")
    return d


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(input: Tensor) -> bool:
    """True when `input` has a floating-point dtype."""
    return input.is_floating_point()


def is_complex(input: Tensor) -> bool:
    """True when `input` has a complex dtype."""
    return input.is_complex()


# ---------------------------------------------------------------------- factories
def _to_array(data: Any, dtype: Any, op: str, copy: bool = True) -> Any:
    if isinstance(data, Tensor):
        data = data.array
    if _is_cupy(data):
        arr = data.astype(dtype) if dtype is not None else (data.copy() if copy else data)
        return arr
    try:
        arr = (
            np.array(data, copy=copy)
            if dtype is None
            else np.array(data, dtype=np.dtype(dtype), copy=copy)
        )
    except ValueError as e:  # ragged nested lists (PyTorch: ValueError too)
        raise ValueError(f"[{op}] could not make an array of {type(data).__name__}: {e}") from None
    except TypeError as e:
        raise TypeError(f"[{op}] could not make an array of {type(data).__name__}: {e}") from None
    if dtype is None:
        kind = arr.dtype.kind
        if kind == "f":
            if not isinstance(data, np.ndarray) or arr.dtype == float16:
                arr = arr.astype(get_default_dtype(), copy=False)
        elif kind in "iu":
            if not isinstance(data, np.ndarray):
                arr = arr.astype(int64, copy=False)
        elif kind == "b":
            pass
        else:
            raise TypeError(f"[{op}] unsupported data of dtype {arr.dtype}")
    check_dtype(arr.dtype, op)
    return arr


def _place(arr: Any, dev: Any, op: str = "to") -> Any:
    """`arr` on device `dev` (None: where it is). Moves to the GPU go through
    :func:`pyfastdl.arrays.to_gpu`: a clear error without CuPy or a GPU."""
    if dev is None:
        return arr
    d = dev if type(dev) is device else device(dev)
    if d.type == "cuda":
        return to_gpu(arr, op, d.index) if d.index or _is_numpy(arr) else arr
    return arr if _is_numpy(arr) else arr.get()


def _make(dev: Any, op: str, make: Any) -> Any:
    """``make(m)``, m the array module of device `dev` (numpy for None and 'cpu', cupy for
    'cuda'): an array allocated on its device, not copied there."""
    if dev is None:
        return make(np)
    d = dev if type(dev) is device else device(dev)
    if d.type == "cpu":
        return make(np)
    arr = make(cupy_module(op))
    return to_gpu(arr, op, d.index) if d.index else arr


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of `data` (nested lists, scalars, arrays or tensors).

    Floating-point data becomes the default dtype (float32) unless `dtype` says otherwise; Python
    integers become int64.

    Example:
        >>> import pyfastdl as fd
        >>> fd.tensor([[1, 2], [3, 4]]).dtype
        dtype('int64')
    """
    arr = _place(_to_array(data, dtype, "tensor"), device, "tensor")
    return Tensor(arr, requires_grad=requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like :func:`tensor`, but shares memory with an array of the right dtype."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    if (_is_numpy(data) or _is_cupy(data)) and (dtype is None or np.dtype(dtype) == data.dtype):
        check_dtype(data.dtype, "as_tensor")
        return Tensor(_place(data, device, "as_tensor"))
    if isinstance(data, Tensor) and dtype is None:
        return Tensor(_place(data.array, device, "as_tensor"))
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"[from_numpy] expected numpy.ndarray, got {type(array).__name__}")
    check_dtype(array.dtype, "from_numpy")
    return Tensor(array)


# DLPack device types whose memory the host reads directly: kDLCPU, kDLCUDAHost (pinned).
_DLPACK_HOST = (1, 3)


def from_dlpack(ext: Any) -> Tensor:
    """A tensor sharing memory with an object that implements the DLPack protocol: a CPU
    producer (NumPy, a torch CPU tensor, ...) gives a CPU tensor, a GPU one (CuPy, a torch CUDA
    tensor, a JAX GPU array, ...) a GPU tensor, through CuPy.

    Example:
        >>> import numpy as np, pyfastdl as fd
        >>> fd.from_dlpack(np.ones(2, np.float32)).tolist()
        [1.0, 1.0]
    """
    if not hasattr(ext, "__dlpack__") or not hasattr(ext, "__dlpack_device__"):
        raise TypeError(
            f"[from_dlpack] {type(ext).__name__} does not implement __dlpack__ and "
            "__dlpack_device__"
        )
    dev_type, _ = ext.__dlpack_device__()
    if int(dev_type) in _DLPACK_HOST:
        arr = np.from_dlpack(ext)
    else:
        arr = cupy_module("from_dlpack").from_dlpack(ext)
    check_dtype(arr.dtype, "from_dlpack")
    return Tensor(arr)


def _shape_arg(size: Sequence[Any], op: str) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = []
    for s in size:
        if isinstance(s, Tensor):
            s = s.item()
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"[{op}] size must be a sequence of ints, got {size!r}")
        if s < 0:
            raise ValueError(f"[{op}] sizes must be non-negative, got {tuple(size)}")
        shape.append(int(s))
    return tuple(shape)


def _factory(arr: Any, device: Any, requires_grad: bool, op: str) -> Tensor:
    """A tensor of host array `arr` (random draws are made on the host) on `device`."""
    return Tensor(_place(arr, device, op), requires_grad=requires_grad)


def _made(make: Any, device: Any, requires_grad: bool, op: str) -> Tensor:
    """A tensor of ``make(m)``, allocated by the array module m of `device`."""
    return Tensor(_make(device, op, make), requires_grad=requires_grad)


def _float_dtype(dtype: Any, op: str) -> np.dtype:
    return get_default_dtype() if dtype is None else check_dtype(dtype, op)


@allocates("zeros")
def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dt = _shape_arg(size, "zeros"), _float_dtype(dtype, "zeros")
    return _made(lambda m: m.zeros(shape, dt), device, requires_grad, "zeros")


@allocates("ones")
def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dt = _shape_arg(size, "ones"), _float_dtype(dtype, "ones")
    return _made(lambda m: m.ones(shape, dt), device, requires_grad, "ones")


@allocates("empty")
def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dt = _shape_arg(size, "empty"), _float_dtype(dtype, "empty")
    return _made(lambda m: m.empty(shape, dt), device, requires_grad, "empty")


@allocates("full")
def full(
    size: Any, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    if dtype is None:
        dtype = (
            bool_
            if isinstance(fill_value, bool)
            else int64
            if isinstance(fill_value, (int, np.integer))
            else get_default_dtype()
        )
    shape = _shape_arg((size,) if not isinstance(size, (tuple, list)) else tuple(size), "full")
    dt = check_dtype(dtype, "full")
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _made(lambda m: m.full(shape, fill_value, dt), device, requires_grad, "full")


def _like(t: Any, dtype: Any) -> tuple:
    if not isinstance(t, Tensor):
        t = as_tensor(t)
    return t.array.shape, (t.array.dtype if dtype is None else check_dtype(dtype, "like")), t.device


def _laid_out(out: Tensor, like: Any, fmt: Any, op: str) -> Tensor:
    """`out` (a fresh C-ordered tensor) with its array in the layout `fmt` asks for:
    preserve_format keeps a channels-last input's layout, channels_last(_3d) imposes it."""
    if fmt is preserve_format:
        like = like if isinstance(like, Tensor) else as_tensor(like)
        fmt = next(
            (f for f in CHANNELS_LAST_ORDER if not like.is_contiguous() and like.is_contiguous(f)),
            contiguous_format,
        )
    if not isinstance(fmt, memory_format):
        raise TypeError(
            f"[{op}] memory_format must be a pyfastdl memory format, got {type(fmt).__name__}"
        )
    if fmt is contiguous_format:
        return out
    order = CHANNELS_LAST_ORDER[fmt]
    a = out.array
    if a.ndim != len(order):
        raise RuntimeError(
            f"[{op}] required rank {len(order)} tensor to use {fmt!r} format, got {a.ndim} dims"
        )
    m = xp(a)
    inverse = tuple(int(i) for i in np.argsort(order))
    out.array = m.ascontiguousarray(a.transpose(order)).transpose(inverse)
    return out


@allocates("zeros_like")
def zeros_like(
    t: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    *,
    memory_format: Any = preserve_format,
) -> Tensor:
    shape, dt, dev = _like(t, dtype)
    out = zeros(
        shape, dtype=dt, device=dev if device is None else device, requires_grad=requires_grad
    )
    return _laid_out(out, t, memory_format, "zeros_like")


@allocates("ones_like")
def ones_like(
    t: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    *,
    memory_format: Any = preserve_format,
) -> Tensor:
    shape, dt, dev = _like(t, dtype)
    out = ones(
        shape, dtype=dt, device=dev if device is None else device, requires_grad=requires_grad
    )
    return _laid_out(out, t, memory_format, "ones_like")


@allocates("empty_like")
def empty_like(
    t: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    *,
    memory_format: Any = preserve_format,
) -> Tensor:
    shape, dt, dev = _like(t, dtype)
    out = empty(
        shape, dtype=dt, device=dev if device is None else device, requires_grad=requires_grad
    )
    return _laid_out(out, t, memory_format, "empty_like")


@allocates("full_like")
def full_like(
    t: Any,
    fill_value: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    *,
    memory_format: Any = preserve_format,
) -> Tensor:
    shape, dt, dev = _like(t, dtype)
    out = full(
        shape,
        fill_value,
        dtype=dt,
        device=dev if device is None else device,
        requires_grad=requires_grad,
    )
    return _laid_out(out, t, memory_format, "full_like")


@allocates("rand")
def rand(
    *size: Any,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform samples on [0, 1)."""
    dt = _float_dtype(dtype, "rand")
    arr = numpy_rng(generator).random(_shape_arg(size, "rand"), dtype=np.float64).astype(dt)
    return _factory(arr, device, requires_grad, "rand")


@allocates("randn")
def randn(
    *size: Any,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Standard normal samples."""
    dt = _float_dtype(dtype, "randn")
    arr = numpy_rng(generator).standard_normal(_shape_arg(size, "randn")).astype(dt)
    return _factory(arr, device, requires_grad, "randn")


@allocates("randint")
def randint(
    low: Any,
    high: Any = None,
    size: Any = None,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Integers uniform on [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("[randint] expected randint(high, size) or randint(low, high, size)")
        low, high, size = 0, low, high
    if high <= low:
        raise ValueError(f"[randint] high must be greater than low, got low={low}, high={high}")
    shape = _shape_arg(tuple(size) if isinstance(size, (tuple, list)) else (size,), "randint")
    arr = (
        numpy_rng(generator)
        .integers(low, high, shape)
        .astype(check_dtype(dtype or int64, "randint"))
    )
    return _factory(arr, device, requires_grad, "randint")


@allocates("rand_like")
def rand_like(
    t: Any, dtype: Any = None, device: Any = None, *, memory_format: Any = preserve_format
) -> Tensor:
    shape, dt, dev = _like(t, dtype)
    return _laid_out(
        rand(shape, dtype=dt, device=dev if device is None else device),
        t,
        memory_format,
        "rand_like",
    )


@allocates("randn_like")
def randn_like(
    t: Any, dtype: Any = None, device: Any = None, *, memory_format: Any = preserve_format
) -> Tensor:
    shape, dt, dev = _like(t, dtype)
    return _laid_out(
        randn(shape, dtype=dt, device=dev if device is None else device),
        t,
        memory_format,
        "randn_like",
    )


@allocates("randint_like")
def randint_like(
    t: Any, low: Any, high: Any = None, dtype: Any = None, device: Any = None
) -> Tensor:
    shape, dt, dev = _like(t, dtype)
    if high is None:
        low, high = 0, low
    return randint(low, high, shape, dtype=dt, device=dev if device is None else device)


@allocates("randperm")
def randperm(
    n: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None
) -> Tensor:
    if n < 0:
        raise ValueError(f"[randperm] n must be non-negative, got {n}")
    arr = numpy_rng(generator).permutation(int(n)).astype(check_dtype(dtype or int64, "randperm"))
    return _factory(arr, device, False, "randperm")


@allocates("arange")
def arange(
    start: Any,
    end: Any = None,
    step: Any = 1,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Values from `start` to `end` (exclusive) by `step`; ``arange(end)`` starts at 0."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("[arange] step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(
            f"[arange] the bounds ({start}, {end}) and the step {step} have opposite signs"
        )
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = int64 if ints else get_default_dtype()
    dt = check_dtype(dtype, "arange")
    return _made(lambda m: m.arange(start, end, step).astype(dt), device, requires_grad, "arange")


@allocates("linspace")
def linspace(
    start: Any,
    end: Any,
    steps: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    if steps < 0:
        raise ValueError(f"[linspace] steps must be non-negative, got {steps}")
    dt = _float_dtype(dtype, "linspace")
    return _made(
        lambda m: m.linspace(start, end, int(steps)).astype(dt), device, requires_grad, "linspace"
    )


@allocates("eye")
def eye(
    n: Any, m: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    if n < 0 or (m is not None and m < 0):
        raise ValueError(f"[eye] sizes must be non-negative, got n={n}, m={m}")
    dt = _float_dtype(dtype, "eye")
    return _made(lambda xm: xm.eye(n, m, dtype=dt), device, requires_grad, "eye")

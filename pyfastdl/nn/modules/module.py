"""Module: the base class of layers and models (PyTorch's ``nn.Module``).

Assigning a :class:`Parameter`, a ``Module`` or (through :meth:`Module.register_buffer`) a buffer
as an attribute registers it, so that ``parameters()``, ``state_dict()``, ``to()``, ``train()``
and ``repr()`` find it; names and key order are PyTorch's, so state dicts carry over both ways.

pyfastdl adds per-module kernel choices: ``module.use_kernels(gemm="reference")`` runs the
module's forward and backward passes (and its children's) with those kernel versions.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = nn.Linear(4, 2)
    ...     def forward(self, x):
    ...         return self.fc(x)
    >>> net = Net()
    >>> list(net.state_dict())
    ['fc.weight', 'fc.bias']
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ... import kernels
from ...arrays import to_gpu, xp
from ...autograd import RemovableHandle, _HookDict
from ...dtypes import check_dtype, float16, float32, float64
from ...kernels import trace as _trace
from ...ops.convert import with_memory_format
from ...tensor import Tensor, _is_cupy, _place
from ...tensor import device as _device
from ..parameter import Parameter

__all__ = ["Module", "RemovableHandle"]


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it did not find and the keys it did not use."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _addindent(s: str, num_spaces: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    first = lines.pop(0)
    return first + "\n" + "\n".join(" " * num_spaces + line for line in lines)


def _check_name(name: Any, kind: str, op: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"[{op}] {kind} name should be a string, got {type(name).__name__}")
    if name == "":
        raise KeyError(f'[{op}] {kind} name can\'t be empty string ""')
    if "." in name:
        raise KeyError(f"[{op}] {kind} name can't contain \".\", got '{name}'")


def _as_array(value: Any, key: str, like: Any, move: bool = True) -> Any:
    """`value` (Tensor, ndarray, or anything with __array__ / __dlpack__) as an array on `like`'s
    device (on its own device when not `move`)."""
    if isinstance(value, Tensor):
        arr = value.array
    elif isinstance(value, np.ndarray) or _is_cupy(value):
        arr = value
    elif hasattr(value, "__dlpack__") or hasattr(value, "__array__"):
        arr = None
        if hasattr(value, "__dlpack__"):
            try:
                arr = np.from_dlpack(value)
            except (BufferError, RuntimeError, TypeError, ValueError):
                arr = None
        if arr is None:
            if not hasattr(value, "__array__"):
                raise TypeError(
                    f"[load_state_dict] value for '{key}' ({type(value).__name__}) "
                    "could not be read through __dlpack__ and has no __array__"
                )
            arr = np.asarray(value)
    else:
        raise TypeError(
            f"[load_state_dict] value for '{key}' is a {type(value).__name__}: expected "
            "a Tensor, a NumPy array, or an object with __array__ or __dlpack__"
        )
    if not move:
        return arr
    if isinstance(like, np.ndarray) and _is_cupy(arr):
        arr = arr.get()
    elif _is_cupy(like) and not _is_cupy(arr):
        arr = to_gpu(np.asarray(arr), "load_state_dict")
    return arr


def _parse_to(args: tuple, kwargs: dict) -> tuple[Any, Any]:
    """(device, dtype) from ``to(device)``, ``to(dtype)``, ``to(tensor)`` or keyword arguments."""
    dev = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"[Module.to] unexpected arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dev, dtype = a.device, a.dtype
        elif isinstance(a, _device) or (isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda")):
            dev = a
        elif a is not None and not isinstance(a, bool):
            dtype = a
    if dtype is not None:
        dtype = check_dtype(dtype, "Module.to")
        if dtype.kind not in "fc":
            raise TypeError(
                "[Module.to] nn.Module.to only accepts floating point dtypes, but got "
                f"desired dtype={dtype}"
            )
    if dev is not None:
        dev = _device(dev).type
    return dev, dtype


class Module:
    """Base class of every layer and model; subclasses define ``forward``.

    Attributes assigned in ``__init__`` that are Parameters, Modules or registered buffers are
    tracked by name (see the module docstring); calling the module runs forward pre-hooks,
    ``forward``, then forward hooks.
    """

    training: bool
    _version = 1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise TypeError(f"[Module] {type(self).__name__}.__init__() got unexpected arguments")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_pre_hooks"] = _HookDict()
        d["_forward_pre_hooks_with_kwargs"] = set()
        d["_forward_hooks"] = _HookDict()
        d["_forward_hooks_with_kwargs"] = set()
        d["_kernel_overrides"] = {}

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f'[Module] Module [{type(self).__name__}] is missing the required "forward" function'
        )

    # ------------------------------------------------------------------ registration
    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Adds a parameter (or None, which state_dict skips) under `name`."""
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                "[register_parameter] cannot assign parameters before Module.__init__() call"
            )
        _check_name(name, "parameter", "register_parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"[register_parameter] attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"[register_parameter] cannot assign '{type(param).__name__}' object to "
                f"parameter '{name}' (pyfastdl.nn.Parameter or None required)"
            )
        if param is not None and param.grad_fn is not None:
            raise ValueError(
                f"[register_parameter] cannot assign non-leaf Tensor to parameter "
                f"'{name}'; use .detach() on it first"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Adds a tensor that is module state but not a parameter (e.g. running statistics).

        Persistent buffers are in the state dict; non-persistent ones are not.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError(
                "[register_buffer] cannot assign buffer before Module.__init__() call"
            )
        _check_name(name, "buffer", "register_buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"[register_buffer] attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"[register_buffer] cannot assign '{type(tensor).__name__}' object to "
                f"buffer '{name}' (Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Adds a child module under `name` (what ``self.name = module`` does)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"[add_module] {type(module).__name__} is not a Module subclass")
        _check_name(name, "module", "add_module")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"[add_module] attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path `target` ("" is self)."""
        mod: Module = self
        if target == "":
            return mod
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(f"[get_submodule] {mod._get_name()} has no attribute `{item}`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise TypeError(f"[get_submodule] `{item}` is not an nn.Module")
        return mod

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError(
                    "[Module] cannot assign parameters before Module.__init__() call"
                )
            self._remove_from(
                name, d, d["_buffers"], d["_modules"], d["_non_persistent_buffers_set"]
            )
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"[Module] cannot assign '{type(value).__name__}' as parameter "
                    f"'{name}' (pyfastdl.nn.Parameter or None expected)"
                )
            self.register_parameter(name, value)
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("[Module] cannot assign module before Module.__init__() call")
            self._remove_from(
                name, d, d["_parameters"], d["_buffers"], d["_non_persistent_buffers_set"]
            )
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"[Module] cannot assign '{type(value).__name__}' as child module "
                    f"'{name}' (pyfastdl.nn.Module or None expected)"
                )
            modules[name] = value
            return
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"[Module] cannot assign '{type(value).__name__}' as buffer "
                    f"'{name}' (Tensor or None expected)"
                )
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    @staticmethod
    def _remove_from(name: str, *containers: Any) -> None:
        for c in containers:
            if name in c:
                if isinstance(c, set):
                    c.discard(name)
                else:
                    del c[name]

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            store = d.get(key)
            if store is not None and name in store:
                return store[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        if name in d.get("_parameters", ()):
            del d["_parameters"][name]
        elif name in d.get("_buffers", ()):
            del d["_buffers"][name]
            d["_non_persistent_buffers_set"].discard(name)
        elif name in d.get("_modules", ()):
            del d["_modules"][name]
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        keys = list(object.__dir__(self))
        keys += list(self._parameters) + list(self._modules) + list(self._buffers)
        return sorted(k for k in set(keys) if not k[0].isdigit())

    # ------------------------------------------------------------------ traversal
    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for self and every descendant, each once, parents first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(
        self, get_members: Callable, prefix: str, recurse: bool, remove_duplicate: bool
    ) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        mods = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        for mod_prefix, mod in mods:
            for name, value in get_members(mod):
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + name, value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs; a parameter shared by two modules appears once."""
        return self._named_members(
            lambda m: m._parameters.items(), prefix, recurse, remove_duplicate
        )

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ------------------------------------------------------------------ state dict
    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()

    def state_dict(
        self, *, destination: dict | None = None, prefix: str = "", keep_vars: bool = False
    ) -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name (``'0.weight'``, ``'fc1.bias'``).

        The values share memory with the module's tensors, detached from the graph unless
        `keep_vars` is True.
        """
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(
                    destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars
                )
        return destination

    def _load_from_state_dict(
        self,
        state_dict: dict,
        prefix: str,
        local_metadata: dict,
        strict: bool,
        missing_keys: list,
        unexpected_keys: list,
        error_msgs: list,
    ) -> None:
        """Loads this module's own entries of `state_dict` (keys starting with `prefix`)."""
        persistent = {
            k: v for k, v in self._buffers.items() if k not in self._non_persistent_buffers_set
        }
        local = {
            k: v
            for k, v in itertools.chain(self._parameters.items(), persistent.items())
            if v is not None
        }
        assign = local_metadata.get("assign_to_params_buffers", False)
        for name, target in local.items():
            key = prefix + name
            if key not in state_dict:
                missing_keys.append(key)
                continue
            # assign keeps the state dict's tensors as they are (their device), as in PyTorch;
            # a copy goes to the target's device
            value = _as_array(state_dict[key], key, target.array, move=not assign)
            if tuple(value.shape) != tuple(target.array.shape):
                error_msgs.append(
                    f"size mismatch for {key}: expected {tuple(target.array.shape)}, "
                    f"got {tuple(value.shape)}"
                )
                continue
            if assign:
                target.array = value
            else:
                target.array[...] = value  # in place: optimizers keep their references
        if strict:
            for key in state_dict:
                if not key.startswith(prefix):
                    continue
                name = key[len(prefix) :].split(".", 1)[0]
                if name not in self._modules and name not in local:
                    unexpected_keys.append(key)

    def load_state_dict(
        self, state_dict: Any, strict: bool = True, assign: bool = False
    ) -> _IncompatibleKeys:
        """Copies values from `state_dict` into this module's parameters and buffers, in place.

        Values may be Tensors, NumPy arrays, or anything with ``__array__`` / ``__dlpack__`` (a
        PyTorch state dict loads directly); they are cast to each target's dtype. Returns the
        missing and unexpected keys; with `strict` (default) either list is an error. A shape
        mismatch is always an error. With `assign` the module takes the loaded arrays instead.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(
                f"[load_state_dict] expected a mapping, got {type(state_dict).__name__}"
            )
        state_dict = OrderedDict((k, state_dict[k]) for k in state_dict)
        missing: list[str] = []
        unexpected: list[str] = []
        errors: list[str] = []

        def load(module: Module, local_state: dict, prefix: str) -> None:
            meta = {"assign_to_params_buffers": True} if assign else {}
            module._load_from_state_dict(
                local_state, prefix, meta, True, missing, unexpected, errors
            )
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(
                        child,
                        {k: v for k, v in local_state.items() if k.startswith(child_prefix)},
                        child_prefix,
                    )

        load(self, state_dict, "")
        if strict:
            if unexpected:
                errors.insert(
                    0, "unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected)
                )
            if missing:
                errors.insert(
                    0, "missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing)
                )
        if errors:
            raise RuntimeError("[load_state_dict] " + "; ".join(errors))
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ modes and conversion
    def train(self, mode: bool = True) -> Module:
        """Sets training mode (dropout active, batch statistics) on self and every descendant."""
        if not isinstance(mode, bool):
            raise TypeError(f"[train] training mode is expected to be boolean, got {mode!r}")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Turns gradient recording of every parameter on or off (freeze layers with False)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Resets the gradients of every parameter: to None (default) or to zeros."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                # A fresh zero array rather than zeroing in place: a gradient array may be shared
                # with another tensor's (the engine hands the same array to several leaves).
                g = p.grad.array
                p.grad = Tensor(xp(g).zeros_like(g))

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Calls ``fn(module)`` on every descendant (children first), then on self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def _apply(self, convert: Callable[[Any], Any]) -> Module:
        """Replaces the array of every parameter, gradient and buffer by ``convert(array)``.

        Parameter objects keep their identity (optimizers hold references to them).
        """
        for module in self.modules():
            for t in itertools.chain(module._parameters.values(), module._buffers.values()):
                if t is None:
                    continue
                t.array = convert(t.array)
                if t.grad is not None:
                    t.grad.array = convert(t.grad.array)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Moves and/or casts parameters and buffers: ``to('cuda')``, ``to(fd.float64)``, in place.

        Only floating-point tensors change dtype (integer buffers keep theirs);
        ``memory_format=`` lays out the 4-d and 5-d ones (``fd.channels_last``).
        """
        kwargs = dict(kwargs)
        fmt = kwargs.pop("memory_format", None)
        dev, dtype = _parse_to(args, kwargs)

        def convert(a: Any) -> Any:
            if dtype is not None and a.dtype.kind in "fc" and a.dtype != dtype:
                a = a.astype(dtype)
            a = _place(a, dev)
            if fmt is not None and a.ndim in (4, 5):
                a = with_memory_format(Tensor(a), fmt, "Module.to").array
            return a

        return self._apply(convert)

    def float(self) -> Module:
        return self.to(float32)

    def double(self) -> Module:
        return self.to(float64)

    def half(self) -> Module:
        return self.to(float16)

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Module:
        return self.to("cuda")

    def type(self, dst_type: Any) -> Module:
        return self._apply(lambda a: a.astype(check_dtype(dst_type, "Module.type")))

    # ------------------------------------------------------------------ kernels
    def use_kernels(self, **overrides: Any) -> Module:
        """Runs this module's forward pass (children included) with the given kernel versions.

        ``model.fc1.use_kernels(gemm="reference")`` makes GEMMs inside ``fc1``'s forward run in
        NumPy; choices follow the rules of :func:`pyfastdl.kernels.use` (a version name, an
        ``"op/version"`` name or a function). ``use_kernels()`` with no arguments clears them.
        The choices hold in the backward pass too: each operation recorded inside the module
        remembers them and its backward runs with them. Returns the module.

        Example:
            >>> from pyfastdl import nn
            >>> layer = nn.Linear(3, 2).use_kernels(gemm="reference")
        """
        if overrides:
            kernels.validate(overrides)
        self.__dict__["_kernel_overrides"] = dict(overrides)
        return self

    @property
    def kernel_overrides(self) -> dict:
        """The kernel choices set with :meth:`use_kernels` (a copy)."""
        return dict(self._kernel_overrides)

    # ------------------------------------------------------------------ calling and hooks
    def register_forward_pre_hook(
        self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """``hook(module, args)`` (or ``hook(module, args, kwargs)``) runs before forward.

        It may return replacement args (a tuple, or a single value) -- with `with_kwargs`, an
        ``(args, kwargs)`` pair.
        """
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs.add(handle.id)
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(
        self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """``hook(module, args, output)`` (or with kwargs) runs after forward; may replace output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs.add(handle.id)
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    def _is_plain(self) -> bool:
        """No hooks and no kernel overrides: calling the module is calling forward. Not while
        kernels.shadow / detect_anomaly listen: then a call also names the module's ops, so a
        container does not fuse it into its neighbour (Sequential's Linear + activation)."""
        return not (
            self._forward_pre_hooks
            or self._forward_hooks
            or self._kernel_overrides
            or _trace.listening
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        d = self.__dict__
        if not (d["_forward_pre_hooks"] or d["_forward_hooks"] or d["_kernel_overrides"]):
            if not _trace.listening:
                return self.forward(*args, **kwargs)
        if _trace.listening:  # kernels.shadow / detect_anomaly: ops inside name this module
            with _trace.in_module(self):
                return self._call_with_hooks(args, kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        d = self.__dict__
        for hook_id, hook in list(d["_forward_pre_hooks"].items()):
            if hook_id in d["_forward_pre_hooks_with_kwargs"]:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            "[Module] a forward pre-hook with kwargs must return "
                            f"None or an (args, kwargs) pair, got {result!r}"
                        )
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        if d["_kernel_overrides"]:
            with kernels.scope(d["_kernel_overrides"]):
                output = self.forward(*args, **kwargs)
        else:
            output = self.forward(*args, **kwargs)
        for hook_id, hook in list(d["_forward_hooks"].items()):
            if hook_id in d["_forward_hooks_with_kwargs"]:
                result = hook(self, args, kwargs, output)
            else:
                result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    # ------------------------------------------------------------------ printing
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (override in subclasses)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [
            f"({key}): " + _addindent(repr(module), 2) for key, module in self._modules.items()
        ]
        lines = extra_lines + child_lines
        body = ""
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                body = extra_lines[0]
            else:
                body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

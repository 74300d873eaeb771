"""Parametrizations (PyTorch's ``torch.nn.utils.parametrize``): a tensor computed from others.

``register_parametrization(module, "weight", p)`` replaces the parameter ``module.weight`` by
the output of ``p(original)``, recomputed at every access. The originals live in
``module.parametrizations.weight`` (a ParametrizationList): ``original`` or, when
``p.right_inverse`` returns a tuple, ``original0``, ``original1``, ..., so the state-dict keys
are PyTorch's (``parametrizations.weight.original0``). The module's class is swapped for a
subclass ``Parametrized<Class>`` that holds the property, as in PyTorch.

A parametrization is an ordinary nn.Module (PyTorch's rule): nn.utils sits above nn.modules
and nn.parameter and imports nn.Module and nn.Parameter directly.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> from pyfastdl.nn.utils import parametrize
    >>> class Symmetric(nn.Module):  # W = A + A^T
    ...     def forward(self, a):
    ...         return a + a.transpose(0, 1)
    >>> layer = nn.Linear(3, 3)
    >>> _ = parametrize.register_parametrization(layer, "weight", Symmetric())
    >>> bool((layer.weight.array == layer.weight.array.T).all())
    True
    >>> sorted(layer.state_dict())
    ['bias', 'parametrizations.weight.original']
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ...autograd import no_grad
from ...tensor import Tensor
from ..modules.module import Module
from ..parameter import Parameter

__all__ = [
    "ParametrizationList",
    "cached",
    "is_parametrized",
    "register_parametrization",
    "remove_parametrizations",
    "type_before_parametrizations",
]


class ParametrizationList(Module):
    """The chain of parametrizations of one tensor and its originals.

    Its children are the parametrizations ("0", "1", ...), applied in that order.
    """

    def __init__(self, modules: list, original: Tensor, unsafe: bool = False) -> None:
        super().__init__()
        self.unsafe = unsafe
        for m in modules:
            self.add_module(str(len(self._modules)), m)
        with no_grad():
            new = original
            for m in reversed(list(self._modules.values())):
                if hasattr(m, "right_inverse"):
                    new = m.right_inverse(new)
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        grad = original.requires_grad
        if self.is_tensor:
            if new is not original:
                if tuple(new.shape) != tuple(original.shape) or new.dtype != original.dtype:
                    raise ValueError(
                        "[register_parametrization] when `right_inverse` outputs one tensor, it "
                        "may not change the shape or dtype of the original"
                    )
                original.array[...] = new.array
            self._keep("original", original, grad)
        else:
            for i, t in enumerate(new):
                if not isinstance(t, Tensor):
                    raise ValueError(
                        "[register_parametrization] 'right_inverse' must return a Tensor or a "
                        f"sequence of tensors, got an element of type {type(t).__name__}"
                    )
                self._keep(f"original{i}", Tensor(t.array.copy()), grad)

    def _keep(self, name: str, t: Tensor, grad: bool) -> None:
        if isinstance(t, Parameter):
            self.register_parameter(name, t)
        elif grad:
            self.register_parameter(name, Parameter(t.array, requires_grad=True))
        else:
            self.register_buffer(name, t)

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, i: int) -> Any:
        return list(self._modules.values())[i]

    def __iter__(self) -> Any:
        return iter(self._modules.values())

    def append(self, module: Any) -> None:
        self.add_module(str(len(self._modules)), module)

    def originals(self) -> tuple:
        if self.is_tensor:
            return (self.original,)
        return tuple(getattr(self, f"original{i}") for i in range(self.ntensors))

    def right_inverse(self, value: Tensor) -> None:
        """Sets the originals so that the parametrized tensor becomes `value`."""
        with no_grad():
            for m in reversed(list(self._modules.values())):
                if not hasattr(m, "right_inverse"):
                    raise RuntimeError(
                        f"[parametrize] parametrization {type(m).__name__} does not implement "
                        "right_inverse"
                    )
                value = m.right_inverse(value)
            values = (value,) if self.is_tensor else tuple(value)
            for orig, v in zip(self.originals(), values):
                orig.array[...] = v.array

    def forward(self) -> Tensor:
        mods = list(self._modules.values())
        x = mods[0](*self.originals())
        for m in mods[1:]:
            x = m(x)
        return x


class _Parametrizations(Module):
    """``module.parametrizations``: one ParametrizationList per tensor name."""

    def forward(self, *args: Any) -> Any:
        raise RuntimeError("[parametrize] module.parametrizations is a container, not a layer")


def is_parametrized(module: Any, tensor_name: str | None = None) -> bool:
    """Whether `module` has a parametrization (on `tensor_name`, when given)."""
    plist = module.__dict__.get("_modules", {}).get("parametrizations")
    if plist is None:
        return False
    return len(plist._modules) > 0 if tensor_name is None else tensor_name in plist._modules


def type_before_parametrizations(module: Any) -> type:
    """The class of `module` before any parametrization was registered."""
    cls = type(module)
    return cls.__bases__[0] if is_parametrized(module) else cls


def _inject_class(module: Any) -> None:
    cls = type(module)
    new = type(f"Parametrized{cls.__name__}", (cls,), {"__module__": cls.__module__})
    module.__class__ = new


_CACHE: dict = {"depth": 0, "values": {}}


@contextmanager
def cached() -> Iterator[None]:
    """Within the block, each parametrized tensor is computed once (on first access) and reused.

    Example:
        >>> from pyfastdl import nn
        >>> from pyfastdl.nn.utils import parametrizations, parametrize
        >>> layer = parametrizations.weight_norm(nn.Linear(3, 2))
        >>> with parametrize.cached():
        ...     layer.weight is layer.weight
        True
    """
    _CACHE["depth"] += 1
    try:
        yield
    finally:
        _CACHE["depth"] -= 1
        if not _CACHE["depth"]:
            _CACHE["values"].clear()


def _inject_property(module: Any, name: str) -> None:
    def get(self: Any) -> Tensor:
        if not _CACHE["depth"]:
            return self.parametrizations._modules[name]()
        key = (id(self), name)
        if key not in _CACHE["values"]:
            _CACHE["values"][key] = self.parametrizations._modules[name]()
        return _CACHE["values"][key]

    def set_(self: Any, value: Tensor) -> None:
        self.parametrizations._modules[name].right_inverse(value)

    setattr(type(module), name, property(get, set_))


def register_parametrization(
    module: Any, tensor_name: str, parametrization: Any, *, unsafe: bool = False
) -> Any:
    """Makes ``module.<tensor_name>`` the output of `parametrization` on the original tensor."""
    op = "register_parametrization"
    if not isinstance(parametrization, Module):
        raise TypeError(f"[{op}] parametrization must be an nn.Module, got {type(parametrization)}")
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations._modules[tensor_name]
        if not unsafe:
            y = plist()
            z = parametrization(y)
            if tuple(z.shape) != tuple(y.shape) or z.dtype != y.dtype:
                raise ValueError(
                    f"[{op}] registering a parametrization may not change the shape or dtype "
                    f"of the tensor: {tuple(y.shape)} {y.dtype} -> {tuple(z.shape)} {z.dtype}"
                )
        plist.append(parametrization)
        return module
    d = module.__dict__
    if tensor_name in d["_parameters"]:
        original = d["_parameters"].pop(tensor_name)
    elif tensor_name in d["_buffers"]:
        original = d["_buffers"].pop(tensor_name)
    else:
        raise ValueError(
            f"[{op}] module '{module._get_name()}' has no parameter or buffer with name "
            f"'{tensor_name}'"
        )
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    if not unsafe:
        y = plist()
        if tuple(y.shape) != tuple(original.shape) or y.dtype != original.dtype:
            raise ValueError(
                f"[{op}] a parametrization may not change the shape or dtype of the tensor, "
                f"unless unsafe=True: {tuple(original.shape)} -> {tuple(y.shape)}"
            )
    if not is_parametrized(module):
        _inject_class(module)
        if "parametrizations" not in d["_modules"]:
            module.add_module("parametrizations", _Parametrizations())
    module.parametrizations.add_module(tensor_name, plist)
    _inject_property(module, tensor_name)
    return module


def remove_parametrizations(module: Any, tensor_name: str, leave_parametrized: bool = True) -> Any:
    """Removes the parametrizations of `tensor_name`: the tensor becomes a plain parameter again
    holding its parametrized value (``leave_parametrized``) or the original."""
    op = "remove_parametrizations"
    if not is_parametrized(module, tensor_name):
        raise ValueError(
            f"[{op}] module {module._get_name()} does not have a parametrization on {tensor_name}"
        )
    plist = module.parametrizations._modules[tensor_name]
    if leave_parametrized:
        with no_grad():
            value = plist()
        new = Parameter(value.array.copy(), requires_grad=plist.originals()[0].requires_grad)
    elif plist.is_tensor:
        new = plist.original
    else:
        raise ValueError(
            f"[{op}] cannot leave unparametrized (`leave_parametrized=False`) a tensor that is "
            "parametrized in terms of a sequence of tensors"
        )
    delattr(type(module), tensor_name)
    del module.parametrizations._modules[tensor_name]
    if isinstance(new, Parameter):
        module.register_parameter(tensor_name, new)
    else:
        module.register_buffer(tensor_name, new)
    if not is_parametrized(module):
        del module._modules["parametrizations"]
        module.__class__ = type(module).__bases__[0]
    return module

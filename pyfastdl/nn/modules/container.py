"""Containers: Sequential, ModuleList, ModuleDict, ParameterList (PyTorch's names and behaviour).

``Sequential`` runs a Linear directly followed by ReLU, Sigmoid or Tanh as one GEMM with the
activation in its epilogue (``F.linear_act``): same values, same gradients, one pass over the
output instead of two.

Example:
    >>> from pyfastdl import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> len(model), type(model[0]).__name__, len(model[1:])
    (3, 'Linear', 2)
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain, islice
from typing import Any

from .. import functional as F
from ..parameter import Parameter
from .activation import ReLU, Sigmoid, Tanh
from .linear import Linear
from .module import Module, _addindent

__all__ = ["ModuleDict", "ModuleList", "ParameterList", "Sequential"]

# The activations that Sequential folds into the preceding Linear's GEMM epilogue.
_FUSABLE = {ReLU: "relu", Sigmoid: "sigmoid", Tanh: "tanh"}


def _index(idx: Any, size: int, op: str) -> int:
    try:
        i = operator.index(idx)
    except TypeError:
        raise TypeError(
            f"[{op}] indices must be integers or slices, got {type(idx).__name__}"
        ) from None
    if not -size <= i < size:
        raise IndexError(f"[{op}] index {i} is out of range for {size} modules")
    return i + size if i < 0 else i


class Sequential(Module):
    """Modules applied one after another: ``Sequential(m0, m1, ...)`` or ``Sequential(OrderedDict)``.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> model = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
        >>> model(fd.randn(2, 3)).shape
        (2, 4)
    """

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for key, module in args[0].items():
                self.add_module(key, module)
        else:
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return self.__class__(OrderedDict(list(self._modules.items())[idx]))
        i = _index(idx, len(self), "Sequential")
        return next(islice(self._modules.values(), i, None))

    def __setitem__(self, idx: Any, module: Module) -> None:
        key = list(self._modules)[_index(idx, len(self), "Sequential")]
        self.add_module(key, module)

    def __delitem__(self, idx: Any) -> None:
        keys = list(self._modules)
        if isinstance(idx, slice):
            for key in keys[idx]:
                del self._modules[key]
        else:
            del self._modules[keys[_index(idx, len(self), "Sequential")]]
        # Renumber so that integer keys stay 0..n-1 (as PyTorch does).
        self.__dict__["_modules"] = OrderedDict(
            (str(i), m) for i, m in enumerate(self._modules.values())
        )

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __add__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise TypeError(
                "[Sequential] add operator supports only objects of Sequential class, "
                f"got {type(other).__name__}"
            )
        return Sequential(*self, *other)

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        if not isinstance(module, Module):
            raise TypeError(
                f"[Sequential] module should be of type Module, got {type(module).__name__}"
            )
        n = len(self)
        if not -n <= index <= n:
            raise IndexError(f"[Sequential] index {index} is out of range for {n} modules")
        if index < 0:
            index += n
        items = list(self._modules.values())
        items.insert(index, module)
        self.__dict__["_modules"] = OrderedDict((str(i), m) for i, m in enumerate(items))
        return self

    def pop(self, index: int = -1) -> Module:
        module = self[index]
        del self[index]
        return module

    def forward(self, input: Any) -> Any:
        mods = [m for m in self._modules.values() if m is not None]
        i = 0
        n = len(mods)
        while i < n:
            m = mods[i]
            if i + 1 < n and type(m) is Linear:
                act = _FUSABLE.get(type(mods[i + 1]))
                if act is not None and m._is_plain() and mods[i + 1]._is_plain():
                    input = F.linear_act(input, m.weight, m.bias, act)
                    i += 2
                    continue
            input = m(input)
            i += 1
        return input


class ModuleList(Module):
    """A list of modules, registered so that their parameters are found.

    Example:
        >>> from pyfastdl import nn
        >>> layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
        >>> len(list(layers.parameters()))
        6
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return self.__class__(list(self._modules.values())[idx])
        return self._modules[str(_index(idx, len(self), "ModuleList"))]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx: Any) -> None:
        if isinstance(idx, slice):
            for k in range(len(self._modules))[idx]:
                del self._modules[str(k)]
        else:
            del self._modules[str(_index(idx, len(self), "ModuleList"))]
        self.__dict__["_modules"] = OrderedDict(
            (str(i), m) for i, m in enumerate(self._modules.values())
        )

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:  # noqa: PYI034
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList(chain(self, other))

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        if isinstance(modules, (Module, str)) or not hasattr(modules, "__iter__"):
            raise TypeError(
                "[ModuleList] extend should be called with an iterable, but got "
                f"{type(modules).__name__}"
            )
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        items = list(self._modules.values())
        items.insert(index, module)
        self.__dict__["_modules"] = OrderedDict()
        for i, m in enumerate(items):
            self.add_module(str(i), m)

    def pop(self, index: int = -1) -> Module:
        module = self[index]
        del self[index]
        return module

    def __repr__(self) -> str:
        # PyTorch's format: runs of identical consecutive reprs are printed once, "(0-2): 3 x ...".
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        groups: list[list[int]] = [[0, 0]]
        for i in range(1, len(reprs)):
            if reprs[i] == reprs[groups[-1][0]]:
                groups[-1][1] = i
            else:
                groups.append([i, i])
        lines = []
        for start, end in groups:
            text = _addindent(reprs[start], 2)
            if start == end:
                lines.append(f"({start}): {text}")
            else:
                lines.append(f"({start}-{end}): {end - start + 1} x {text}")
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("[ModuleList] ModuleList has no forward: iterate over it instead")


class ModuleDict(Module):
    """An ordered dict of modules, registered so that their parameters are found.

    Example:
        >>> from pyfastdl import nn
        >>> heads = nn.ModuleDict({"cls": nn.Linear(4, 2), "reg": nn.Linear(4, 1)})
        >>> list(heads.keys())
        ['cls', 'reg']
    """

    def __init__(
        self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None
    ) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def clear(self) -> None:
        self._modules.clear()

    def pop(self, key: str) -> Module:
        module = self[key]
        del self[key]
        return module

    def keys(self) -> Any:
        return self._modules.keys()

    def items(self) -> Any:
        return self._modules.items()

    def values(self) -> Any:
        return self._modules.values()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        if isinstance(modules, (Mapping, ModuleDict)):
            for key, module in modules.items():
                self[key] = module
            return
        for j, item in enumerate(modules):
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise ValueError(
                    f"[ModuleDict] update sequence element #{j} should be a (key, module) pair"
                )
            self[item[0]] = item[1]

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("[ModuleDict] ModuleDict has no forward: index it instead")


class ParameterList(Module):
    """A list of Parameters, registered under the keys '0', '1', ...

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> params = nn.ParameterList([nn.Parameter(fd.zeros(2)) for _ in range(2)])
        >>> [name for name, _ in params.named_parameters()]
        ['0', '1']
    """

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        self.__dict__["_size"] = 0
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return self.__class__([self[i] for i in range(self._size)[idx]])
        return getattr(self, str(_index(idx, self._size, "ParameterList")))

    def __setitem__(self, idx: int, param: Any) -> None:
        key = str(_index(idx, self._size, "ParameterList"))
        setattr(self, key, param if isinstance(param, Parameter) else Parameter(param))

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(self._size))

    def __iadd__(self, params: Iterable[Any]) -> ParameterList:  # noqa: PYI034
        return self.extend(params)

    def append(self, value: Any) -> ParameterList:
        self.__dict__["_size"] += 1
        self[self._size - 1] = value
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        for v in values:
            self.append(v)
        return self

    def extra_repr(self) -> str:
        lines = []
        for i, p in enumerate(self):
            size = "x".join(str(s) for s in p.shape)
            lines.append(f"  ({i}): Parameter containing: [pyfastdl.{p.dtype} of size {size}]")
        return "\n".join(lines)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("[ParameterList] ParameterList has no forward")

"""The kernel registry: names, versions side by side, dtypes, and override scopes.

A leaf of the package: it imports no other layer, and the backends (``reference/``, ``cpu.py``)
register their kernels into it from ``kernels/__init__.py``, whose docstring gives the order in
which :func:`get` resolves a name (scoped override, global override, native default, reference).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..arrays import device_of

__all__ = [
    "register",
    "get",
    "list",
    "versions",
    "use",
    "current",
    "Override",
    "reference_of",
    "builtin_of",
    "scope",
    "validate",
    "active_scopes",
    "for_array",
]

_builtin_list = list
DEVICES = ("cpu", "cuda")

# _versions[device][name] = {version: fn}; _defaults[device][name] = version
_versions: dict[str, dict[str, dict[str, Callable]]] = {d: {} for d in DEVICES}
_defaults: dict[str, dict[str, str]] = {d: {} for d in DEVICES}
# id(fn) -> the dtypes a kernel supports, for kernels that do not take every dtype.
_dtypes: dict[int, frozenset] = {}
# Global overrides: name -> version or function.
_global: dict[str, Any] = {}


class _Scopes(threading.local):
    def __init__(self) -> None:
        self.stack: list[dict[str, Any]] = []


_scopes = _Scopes()
# Resolution caches, cleared whenever anything above changes: (name, device) -> fn, and what
# get() returned for (name, device, dtype) while no scope and no dispatch hook was in force (the
# common case, answered with one dict lookup: ops call get() once per kernel call).
_cache: dict[tuple[str, str], Callable] = {}
_resolved: dict[tuple[str, str, Any], Callable] = {}


def _invalidate() -> None:
    _cache.clear()
    _resolved.clear()


def _split(name: str) -> tuple[str, str | None]:
    op, _, version = name.partition("/")
    return op, (version or None)


def register(
    name: str,
    fn: Callable,
    device: str = "cpu",
    *,
    default: bool = False,
    dtypes: tuple[str, ...] | None = None,
) -> None:
    """Adds a kernel version.

    ``name`` is ``"op/version"`` (``"gemm/mine"``); a bare ``"op"`` registers version ``"custom"``.
    ``default=True`` makes it the version used for that op on `device` when nothing overrides it.
    ``dtypes`` lists the dtypes the kernel computes in (None: any); :func:`get` hands arrays of
    other dtypes to the reference instead (the native kernels are float32 only).
    The function must take the same arguments as the op's reference (see ``kernels.reference``).

    Example:
        >>> from pyfastdl import kernels
        >>> kernels.register("gemm/mine", kernels.reference.gemm)
        >>> "gemm/mine" in kernels.list()
        True
    """
    if device not in DEVICES:
        raise ValueError(f"[kernels.register] device must be 'cpu' or 'cuda', got {device!r}")
    if not callable(fn):
        raise TypeError(f"[kernels.register] fn must be callable, got {type(fn).__name__}")
    op, version = _split(name)
    version = version or "custom"
    _versions[device].setdefault(op, {})[version] = fn
    if dtypes is not None:
        # both the names and the numpy dtypes, so that get() can test either with one hash lookup
        _dtypes[id(fn)] = frozenset(dtypes) | {np.dtype(d) for d in dtypes}
    if default or op not in _defaults[device]:
        _defaults[device][op] = version
    _invalidate()


def list(device: str | None = None) -> _builtin_list[str]:  # noqa: A001 - the documented name
    """Every registered ``op/version`` (on one device, or on all), sorted."""
    devices = DEVICES if device is None else (device,)
    names = {f"{op}/{v}" for d in devices for op, vs in _versions[d].items() for v in vs}
    return sorted(names)


def versions(op: str, device: str = "cpu") -> _builtin_list[str]:
    """The versions registered for `op` on `device`, the default first."""
    vs = _builtin_list(_versions[device].get(op, {}))
    default = _defaults[device].get(op)
    return sorted(vs, key=lambda v: (v != default, v))


def _lookup(op: str, version: str, device: str) -> Callable:
    try:
        return _versions[device][op][version]
    except KeyError:
        known = ", ".join(f"{op}/{v}" for v in versions(op, device)) or "none"
        raise KeyError(
            f"[kernels] no kernel {op}/{version} on {device} (registered: {known})"
        ) from None


def _resolve(choice: Any, op: str, device: str) -> Callable:
    if callable(choice):
        return choice
    o, v = _split(str(choice))
    if v is None:  # "reference" or "avx2": a version of this op
        o, v = op, o
    if o != op:
        raise ValueError(f"[kernels.use] {op}={choice!r} names another op")
    return _lookup(op, v, device)


def get(name: str, device: str = "cpu", dtype: Any = None) -> Callable:
    """The function that runs `name` (``"op"`` or ``"op/version"``) on `device` now.

    With `dtype` given, a kernel that does not compute in that dtype (a float32-only native
    kernel asked for float64) is replaced by the reference.
    """
    plain = _dispatch_hook is None and not _scopes.stack
    if plain:
        fn = _resolved.get((name, device, dtype))
        if fn is not None:
            return fn
    fn = _get(name, device)
    if dtype is not None:
        allowed = _dtypes.get(id(fn))
        if allowed is not None and dtype not in allowed:
            fn = _versions["cpu"][_split(name)[0]]["reference"]
    if _dispatch_hook is not None:  # kernels.shadow(): runs the reference beside each kernel
        return _dispatch_hook(name, fn)
    if plain:
        _resolved[(name, device, dtype)] = fn
    return fn


# A function (name, kernel) -> callable that get() hands its result through, or None (the usual
# case: then get() costs one more comparison). Set by kernels.shadow() with set_dispatch_hook.
_dispatch_hook: Callable[[str, Callable], Callable] | None = None


def set_dispatch_hook(hook: Callable[[str, Callable], Callable] | None) -> None:
    """Passes every kernel :func:`get` returns through ``hook(name, fn)`` (None: no hook);
    what ``kernels.shadow()`` uses to wrap kernels. One hook at a time, for the whole process.

    Example:
        >>> from pyfastdl.kernels import registry
        >>> registry.set_dispatch_hook(lambda name, fn: print("get", name) or fn)
        >>> _ = registry.get("gemm")
        get gemm
        >>> registry.set_dispatch_hook(None)
    """
    global _dispatch_hook
    _dispatch_hook = hook


def version_name(op: str, fn: Callable, device: str = "cpu") -> str:
    """``op/version`` of a registered kernel function, else ``op/<function name>``.

    Example:
        >>> from pyfastdl.kernels import registry
        >>> registry.version_name("gemm", registry.reference_of("gemm"))
        'gemm/reference'
    """
    for d in (device, "cpu"):
        for v, f in _versions[d].get(op, {}).items():
            if f is fn:
                return f"{op}/{v}"
    return f"{op}/{getattr(fn, '__name__', 'custom')}"


def for_array(name: str, like: Any) -> Callable:
    """The kernel `name` for arrays like `like`: its device and dtype (see :func:`get`)."""
    return get(name, device_of(like), like.dtype)


def _get(name: str, device: str) -> Callable:
    op, version = _split(name)
    if version is not None:
        return _lookup(op, version, device)
    for scope in reversed(_scopes.stack):
        if op in scope:
            return _resolve(scope[op], op, device)
    key = (op, device)
    fn = _cache.get(key)
    if fn is not None:
        return fn
    if op in _global:
        fn = _resolve(_global[op], op, device)
    elif op in _defaults[device]:
        fn = builtin_of(op, device)
    else:
        raise KeyError(f"[kernels] unknown kernel '{op}'; see pyfastdl.kernels.list()")
    _cache[key] = fn
    return fn


def reference_of(op: str) -> Callable:
    """The NumPy reference of `op` (the oracle of tests and of :func:`check`)."""
    return _lookup(op, "reference", "cpu")


def builtin_of(op: str, device: str = "cpu") -> Callable:
    """The default version of `op` on `device`, ignoring every override."""
    if op not in _defaults[device]:
        return reference_of(op)
    return _versions[device][op][_defaults[device][op]]


def current(op: str, device: str = "cpu") -> str:
    """The name (``op/version``) of what :func:`get` returns for `op`, or ``op/<function name>``."""
    return version_name(op, _get(op, device), device)


def validate(overrides: dict[str, Any]) -> None:
    """Checks kernel choices as :func:`use` takes them, without applying them.

    Each key must be a registered op and each value a function or the name of a registered
    version (``"reference"`` or ``"gemm/reference"``).
    """
    for op, choice in overrides.items():
        if not callable(choice) and not isinstance(choice, str):
            raise TypeError(
                f"[kernels.use] {op} must be a version name or a function, "
                f"got {type(choice).__name__}"
            )
        if op not in _versions["cpu"] and op not in _versions["cuda"]:
            raise KeyError(f"[kernels.use] unknown kernel '{op}'; see pyfastdl.kernels.list()")
        if not callable(choice):
            _resolve(choice, op, "cpu")  # fail now on a misspelled version


def active_scopes() -> dict[str, Any] | None:
    """The scoped overrides in force on this thread, merged (innermost wins), or None."""
    stack = _scopes.stack
    if not stack:
        return None
    merged: dict[str, Any] = {}
    for overrides in stack:
        merged.update(overrides)
    return merged


class Override:
    """What :func:`use` returns: already in force globally; as a context manager, scoped instead."""

    def __init__(self, overrides: dict[str, Any]) -> None:
        validate(overrides)
        self.overrides = dict(overrides)
        self._saved = {op: _global.get(op, _MISSING) for op in overrides}
        _global.update(overrides)
        _invalidate()

    def undo(self) -> None:
        """Removes this override from the global setting."""
        for op, prev in self._saved.items():
            if prev is _MISSING:
                _global.pop(op, None)
            else:
                _global[op] = prev
        _invalidate()

    def __enter__(self) -> Override:
        self.undo()  # in a `with` block the override is scoped to this thread and block
        _scopes.stack.append(self.overrides)
        return self

    def __exit__(self, *exc: Any) -> None:
        _scopes.stack.remove(self.overrides)


_MISSING = object()


def use(**overrides: Any) -> Override:
    """Selects kernel versions: ``use(gemm="reference")`` or ``use(gemm=my_function)``.

    Called as a plain function the choice holds globally until ``.undo()`` (or another ``use``);
    used as ``with kernels.use(...):`` it holds on this thread inside the block only.
    """
    return Override(overrides)


class scope:
    """Pushes a dict of overrides for the current thread (used by Module.use_kernels)."""

    __slots__ = ("overrides",)

    def __init__(self, overrides: dict[str, Any]) -> None:
        self.overrides = overrides

    def __enter__(self) -> None:
        _scopes.stack.append(self.overrides)

    def __exit__(self, *exc: Any) -> None:
        _scopes.stack.pop()

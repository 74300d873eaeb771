"""Where the running op is: the module path that ``shadow()`` and ``detect_anomaly()`` name.

Off -- the usual case -- nothing here runs. ``nn.Module.__call__``, ``Function.apply`` and the
backward walk read one process-wide counter, :data:`listening` (how many ``kernels.shadow`` and
``autograd.detect_anomaly`` sessions are on); only while it is non-zero does a module call push
its qualified name (``features.3``, as ``model.named_modules()`` spells it) on a per-thread stack,
does autograd record that name on each graph node, and does the backward walk push a backward
frame around each node's backward, so that a kernel or a gradient check can say where it ran.

Read the counter as ``trace.listening`` (an attribute of this module), never ``from .trace
import listening``, which would copy it once.

Example:
    >>> from pyfastdl.kernels import trace
    >>> trace.where() is None  # outside any module, in the forward pass
    True
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Where",
    "listening",
    "start",
    "stop",
    "in_module",
    "in_backward",
    "where",
    "phase",
]

# How many shadow()/detect_anomaly() sessions are on, in the whole process.
listening = 0
_lock = threading.Lock()


@dataclass(frozen=True)
class Where:
    """A place in a model: the module's qualified name ('' for the model called at top level) and
    its class name."""

    path: str
    module: str

    def __str__(self) -> str:
        return f"{self.path or '<top>'} ({self.module})"


class _Frames(threading.local):
    def __init__(self) -> None:
        # (module, Where) for each module being called on this thread, outermost first
        self.modules: list[tuple[Any, Where]] = []
        # (Where or None, autograd op name) for each backward being run on this thread
        self.backward: list[tuple[Where | None, str]] = []


_frames = _Frames()


def start() -> None:
    """One more session listens (``shadow()`` or ``detect_anomaly()`` entered); pair with
    :func:`stop`.

    Example:
        >>> from pyfastdl.kernels import trace
        >>> trace.start(); on = trace.listening > 0; trace.stop()
        >>> on
        True
    """
    global listening
    with _lock:
        listening += 1


def stop() -> None:
    """One session stops listening (see :func:`start`).

    Example:
        >>> from pyfastdl.kernels import trace
        >>> trace.stop()  # never below zero
        >>> trace.listening
        0
    """
    global listening
    with _lock:
        listening = max(0, listening - 1)


def _child_name(parent: Any, module: Any) -> str | None:
    """`module`'s name below `parent` (a direct child, else any descendant), or None."""
    for name, child in getattr(parent, "_modules", {}).items():
        if child is module:
            return name
    named = getattr(parent, "named_modules", None)
    if named is not None:
        for name, child in named():
            if child is module and name:
                return name
    return None


def _where_of(module: Any) -> Where:
    kind = type(module).__name__
    stack = _frames.modules
    for parent, at in reversed(stack):  # nearest enclosing module that holds it
        name = _child_name(parent, module)
        if name is not None:
            return Where(f"{at.path}.{name}" if at.path else name, kind)
    if not stack:
        return Where("", kind)
    # held by no enclosing module (a module kept in a plain list, a closure): its class name
    at = stack[-1][1]
    return Where(f"{at.path}.<{kind}>" if at.path else f"<{kind}>", kind)


@contextmanager
def in_module(module: Any) -> Iterator[None]:
    """Marks the ops run inside as running in `module` (what ``Module.__call__`` does while
    :data:`listening`); a module called inside another is named after its place in it.

    Example:
        >>> from pyfastdl import nn
        >>> from pyfastdl.kernels import trace
        >>> model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
        >>> with trace.in_module(model), trace.in_module(model[1]):
        ...     str(trace.where())
        '1 (ReLU)'
    """
    stack = _frames.modules
    if stack and stack[-1][0] is module:  # the same call again (hooks path): already named
        yield
        return
    stack.append((module, _where_of(module)))
    try:
        yield
    finally:
        stack.pop()


@contextmanager
def in_backward(at: Where | None, op: str) -> Iterator[None]:
    """Marks the kernels run inside as the backward of autograd op `op`, run in the forward at
    `at` (what the backward walk does while :data:`listening`).

    Example:
        >>> from pyfastdl.kernels import trace
        >>> with trace.in_backward(trace.Where("fc", "Linear"), "Linear"):
        ...     trace.phase(), trace.where().path
        (('backward', 'Linear'), 'fc')
    """
    frames = _frames.backward
    frames.append((at, op))
    try:
        yield
    finally:
        frames.pop()


def where() -> Where | None:
    """The module the running op belongs to: in a backward, the module of its forward; None
    outside any module (or when nothing listens). See :func:`in_module` for an example."""
    if _frames.backward:
        return _frames.backward[-1][0]
    if _frames.modules:
        return _frames.modules[-1][1]
    return None


def phase() -> tuple[str, str | None]:
    """``("forward", None)``, or ``("backward", autograd op name)`` inside a backward.

    Example:
        >>> from pyfastdl.kernels import trace
        >>> trace.phase()
        ('forward', None)
    """
    if _frames.backward:
        return "backward", _frames.backward[-1][1]
    return "forward", None

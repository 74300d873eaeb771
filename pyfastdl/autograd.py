"""Reverse-mode automatic differentiation.

A :class:`Function` computes on raw arrays (``numpy.ndarray`` on the CPU, ``cupy.ndarray`` on the
GPU): ``forward(ctx, *args)`` returns the output array(s) and saves what the backward needs on
``ctx``; ``backward(ctx, *grad_outputs)`` returns one gradient array (or None) per positional
argument of ``forward``. ``Function.apply`` unwraps Tensor arguments, runs ``forward`` and, when
gradients are enabled and an input requires them, links the outputs into the graph.

``Tensor.backward`` / :func:`grad` walk the graph from the outputs in reverse topological order,
summing the gradients that flow into each node before calling its backward once.

Example:
    >>> import pyfastdl as fd
    >>> x = fd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad.tolist()
    [2.0, 4.0, 6.0]
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import Any

from . import kernels as _kernels
from .arrays import xp as _xp

__all__ = [
    "Function",
    "Context",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "inference_mode",
    "is_inference_mode_enabled",
    "grad",
    "backward",
    "set_tensor_class",
]


class _GradMode(threading.local):
    enabled = True
    inference = False


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """True when operations record the graph for backward."""
    return _mode.enabled


class set_grad_enabled:
    """Enables or disables gradient recording; usable as a call, a context manager or a decorator."""

    def __init__(self, mode: bool) -> None:
        self.prev = _mode.enabled
        self.mode = bool(mode)
        _mode.enabled = self.mode

    def __enter__(self) -> set_grad_enabled:
        return self

    def __exit__(self, *exc: Any) -> None:
        _mode.enabled = self.prev

    def __call__(self, fn):
        mode = self.mode
        _mode.enabled = self.prev  # used as a decorator: undo the switch made by __init__

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


class _GradModeContext:
    mode = True

    def __enter__(self) -> None:
        self.prev = _mode.enabled
        _mode.enabled = self.mode

    def __exit__(self, *exc: Any) -> None:
        _mode.enabled = self.prev

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Context manager (and decorator) under which no graph is recorded."""

    mode = False


class enable_grad(_GradModeContext):
    """Context manager (and decorator) that turns gradient recording back on."""

    mode = True


class inference_mode:
    """Context manager (and decorator) under which no graph is recorded, like
    ``torch.inference_mode``; ``inference_mode(False)`` turns recording back on (as PyTorch's
    guard does, even under ``no_grad``).

    Use it as ``with inference_mode():``, ``@inference_mode()``, ``@inference_mode`` or
    ``@inference_mode(mode=False)``.

    Example:
        >>> import pyfastdl as fd
        >>> x = fd.ones(2, requires_grad=True)
        >>> with fd.inference_mode():
        ...     (x * 2).requires_grad
        False
    """

    def __new__(cls, mode: Any = True):
        if callable(mode) and not isinstance(mode, bool):
            return cls()(mode)  # bare @inference_mode
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        if not isinstance(mode, bool):
            raise TypeError(f"[inference_mode] mode must be a bool, got {type(mode).__name__}")
        self.mode = mode

    def __enter__(self) -> None:
        self.prev = (_mode.enabled, _mode.inference)
        # PyTorch's InferenceMode guard: mode=False turns inference off and grad mode on
        _mode.enabled, _mode.inference = not self.mode, self.mode

    def __exit__(self, *exc: Any) -> None:
        _mode.enabled, _mode.inference = self.prev

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper

    def clone(self) -> inference_mode:
        return inference_mode(self.mode)


def is_inference_mode_enabled() -> bool:
    """True inside an enabled :class:`inference_mode` region."""
    return _mode.inference


class Context:
    """What a Function's forward leaves for its backward."""

    __slots__ = ("saved_tensors", "needs_input_grad", "__dict__")

    def __init__(self) -> None:
        self.saved_tensors: tuple = ()
        self.needs_input_grad: tuple = ()

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved_tensors = arrays


class Node:
    """One application of a Function in the graph."""

    __slots__ = ("function", "ctx", "inputs", "n_outputs", "released", "kernel_overrides")

    def __init__(self, function: type, ctx: Context, inputs: tuple, n_outputs: int) -> None:
        self.function = function
        self.ctx = ctx
        # Scoped kernel choices in force when the op ran (Module.use_kernels, `with kernels.use`):
        # its backward runs under the same choices.
        self.kernel_overrides = _kernels.active_scopes()
        # inputs[i] is the Tensor passed as positional argument i, or None for anything else.
        self.inputs = inputs
        self.n_outputs = n_outputs
        self.released = False

    @property
    def name(self) -> str:
        """The op's name: its Function's class name without the ``Fn`` suffix (``Mul``)."""
        name = self.function.__name__
        return name[:-2] if name.endswith("Fn") else name


class Function:
    """Base class of differentiable operations (see the module docstring)."""

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, *grad_outputs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        Tensor = _Tensor  # a local: apply is the hottest function of the package
        ctx = Context()
        raw = []
        needs = []
        any_needs = False
        for a in args:
            if isinstance(a, Tensor):
                raw.append(a.array)
                r = a.requires_grad
                needs.append(r)
                any_needs = any_needs or r
            else:
                raw.append(a)
                needs.append(False)
        record = any_needs and _mode.enabled
        ctx.needs_input_grad = tuple(needs)
        out = cls.forward(ctx, *raw, **kwargs)
        if isinstance(out, tuple):
            node = None
            if record:
                node = Node(
                    cls, ctx, tuple(a if isinstance(a, Tensor) else None for a in args), len(out)
                )
            return tuple(Tensor._from_op(o, node, i) for i, o in enumerate(out))
        node = None
        if record:
            node = Node(cls, ctx, tuple(a if isinstance(a, Tensor) else None for a in args), 1)
        return Tensor._from_op(out, node, 0)


# The Tensor class. It lives one layer above (tensor.py imports this module), so tensor.py hands it
# over with set_tensor_class() when it defines it: the engine wraps results in it and recognises
# inputs by it, without importing upwards.
_Tensor: Any = None


def set_tensor_class(cls: type) -> None:
    """Called once by ``pyfastdl.tensor``: the class Function.apply and backward produce."""
    global _Tensor
    _Tensor = cls


def _topological_nodes(roots: Sequence[Node]) -> list[Node]:
    """Nodes reachable from `roots`, each after every node that consumes its outputs."""
    order: list[Node] = []
    seen: set[int] = set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(root.inputs))]
        while stack:
            node, it = stack[-1]
            advanced = False
            for t in it:
                if t is None:
                    continue
                child = t._node
                if child is not None and id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, iter(child.inputs)))
                    advanced = True
                    break
            if not advanced:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _run_backward(
    outputs: Sequence[Any],
    grad_outputs: Sequence[Any],
    retain_graph: bool,
    inputs: Sequence[Any] | None = None,
) -> list | None:
    """Propagates gradients from `outputs`.

    With `inputs` None, gradients of leaf tensors (and tensors that called retain_grad) are
    accumulated into their ``.grad``; otherwise the gradients of `inputs` are returned and no
    ``.grad`` is touched.
    """
    # Pending gradient per (node id, output index), and for leaves per tensor id.
    pending: dict[int, list] = {}
    leaf_grads: dict[int, Any] = {}
    leaves: dict[int, Any] = {}
    wanted = None if inputs is None else {id(t): t for t in inputs}
    roots = []
    for t, g in zip(outputs, grad_outputs):
        if t._node is None:
            if t.requires_grad:
                _accumulate_leaf(t, g, leaf_grads, leaves)
            continue
        slot = pending.setdefault(id(t._node), [None] * t._node.n_outputs)
        slot[t._out_index] = g if slot[t._out_index] is None else slot[t._out_index] + g
        roots.append(t._node)
        if getattr(t, "_retains_grad", False) or (wanted is not None and id(t) in wanted):
            _accumulate_leaf(t, g, leaf_grads, leaves)

    for node in _topological_nodes(roots):
        grads = pending.pop(id(node), None)
        if grads is None:
            continue
        if node.released:
            raise RuntimeError(
                f"[backward] trying to backward through the graph a second time (through "
                f"{node.name}); its saved arrays were freed: pass retain_graph=True the first time"
            )
        ctx = node.ctx
        if node.kernel_overrides is not None:
            with _kernels.scope(node.kernel_overrides):
                in_grads = _call_backward(node, grads)
        else:
            in_grads = _call_backward(node, grads)
        if not retain_graph:
            ctx.saved_tensors = ()
            ctx.__dict__.clear()
            node.released = True
        for t, g in zip(node.inputs, in_grads):
            if t is None or g is None or not t.requires_grad:
                continue
            if g.shape != t.array.shape:
                raise RuntimeError(
                    f"[backward] {node.name}.backward returned a gradient of shape {tuple(g.shape)} "
                    f"for an input of shape {tuple(t.array.shape)}"
                )
            child = t._node
            if child is None:
                _accumulate_leaf(t, g, leaf_grads, leaves)
                continue
            if getattr(t, "_retains_grad", False) or (wanted is not None and id(t) in wanted):
                _accumulate_leaf(t, g, leaf_grads, leaves)
            slot = pending.setdefault(id(child), [None] * child.n_outputs)
            slot[t._out_index] = g if slot[t._out_index] is None else slot[t._out_index] + g

    if wanted is not None:
        return [leaf_grads.get(id(t)) for t in inputs]
    handed_out: set[int] = set()
    for key, t in leaves.items():
        g = leaf_grads[key]
        if g.dtype != t.array.dtype:
            g = g.astype(t.array.dtype)
        if t.grad is None:
            # .grad must own writable memory: a backward may pass one array to several inputs
            # (add) or return a read-only broadcast view (sum), and optimizers write into .grad.
            if (
                g is t.array
                or id(g) in handed_out
                or not getattr(g.flags, "writeable", True)
                or g.base is not None
            ):
                g = g.copy()
            handed_out.add(id(g))
            t.grad = _Tensor(g)
        else:
            t.grad = _Tensor(t.grad.array + g)
    return None


def _call_backward(node: Node, grads: list) -> tuple:
    """Runs a node's backward; outputs that received no gradient are passed as None."""
    in_grads = node.function.backward(node.ctx, *grads)
    return in_grads if isinstance(in_grads, tuple) else (in_grads,)


def _accumulate_leaf(t: Any, g: Any, leaf_grads: dict, leaves: dict) -> None:
    key = id(t)
    leaves[key] = t
    leaf_grads[key] = g if key not in leaf_grads else leaf_grads[key] + g


def _as_grad_arrays(outputs: Sequence[Any], grad_outputs: Sequence[Any] | None, op: str) -> list:
    arrays = []
    for i, t in enumerate(outputs):
        g = None if grad_outputs is None else grad_outputs[i]
        if g is None:
            if t.array.size != 1:
                raise RuntimeError(
                    f"[{op}] grad can be implicitly created only for scalar outputs, got shape "
                    f"{tuple(t.array.shape)}: pass a gradient"
                )
            g = _xp(t.array).ones_like(t.array)
        elif isinstance(g, _Tensor):
            g = g.array
        else:
            g = _xp(t.array).asarray(g, dtype=t.array.dtype)
        if tuple(g.shape) != tuple(t.array.shape):
            raise RuntimeError(
                f"[{op}] gradient of shape {tuple(g.shape)} does not match the output's shape "
                f"{tuple(t.array.shape)}"
            )
        arrays.append(g)
    return arrays


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None) -> None:
    """Accumulates into ``.grad`` of the leaves the gradient of `tensors` (like torch.autograd.backward)."""
    if isinstance(tensors, _Tensor):
        tensors = [tensors]
        if grad_tensors is not None and not isinstance(grad_tensors, (list, tuple)):
            grad_tensors = [grad_tensors]
    tensors = list(tensors)
    for t in tensors:
        if not t.requires_grad:
            raise RuntimeError(
                "[backward] element 0 of tensors does not require grad and does not have a grad_fn"
            )
    grads = _as_grad_arrays(tensors, grad_tensors, "backward")
    _run_backward(tensors, grads, bool(retain_graph))


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple:
    """Gradients of `outputs` with respect to `inputs`, returned instead of accumulated.

    Example:
        >>> import pyfastdl as fd
        >>> x = fd.tensor(3.0, requires_grad=True)
        >>> fd.autograd.grad(x * x, x)[0].item()
        6.0
    """
    if create_graph:
        raise NotImplementedError(
            "[grad] create_graph=True (higher-order gradients) is not supported: backward "
            "functions run on raw arrays"
        )
    single_out = isinstance(outputs, _Tensor)
    outputs = [outputs] if single_out else list(outputs)
    if isinstance(grad_outputs, _Tensor) or (
        grad_outputs is not None and single_out and not isinstance(grad_outputs, (list, tuple))
    ):
        grad_outputs = [grad_outputs]
    inputs = [inputs] if isinstance(inputs, _Tensor) else list(inputs)
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("[grad] one of the inputs does not require grad")
    for t in outputs:
        if not t.requires_grad:
            raise RuntimeError("[grad] one of the outputs does not require grad and has no grad_fn")
    grads = _as_grad_arrays(outputs, grad_outputs, "grad")
    result = _run_backward(outputs, grads, bool(retain_graph), inputs=inputs)
    out = []
    for g in result:
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    "[grad] one of the inputs was not used in the graph; pass allow_unused=True"
                )
            out.append(None)
        else:
            out.append(_Tensor(g))
    return tuple(out)

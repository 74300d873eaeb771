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
import itertools
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from . import kernels as _kernels
from . import shapes as _shapes
from .arrays import device_error, device_of, to_gpu, to_host
from .arrays import xp as _xp
from .kernels import trace as _trace

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
    "bump_version",
    "version_counter",
    "detect_anomaly",
    "set_detect_anomaly",
    "is_anomaly_enabled",
    "is_anomaly_check_nan_enabled",
    "RemovableHandle",
    "queue_callback",
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


# Version counters. A tensor's memory has one: a one-element list [writes so far], shared by the
# tensor, its ``.detach()`` / ``.data`` and the views taken of it (as in PyTorch), and created
# only when first needed (most tensors are never viewed, written or saved: a per-op cost saved).
# A node remembers the counter of each input and output at forward time; if one has moved when
# its backward runs and the node saved an array over that memory, the gradient would come from
# the changed values, so backward raises instead.


def version_counter(t: Any) -> list:
    """The version counter of `t`'s memory, created on first use."""
    counter = t._version_counter
    if counter is None:
        counter = t._version_counter = [0]
    return counter


def bump_version(t: Any) -> None:
    """Marks an in-place write into `t`'s memory."""
    version_counter(t)[0] += 1


# ---------------------------------------------------------------------------- hooks
# Tensor.register_hook(fn): fn(grad) may return a replacement gradient. On a leaf it runs on the
# gradient one backward delivers, before it is added to ``.grad``; on a non-leaf it runs when the
# gradient of that output of its node is complete, before the node's backward.
# Tensor.register_post_accumulate_grad_hook(fn): fn(tensor) runs once a leaf's ``.grad`` holds
# this backward's contribution -- while the rest of the backward is still to run, which is what
# DistributedDataParallel needs to start reducing a bucket early. Leaf hooks live in the tensor's
# __dict__ (nothing is added to a tensor without hooks).


class _HookDict(OrderedDict):
    """An OrderedDict that a weakref can point to (plain dicts cannot be weakly referenced)."""


class RemovableHandle:
    """Returned by ``register_hook``, ``register_forward_hook`` and friends: ``handle.remove()``
    unregisters the hook. Also a context manager that removes the hook on exit."""

    _ids = itertools.count()

    def __init__(self, *hook_dicts: dict) -> None:
        self.id = next(RemovableHandle._ids)
        self._dicts = [weakref.ref(d) for d in hook_dicts]

    def remove(self) -> None:
        for ref in self._dicts:
            d = ref()
            if d is not None:
                d.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


# True once any leaf has a hook: from then on backward writes each leaf's .grad as soon as the
# last node feeding it has run (instead of all of them at the end), so that its hooks fire early.
_leaf_hooks_in_use = False


def _add_hook(hooks: dict | None, hook: Any, op: str) -> tuple[dict, RemovableHandle]:
    if not callable(hook):
        raise TypeError(f"[{op}] expected a callable hook, got {type(hook).__name__}")
    hooks = _HookDict() if hooks is None else hooks
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return hooks, handle


def register_hook(t: Any, hook: Any) -> RemovableHandle:
    """Tensor.register_hook: `hook(grad)` runs on the gradient of `t` and may return a new one."""
    global _leaf_hooks_in_use
    if not t.requires_grad:
        raise RuntimeError(
            "[register_hook] cannot register a hook on a tensor that doesn't require gradient"
        )
    node = t._node
    if node is None:
        hooks, handle = _add_hook(t.__dict__.get("_grad_hooks"), hook, "register_hook")
        t.__dict__["_grad_hooks"] = hooks
        _leaf_hooks_in_use = True
        return handle
    by_output = node.grad_hooks if node.grad_hooks is not None else {}
    hooks, handle = _add_hook(by_output.get(t._out_index), hook, "register_hook")
    by_output[t._out_index] = hooks
    node.grad_hooks = by_output
    return handle


def register_post_accumulate_grad_hook(t: Any, hook: Any) -> RemovableHandle:
    """Tensor.register_post_accumulate_grad_hook: `hook(t)` runs after ``t.grad`` is updated."""
    global _leaf_hooks_in_use
    op = "register_post_accumulate_grad_hook"
    if t._node is not None:
        raise RuntimeError(
            f"[{op}] post accumulate grad hooks cannot be registered on non-leaf tensors"
        )
    if not t.requires_grad:
        raise RuntimeError(
            f"[{op}] cannot register a hook on a tensor that doesn't require gradient"
        )
    hooks, handle = _add_hook(t.__dict__.get("_post_accumulate_grad_hooks"), hook, op)
    t.__dict__["_post_accumulate_grad_hooks"] = hooks
    _leaf_hooks_in_use = True
    return handle


def _apply_grad_hooks(hooks: dict, g: Any) -> Any:
    for hook in list(hooks.values()):
        result = hook(_Tensor(g))
        if result is not None:
            g = result.array if isinstance(result, _Tensor) else result
    return g


class _BackwardState(threading.local):
    callbacks: list | None = None


_backward_state = _BackwardState()


def queue_callback(callback: Any) -> None:
    """Runs `callback()` once the backward now running has finished (PyTorch's
    ``Variable._execution_engine.queue_callback``); callable from hooks only."""
    callbacks = _backward_state.callbacks
    if callbacks is None:
        raise RuntimeError("[queue_callback] can only be called while a backward is running")
    callbacks.append(callback)


class Node:
    """One application of a Function in the graph."""

    __slots__ = (
        "function",
        "ctx",
        "inputs",
        "edges",
        "versions",
        "n_outputs",
        "released",
        "kernel_overrides",
        "grad_hooks",  # {output index: hooks} from Tensor.register_hook on a non-leaf, or None
        "where",  # set only while kernels.trace listens: the module the forward ran in
    )

    def __init__(self, function: type, ctx: Context, inputs: tuple, n_outputs: int) -> None:
        self.function = function
        self.ctx = ctx
        # Scoped kernel choices in force when the op ran (Module.use_kernels, `with kernels.use`):
        # its backward runs under the same choices.
        self.kernel_overrides = _kernels.active_scopes()
        # inputs[i] is the Tensor passed as positional argument i, or None for anything else.
        self.inputs = inputs
        # edges[i]: where input i's gradient goes, fixed now: (its node, output index, shape), or
        # None when it needs no gradient. Not read from the tensor at backward time, because an
        # in-place op may have rebound the tensor to a newer node since.
        # versions: (counter, its value now, the array) of each input, then each output (added by
        # watch_output). The arrays are alive anyway while the graph is (the inputs are held, an
        # output is the next op's input); backward drops the list with the saved arrays.
        edges = []
        versions = []
        for t in inputs:
            if t is None:
                edges.append(None)
                continue
            a = t.array
            edges.append((t._node, t._out_index, a.shape) if t.requires_grad else None)
            counter = t._version_counter  # version_counter(t), inlined: this runs per op
            if counter is None:
                counter = t._version_counter = [0]
            versions.append((counter, counter[0], a))
        self.edges = edges
        self.versions = versions
        self.n_outputs = n_outputs
        self.released = False
        self.grad_hooks = None

    def watch_output(self, t: Any) -> None:
        """Records the version of output `t` (a Function may save its own result; a view
        output shares its input's counter, which may have moved before)."""
        counter = t._version_counter
        if counter is None:
            counter = t._version_counter = [0]
        self.versions.append((counter, counter[0], t.array))

    @property
    def name(self) -> str:
        """The op's name: its Function's class name without the ``Fn`` suffix (``Mul``)."""
        return _op_name(self.function)


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
        inputs = []  # the Tensor arguments in place, None for the others (the node's inputs)
        any_needs = False
        # One device per op: the arrays' types are compared as they are unwrapped (one test per
        # input); only a difference (a GPU array among NumPy ones, or a NumPy subclass) looks
        # closer, in _one_device.
        kind = None
        for a in args:
            if isinstance(a, Tensor):
                x = a.array
                raw.append(x)
                inputs.append(a)
                r = a.requires_grad
                needs.append(r)
                any_needs = any_needs or r
                if (t := type(x)) is not kind:
                    kind = t if kind is None else _MIXED
            else:
                raw.append(a)
                inputs.append(None)
                needs.append(False)
        if kind is _MIXED:
            moved = _one_device(cls, args)
            if moved is not None:
                return cls.apply(*moved, **kwargs)
        record = any_needs and _mode.enabled
        ctx.needs_input_grad = tuple(needs)
        try:
            out = cls.forward(ctx, *raw, **kwargs)
        except (MemoryError, ValueError, OverflowError, TypeError, IndexError) as e:
            raise _named(cls, e, raw, kwargs) from None
        if isinstance(out, tuple):
            node = Node(cls, ctx, tuple(inputs), len(out)) if record else None
            outs = tuple(Tensor._from_op(o, node, i) for i, o in enumerate(out))
            for t in outs:
                if t.array.base is not None:
                    _share_version(t, args)
            if node is not None:
                for t in outs:
                    node.watch_output(t)
            if _trace.listening:  # kernels.shadow / detect_anomaly
                _watch_forward(cls, args, outs, node)
            return outs
        if record:
            node = Node(cls, ctx, tuple(inputs), 1)
            t = Tensor._from_op(out, node, 0)
            if out.base is not None:
                _share_version(t, args)
            node.watch_output(t)
        else:
            node = None
            t = Tensor._from_op(out, None, 0)
            if out.base is not None:
                _share_version(t, args)
        if _trace.listening:  # kernels.shadow / detect_anomaly
            _watch_forward(cls, args, (t,), node)
        return t


_MIXED = object()  # Function.apply's mark for inputs whose arrays differ in type


class _ToGPUFn(Function):
    """A 0-d CPU tensor taken into an op on GPU tensors (PyTorch allows that one mix); its
    gradient goes back to the host."""

    @staticmethod
    def forward(ctx, a, op):
        return to_gpu(a, op)

    @staticmethod
    def backward(ctx, g):
        return to_host(g), None


def _one_device(cls: type, args: tuple) -> tuple | None:
    """For Function.apply when the Tensor arguments' arrays differ in type: None when they are
    on one device after all, else `args` with each 0-d CPU tensor moved to the GPU of the others;
    RuntimeError ``[op] expected all tensors on the same device, got cpu and cuda`` when a CPU
    tensor of more dims is among GPU ones."""
    tensors = [a for a in args if isinstance(a, _Tensor)]
    devices = [device_of(t.array) for t in tensors]
    if len(set(devices)) == 1:
        return None
    op = _snake_name(cls)
    if any(d == "cpu" and t.array.ndim for t, d in zip(tensors, devices)):
        raise device_error(op, *devices)
    return tuple(
        _ToGPUFn.apply(a, op) if isinstance(a, _Tensor) and device_of(a.array) == "cpu" else a
        for a in args
    )


def _share_version(out: Any, args: tuple) -> None:
    """A view of an input's memory (reshape, slicing, transpose, ...) shares its version counter."""
    base = out.array.base
    for a in args:
        if isinstance(a, _Tensor):
            b = a.array
            if base is b or (b.base is not None and base is b.base):
                out._version_counter = version_counter(a)
                return


def _named(cls: type, error: BaseException, raw: list, kwargs: dict) -> BaseException:
    """`error` from a Function's forward, its message starting with the op's name: sizes past
    what fits become OverflowError / MemoryError, and NumPy's own messages (``operands could not
    be broadcast together ...``) get the op's name in front, in the same class."""
    op = _snake_name(cls)
    named = _shapes.named_size_error(op, error, (*raw, *kwargs.values()))
    if named is not None:
        return named
    message = str(error)
    if message.startswith("[") or type(error) not in (ValueError, TypeError, IndexError):
        return error
    return type(error)(f"[{op}] {message}")


def _snake_name(cls: type) -> str:
    """The snake_case op name of a Function class: MaxPool2dFn -> max_pool2d."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", _op_name(cls)).lower()


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
        stack = [(root, iter(root.edges))]
        while stack:
            node, it = stack[-1]
            advanced = False
            for edge in it:
                if edge is None:
                    continue
                child = edge[0]
                if child is not None and id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, iter(child.edges)))
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
    previous_callbacks = _backward_state.callbacks
    _backward_state.callbacks = []
    try:
        result = _propagate(outputs, grad_outputs, retain_graph, inputs)
        callbacks = _backward_state.callbacks
        while callbacks:  # a callback may queue another
            callbacks.pop(0)()
    finally:
        _backward_state.callbacks = previous_callbacks
    return result


def _propagate(
    outputs: Sequence[Any],
    grad_outputs: Sequence[Any],
    retain_graph: bool,
    inputs: Sequence[Any] | None,
) -> list | None:
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

    order = _topological_nodes(roots)
    # With hooks on leaves, each leaf's .grad is written after the last node feeding it.
    finish_after = _last_uses(order) if wanted is None and _leaf_hooks_in_use else None
    handed_out: set[int] = set()
    for position, node in enumerate(order):
        grads = pending.pop(id(node), None)
        if finish_after is not None and position > 0 and position - 1 in finish_after:
            _finish_leaves(finish_after.pop(position - 1), leaf_grads, leaves, handed_out)
        if grads is None:
            continue
        if node.grad_hooks is not None:
            for index, hooks in node.grad_hooks.items():
                if grads[index] is not None:
                    grads[index] = _apply_grad_hooks(hooks, grads[index])
        if node.released:
            raise RuntimeError(
                f"[backward] trying to backward through the graph a second time (through "
                f"{node.name}); its saved arrays were freed: pass retain_graph=True the first time"
            )
        ctx = node.ctx
        for counter, version, array in node.versions:
            if counter[0] != version:
                _check_unmodified(node, counter[0], version, array)
        if node.kernel_overrides is not None:
            with _kernels.scope(node.kernel_overrides):
                in_grads = _call_backward(node, grads)
        else:
            in_grads = _call_backward(node, grads)
        if not retain_graph:
            ctx.saved_tensors = ()
            ctx.__dict__.clear()
            node.versions = ()
            node.released = True
        for t, edge, g in zip(node.inputs, node.edges, in_grads):
            if edge is None or g is None:
                continue
            child, index, shape = edge
            if g.shape != shape:
                raise RuntimeError(
                    f"[backward] {node.name}.backward returned a gradient of shape {tuple(g.shape)} "
                    f"for an input of shape {tuple(shape)}"
                )
            if child is None:
                _accumulate_leaf(t, g, leaf_grads, leaves)
                continue
            if getattr(t, "_retains_grad", False) or (wanted is not None and id(t) in wanted):
                _accumulate_leaf(t, g, leaf_grads, leaves)
            slot = pending.setdefault(id(child), [None] * child.n_outputs)
            slot[index] = g if slot[index] is None else slot[index] + g

    if wanted is not None:
        found = []
        for t in inputs:
            g = leaf_grads.get(id(t))
            hooks = t.__dict__.get("_grad_hooks") if t._node is None else None
            found.append(_apply_grad_hooks(hooks, g) if hooks and g is not None else g)
        return found
    _finish_leaves(list(leaves), leaf_grads, leaves, handed_out)
    return None


def _last_uses(order: list[Node]) -> dict[int, list[int]]:
    """{position in `order`: ids of the leaves no node after that position feeds}."""
    last: dict[int, int] = {}
    for position, node in enumerate(order):
        for t, edge in zip(node.inputs, node.edges):
            if edge is not None and edge[0] is None:
                last[id(t)] = position
    by_position: dict[int, list[int]] = {}
    for key, position in last.items():
        by_position.setdefault(position, []).append(key)
    return by_position


def _finish_leaves(keys: list[int], leaf_grads: dict, leaves: dict, handed_out: set) -> None:
    """Adds the gradients gathered for tensors `keys` into their ``.grad`` and runs their hooks."""
    for key in keys:
        t = leaves.pop(key, None)
        if t is None:  # no gradient reached it, or already written
            continue
        g = leaf_grads.pop(key)
        extra = t.__dict__
        if extra:
            hooks = extra.get("_grad_hooks")
            if hooks:
                g = _apply_grad_hooks(hooks, g)
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
        if extra:
            post = extra.get("_post_accumulate_grad_hooks")
            if post:
                for hook in list(post.values()):
                    hook(t)


def _saved_arrays(ctx: Context) -> list:
    """The arrays a Function kept for its backward: save_for_backward and ctx attributes."""
    found = []
    for value in (*ctx.saved_tensors, *ctx.__dict__.values()):
        for a in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(a, _Tensor):
                a = a.array
            if hasattr(a, "shape") and hasattr(a, "dtype"):  # a NumPy or GPU array
                found.append(a)
    return found


def _check_unmodified(node: Node, now: int, then: int, array: Any) -> None:
    """Raises if memory that `node` saved for its backward was written in place since forward
    (`array`: the input or output whose version counter moved)."""
    xp = _xp(array)
    for saved in _saved_arrays(node.ctx):
        if type(saved) is type(array) and xp.may_share_memory(saved, array):  # bounds overlap
            raise RuntimeError(
                f"[backward] one of the tensors saved for {node.name} (shape "
                f"{tuple(array.shape)}, {array.dtype}) was modified by an in-place operation: it "
                f"is at version {now}, expected version {then}. Clone it before changing it, or "
                "change it after backward (e.g. run optimizer.step() after loss.backward())"
            )


def _call_backward(node: Node, grads: list) -> tuple:
    """Runs a node's backward; outputs that received no gradient are passed as None."""
    if _trace.listening:  # kernels.shadow / detect_anomaly
        return _watched_backward(node, grads)
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


# ---------------------------------------------------------------------------- anomaly detection
# Off (the usual case) none of this runs: Function.apply and _call_backward test the one counter
# kernels.trace.listening, which detect_anomaly and kernels.shadow raise while they are on.


class _AnomalyMode:
    enabled = False  # process-wide, like PyTorch's anomaly mode
    check_nan = True
    check_forward = False


_anomaly = _AnomalyMode()


def _set_anomaly(enabled: bool, check_nan: bool, check_forward: bool) -> tuple[bool, bool, bool]:
    """Sets the anomaly mode; returns the previous (enabled, check_nan, check_forward)."""
    prev = (_anomaly.enabled, _anomaly.check_nan, _anomaly.check_forward)
    if enabled and not prev[0]:
        _trace.start()  # modules and graph nodes record where they run
    elif prev[0] and not enabled:
        _trace.stop()
    _anomaly.enabled, _anomaly.check_nan, _anomaly.check_forward = (
        bool(enabled),
        bool(check_nan),
        bool(check_forward),
    )
    return prev


def _op_name(function: type) -> str:
    """A Function class's name without the ``Fn`` suffix: MulFn -> Mul."""
    name = function.__name__
    return name[:-2] if name.endswith("Fn") else name


def _nonfinite(a: Any) -> str | None:
    """'nan' or 'inf' if floating-point array `a` holds one (NaN first), else None."""
    dtype = getattr(a, "dtype", None)
    if dtype is None or dtype.kind not in "fc" or a.size == 0:
        return None
    xp = _xp(a)
    if bool(xp.isnan(a).any()):
        return "nan"
    if bool(xp.isinf(a).any()):
        return "inf"
    return None


def _place(where: Any) -> str:
    return f"in module {where}" if where is not None else "outside any module"


def _watch_forward(function: type, args: tuple, outs: tuple, node: Node | None) -> None:
    """Records the module on the node; with check_forward, raises on a non-finite output."""
    where = _trace.where()
    if node is not None:
        node.where = where
    if not (_anomaly.enabled and _anomaly.check_nan and _anomaly.check_forward):
        return
    for i, t in enumerate(outs):
        kind = _nonfinite(t.array)
        if kind is None:
            continue
        inputs = [(j, a.array) for j, a in enumerate(args) if isinstance(a, _Tensor)]
        shapes = ", ".join(f"{tuple(a.shape)} {a.dtype}" for _, a in inputs) or "none"
        bad = [f"input {j} already held {k}" for j, a in inputs if (k := _nonfinite(a))]
        name = _op_name(function)
        cause = (
            f"{'; '.join(bad)}: the non-finite values came from before {name}"
            if bad
            else f"its inputs were all finite: {name} produced them"
        )
        raise RuntimeError(
            f"[detect_anomaly] Function '{name}' returned {kind} values in its {i}th output in "
            f"the forward, {_place(where)}; inputs: {shapes}; output: {tuple(t.array.shape)} "
            f"{t.array.dtype}; {cause} (detect_anomaly(check_forward=False) checks the backward "
            "only, as PyTorch does)"
        )


def _watched_backward(node: Node, grads: list) -> tuple:
    """A node's backward inside a backward frame (for kernels.shadow), checked for NaN/Inf."""
    where = getattr(node, "where", None)
    with _trace.in_backward(where, node.name):
        try:
            in_grads = node.function.backward(node.ctx, *grads)
        except Exception as e:
            if _anomaly.enabled:
                e.add_note(
                    f"[detect_anomaly] raised in {node.name}Backward, the backward of "
                    f"{node.name} run in the forward {_place(where)}"
                )
            raise
    in_grads = in_grads if isinstance(in_grads, tuple) else (in_grads,)
    if _anomaly.enabled and _anomaly.check_nan:
        for i, g in enumerate(in_grads):
            kind = None if g is None else _nonfinite(g)
            if kind is not None:
                finite_in = all(g is None or _nonfinite(g) is None for g in grads)
                raise RuntimeError(
                    f"[detect_anomaly] Function '{node.name}Backward' returned {kind} values in "
                    f"its {i}th output; its forward {node.name} ran {_place(where)}; the gradients "
                    f"it received were {'all finite' if finite_in else 'already non-finite'}"
                )
    return in_grads


class detect_anomaly:
    """Context manager (and decorator) that names the op where NaN or Inf first appears, like
    ``torch.autograd.detect_anomaly``.

    With `check_nan`, a backward that returns a NaN or Inf gradient raises RuntimeError
    ``Function 'LogBackward' returned nan values in its 0th output`` (PyTorch's words), naming the
    module its forward ran in. With ``check_forward=True`` (pyfastdl's addition; off by default,
    as PyTorch checks only the backward) the first op whose *output* holds NaN or Inf raises in
    the forward already, with its module path (``features.3``), the input and output shapes, and
    whether its inputs were already non-finite; an op that makes an infinity on purpose
    (``masked_fill(mask, -inf)`` before a softmax) raises then too. Any error raised inside a
    backward gets a note naming the op and module of its forward.

    The mode holds for the whole process while on; off, it costs one flag test per op.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid())
        >>> x = fd.tensor([[1.0, float("nan")]])
        >>> with fd.autograd.detect_anomaly(check_forward=True):
        ...     model(x)
        Traceback (most recent call last):
        ...
        RuntimeError: [detect_anomaly] Function 'Linear' returned nan values in its 0th ...
    """

    def __init__(self, check_nan: bool = True, check_forward: bool = False) -> None:
        self.check_nan = check_nan
        self.check_forward = check_forward

    def __enter__(self) -> detect_anomaly:
        self.prev = _set_anomaly(True, self.check_nan, self.check_forward)
        return self

    def __exit__(self, *exc: Any) -> None:
        _set_anomaly(*self.prev)

    def __call__(self, fn):
        check_nan, check_forward = self.check_nan, self.check_forward

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(check_nan, check_forward):
                return fn(*args, **kwargs)

        return wrapper


class set_detect_anomaly:
    """Turns anomaly detection (see :class:`detect_anomaly`) on or off now; as a context manager,
    restores the previous setting on exit (``torch.autograd.set_detect_anomaly``).

    Example:
        >>> import pyfastdl as fd
        >>> with fd.autograd.set_detect_anomaly(True):
        ...     fd.autograd.is_anomaly_enabled()
        True
        >>> fd.autograd.is_anomaly_enabled()
        False
    """

    def __init__(self, mode: bool, check_nan: bool = True, check_forward: bool = False) -> None:
        self.prev = _set_anomaly(mode, check_nan, check_forward)

    def __enter__(self) -> set_detect_anomaly:
        return self

    def __exit__(self, *exc: Any) -> None:
        _set_anomaly(*self.prev)


def is_anomaly_enabled() -> bool:
    """True while anomaly detection is on.

    Example:
        >>> import pyfastdl as fd
        >>> fd.autograd.is_anomaly_enabled()
        False
    """
    return _anomaly.enabled


def is_anomaly_check_nan_enabled() -> bool:
    """True while anomaly detection is on and checks for NaN/Inf.

    Example:
        >>> import pyfastdl as fd
        >>> fd.autograd.is_anomaly_check_nan_enabled()
        False
    """
    return _anomaly.enabled and _anomaly.check_nan

"""DistributedDataParallel: one model replica per process, gradients averaged across them.

At construction it checks that every rank holds the same parameters (names, shapes, dtypes),
then broadcasts rank 0's parameters and buffers so the replicas start equal. Each forward
broadcasts rank 0's buffers first (``broadcast_buffers``, e.g. BatchNorm's running statistics);
each backward averages the gradients with bucketed all_reduces started from autograd hooks while
the backward still runs (``distributed/reducer.py``). After ``optimizer.step()`` every replica
holds the same parameters again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ... import autograd
from ...arrays import to_gpu
from ...distributed import process_group as _pg
from ...distributed.reducer import DEFAULT_BUCKET_CAP_MB, Reducer
from ...tensor import Tensor
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]

OP = "DistributedDataParallel"


class DistributedDataParallel(Module):
    """Data-parallel training over the ranks of `process_group` (the world by default).

    PyTorch's signature; ``device_ids``/``output_device`` are accepted for CPU modules (None or
    empty). Wrap the model after ``init_process_group``, and give each rank its own share of the
    data (``utils.data.DistributedSampler``). ``no_sync()`` skips the averaging for gradient
    accumulation; ``find_unused_parameters=True`` lets a forward leave some parameters out.

    Example:
        >>> import pyfastdl as fd, pyfastdl.distributed as dist
        >>> from pyfastdl import nn
        >>> dist.init_process_group()
        >>> model = nn.parallel.DistributedDataParallel(nn.Linear(4, 2))
        >>> model(fd.randn(3, 4)).sum().backward()
        >>> model.module.weight.grad.shape
        (2, 4)
        >>> dist.destroy_process_group()
    """

    def __init__(
        self,
        module: Module,
        device_ids: Any = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        process_group: Any = None,
        bucket_cap_mb: float | None = None,
        find_unused_parameters: bool = False,
        check_reduction: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"[{OP}] expected an nn.Module to wrap, got {type(module).__name__}")
        if device_ids:
            raise ValueError(
                f"[{OP}] device_ids={device_ids!r}: GPU replicas arrive with the CUDA backend; "
                "pass None for a CPU module"
            )
        group = _pg.resolve(process_group, OP)
        cap_mb = DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb
        if isinstance(cap_mb, bool) or not isinstance(cap_mb, (int, float)) or not cap_mb > 0:
            raise ValueError(
                f"[{OP}] bucket_cap_mb must be a positive number, got {bucket_cap_mb!r}"
            )
        self.module = module
        self.process_group = group
        self.dim = dim
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
        self.static_graph = bool(static_graph)
        self.require_backward_grad_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError(f"[{OP}] the module has no parameter that requires a gradient")
        _check_same_parameters(module, group)
        _broadcast_state(
            [p for _, p in module.named_parameters()] + _buffers(module), group, "parameters"
        )
        self.reducer = Reducer(named, group, int(cap_mb * (1 << 20)), self.find_unused_parameters)

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if self.broadcast_buffers and self.process_group.size() > 1:
            buffers = _buffers(self.module)
            if buffers:
                _broadcast_state(buffers, self.process_group, "buffers")
        output = self.module(*inputs, **kwargs)
        if autograd.is_grad_enabled() and self.require_backward_grad_sync:
            unused = (
                _unreached(self.reducer.params, output) if self.find_unused_parameters else None
            )
            self.reducer.prepare(unused)
        else:
            self.reducer.skip()
        return output

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backwards of forwards run inside only accumulate ``.grad`` locally; the first
        backward after it averages the accumulated gradients."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def extra_repr(self) -> str:
        return f"world_size={self.process_group.size()}, buckets={len(self.reducer.buckets)}"


def _buffers(module: Module) -> list[Tensor]:
    return [b for _, b in module.named_buffers() if b is not None]


def _check_same_parameters(module: Module, group: Any) -> None:
    """Every rank must wrap the same parameters: a mismatch is named, with both ranks."""
    mine = [(n, tuple(p.shape), str(p.dtype)) for n, p in module.named_parameters()]
    mine += [(n, tuple(b.shape), str(b.dtype)) for n, b in module.named_buffers() if b is not None]
    everyone = group.objects("allgather", mine)
    reference = everyone[0]
    for rank, theirs in enumerate(everyone):
        if theirs == reference:
            continue
        for a, b in zip(reference, theirs):
            if a != b:
                raise ValueError(
                    f"[{OP}] the ranks' models differ: rank {group.ranks[0]} has {a[0]} of shape "
                    f"{a[1]} ({a[2]}), rank {group.ranks[rank]} has {b[0]} of shape {b[1]} ({b[2]})"
                )
        raise ValueError(
            f"[{OP}] the ranks' models differ: rank {group.ranks[0]} has {len(reference)} "
            f"parameters and buffers, rank {group.ranks[rank]} has {len(theirs)}"
        )


def _broadcast_state(tensors: list[Tensor], group: Any, what: str) -> None:
    """Rank 0's values of `tensors` into every rank's, in one broadcast of their packed bytes."""
    if group.size() == 1 or not tensors:
        return
    arrays = [t.array if isinstance(t.array, np.ndarray) else t.array.get() for t in tensors]
    sizes = [a.nbytes for a in arrays]
    packed = np.empty(sum(sizes), np.uint8)
    offset = 0
    if group.rank == 0:
        for a, n in zip(arrays, sizes):
            packed[offset : offset + n] = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
            offset += n
    group.broadcast(packed, 0, wait=f"{OP} broadcast of the {what}")
    if group.rank == 0:
        return
    offset = 0
    for t, a, n in zip(tensors, arrays, sizes):
        values = packed[offset : offset + n].view(a.dtype).reshape(a.shape)
        if isinstance(t.array, np.ndarray):
            t.array[...] = values
        else:
            t.array[...] = to_gpu(values, OP)  # host bytes back to the GPU
        autograd.bump_version(t)
        offset += n


def _tensors_in(obj: Any) -> Iterator[Tensor]:
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors_in(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors_in(o)


def _unreached(params: list[Tensor], output: Any) -> list[Tensor]:
    """The parameters that the graph behind `output` does not reach."""
    reached: set[int] = set()
    seen: set[int] = set()
    stack = [t._node for t in _tensors_in(output) if t._node is not None]
    for t in _tensors_in(output):
        if t._node is None:
            reached.add(id(t))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for t, edge in zip(node.inputs, node.edges):
            if edge is None:
                continue
            if edge[0] is None:
                reached.add(id(t))
            else:
                stack.append(edge[0])
    return [p for p in params if id(p) not in reached]

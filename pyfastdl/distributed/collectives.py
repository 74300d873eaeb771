"""Collectives on Tensors, in place, with PyTorch's names and signatures.

Each call checks its tensors, stages them into contiguous host buffers of a type MPI handles,
starts the group's non-blocking collective, and either waits (the default) or returns a
:class:`Work` (``async_op=True``) whose ``wait()`` finishes it. Staging:

- a tensor that is not C-contiguous, or lives on a GPU, is copied into a contiguous host buffer and
  the result is copied back when the collective completes;
- reductions: float16 reduces in float32 (MPI has no half type); bool as uint8, with SUM and MAX
  as a logical or, PRODUCT and MIN as a logical and; AVG is a SUM divided by the group's size,
  for floating-point tensors only;
- collectives that only move data (broadcast, gathers, scatters, all-to-all) send raw bytes, so
  every dtype works.

Ranks passed as ``src``/``dst`` are global ranks, as in PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..arrays import to_gpu, to_host
from ..autograd import bump_version
from ..ops._util import check_writable
from ..tensor import Tensor
from .groups import ProcessGroup
from .process_group import resolve

__all__ = [
    "ReduceOp",
    "Work",
    "all_gather",
    "all_gather_into_tensor",
    "all_gather_object",
    "all_reduce",
    "all_to_all",
    "all_to_all_single",
    "barrier",
    "broadcast",
    "broadcast_object_list",
    "gather",
    "irecv",
    "isend",
    "monitored_barrier",
    "recv",
    "reduce",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "scatter",
    "send",
]


class ReduceOp:
    """How ``all_reduce``, ``reduce`` and ``reduce_scatter`` combine the ranks' values."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"


_REDUCE_OPS = ("sum", "avg", "product", "min", "max", "band", "bor", "bxor")
_BOOL_OPS = {
    "sum": "max",
    "max": "max",
    "bor": "max",
    "product": "min",
    "min": "min",
    "band": "min",
    "bxor": "bxor",
}


class Work:
    """A collective in flight (``async_op=True``): ``wait()`` blocks until it is done and the
    tensors hold the result; ``is_completed()`` asks without blocking."""

    def __init__(
        self, pg: ProcessGroup, op: str, requests: list, finish: list[Callable[[], None]]
    ) -> None:
        self._pg = pg
        self._op = op
        self._requests = requests
        self._finish = finish
        self._done = False
        if not requests:
            self._complete()

    def _complete(self) -> None:
        self._done = True
        for f in self._finish:
            f()
        self._requests = []

    def wait(self, timeout: Any = None) -> bool:
        if not self._done:
            seconds = (
                None if timeout is None else getattr(timeout, "total_seconds", lambda: timeout)()
            )
            self._pg.wait(self._requests, self._op, seconds)
            self._complete()
        return True

    def is_completed(self) -> bool:
        if not self._done and self._pg.test(self._requests):
            self._complete()
        return self._done

    def is_success(self) -> bool:
        return self.is_completed()


# ---------------------------------------------------------------------------- staging


def _check_tensor(t: Any, op: str, name: str = "tensor") -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"[{op}] expected {name} to be a Tensor, got {type(t).__name__}")
    return t


def _check_list(
    ts: Any, size: int, like: Tensor, op: str, name: str, same_shape: bool = True
) -> list:
    if not isinstance(ts, (list, tuple)):
        raise TypeError(f"[{op}] expected {name} to be a list of Tensors, got {type(ts).__name__}")
    if len(ts) != size:
        raise ValueError(
            f"[{op}] {name} must hold one tensor per rank of the group ({size}), got {len(ts)}"
        )
    for i, t in enumerate(ts):
        _check_tensor(t, op, f"{name}[{i}]")
        if t.dtype != like.dtype:
            raise TypeError(f"[{op}] {name}[{i}] has dtype {t.dtype}, expected {like.dtype}")
        if same_shape and t.shape != like.shape:
            raise ValueError(
                f"[{op}] {name}[{i}] has shape {tuple(t.shape)}, expected {tuple(like.shape)}"
            )
    return list(ts)


def _writer(t: Tensor, buf: np.ndarray, op: str) -> Callable[[], None]:
    """Copies `buf` back into `t` (unless it is t's own memory) and marks the in-place write."""
    check_writable(t, op)
    a = t.array

    def finish() -> None:
        if not _is_memory_of(buf, a):
            if isinstance(a, np.ndarray):
                np.copyto(a, buf.reshape(a.shape), casting="unsafe")
            else:  # a GPU array: back to the device
                a[...] = _to_device(buf.reshape(a.shape), a)
        bump_version(t)

    return finish


def _is_memory_of(buf: np.ndarray, a: Any) -> bool:
    """Whether `buf` is exactly the memory of contiguous host array `a` (maybe another dtype)."""
    return (
        isinstance(a, np.ndarray)
        and a.flags.c_contiguous
        and buf.nbytes == a.nbytes
        and buf.__array_interface__["data"][0] == a.__array_interface__["data"][0]
    )


def _to_device(buf: np.ndarray, like: Any) -> Any:
    return to_gpu(buf.astype(like.dtype, copy=False), "distributed")


def _bytes(a: Any) -> np.ndarray:
    """A contiguous host copy (or a view, when possible) of `a` as raw bytes."""
    return np.ascontiguousarray(to_host(a)).reshape(-1).view(np.uint8)


def _inout_bytes(t: Tensor) -> np.ndarray:
    """A byte buffer that is `t`'s own memory when it can be, else a contiguous copy."""
    a = t.array
    if isinstance(a, np.ndarray) and a.flags.c_contiguous:
        return a.reshape(-1).view(np.uint8)
    return _bytes(a).copy()


def _reduce_buffer(t: Tensor, op: str, name: str) -> tuple[np.ndarray, str, list]:
    """The buffer a reduction runs on, the MPI-side op, and what finishes it."""
    if op not in _REDUCE_OPS:
        raise ValueError(
            f"[{name}] unknown reduce op {op!r}: expected one of ReduceOp's ({', '.join(_REDUCE_OPS)})"
        )
    a = t.array
    kind = a.dtype.kind
    if kind == "c":
        raise TypeError(f"[{name}] complex tensors are not supported")
    if op == "avg" and kind != "f":
        raise TypeError(f"[{name}] ReduceOp.AVG needs a floating-point tensor, got {a.dtype}")
    if op in ("band", "bor", "bxor") and kind not in "iub":
        raise TypeError(
            f"[{name}] ReduceOp.{op.upper()} needs an integer or bool tensor, got {a.dtype}"
        )
    host = to_host(a)
    if a.dtype == np.float16:
        buf = host.astype(np.float32)  # MPI has no half type
    else:
        buf = np.ascontiguousarray(host)  # t's own memory when it is contiguous already
        if a.dtype == np.bool_:
            buf = buf.view(np.uint8)
            op = _BOOL_OPS[op]
    return buf, ("sum" if op == "avg" else op), []


def _blocking(name: str, async_op: bool) -> str | None:
    """What a group's collective takes as `wait`: the op's name to run it to completion (the
    blocking MPI call), or None to start it and hand back its requests (async_op=True)."""
    return None if async_op else name


def _run(pg: ProcessGroup, op: str, requests: list, finish: list, async_op: bool) -> Work | None:
    work = Work(pg, op, requests, finish)
    if async_op:
        return work
    work.wait()
    return None


# ---------------------------------------------------------------------------- reductions


def all_reduce(
    tensor: Tensor, op: str = ReduceOp.SUM, group: Any = None, async_op: bool = False
) -> Work | None:
    """Reduces `tensor` across the group; every rank ends with the result, in place.

    Example:
        >>> import pyfastdl as fd, pyfastdl.distributed as dist
        >>> dist.init_process_group()
        >>> t = fd.tensor([1.0, 2.0])
        >>> dist.all_reduce(t, op=dist.ReduceOp.SUM)
        >>> t.tolist()
        [1.0, 2.0]
        >>> dist.destroy_process_group()
    """
    name = "all_reduce"
    _check_tensor(tensor, name)
    pg = resolve(group, name)
    averaging = op == ReduceOp.AVG
    buf, mpi_op, finish = _reduce_buffer(tensor, op, name)
    if averaging:
        size = pg.size()
        finish.append(lambda: np.divide(buf, size, out=buf))
    finish.append(_writer(tensor, buf, name))
    return _run(
        pg, name, pg.allreduce(buf, mpi_op, wait=_blocking(name, async_op)), finish, async_op
    )


def reduce(
    tensor: Tensor, dst: int, op: str = ReduceOp.SUM, group: Any = None, async_op: bool = False
) -> Work | None:
    """Reduces `tensor` across the group into rank `dst`'s tensor (the others' are unchanged)."""
    name = "reduce"
    _check_tensor(tensor, name)
    pg = resolve(group, name)
    root = pg.group_rank(dst, name)
    averaging = op == ReduceOp.AVG
    buf, mpi_op, finish = _reduce_buffer(tensor, op, name)
    if pg.rank == root:
        if averaging:
            size = pg.size()
            finish.append(lambda: np.divide(buf, size, out=buf))
        finish.append(_writer(tensor, buf, name))
    return _run(
        pg, name, pg.reduce(buf, root, mpi_op, wait=_blocking(name, async_op)), finish, async_op
    )


def _reduce_scatter(
    pg: ProcessGroup,
    output: Tensor,
    stacked: Tensor | np.ndarray,
    op: str,
    name: str,
    async_op: bool,
) -> Work | None:
    averaging = op == ReduceOp.AVG
    recv, mpi_op, finish = _reduce_buffer(output, op, name)
    recv = (
        np.ascontiguousarray(recv).copy() if recv.base is not None or recv is output.array else recv
    )
    send = np.ascontiguousarray(to_host(stacked)).astype(recv.dtype, copy=False)
    if averaging:
        size = pg.size()
        finish.append(lambda: np.divide(recv, size, out=recv))
    finish.append(_writer(output, recv, name))
    return _run(
        pg,
        name,
        pg.reduce_scatter(send, recv, mpi_op, wait=_blocking(name, async_op)),
        finish,
        async_op,
    )


def reduce_scatter(
    output: Tensor,
    input_list: Sequence[Tensor],
    op: str = ReduceOp.SUM,
    group: Any = None,
    async_op: bool = False,
) -> Work | None:
    """Reduces ``input_list[i]`` across the group into rank i's `output`."""
    name = "reduce_scatter"
    _check_tensor(output, name, "output")
    pg = resolve(group, name)
    inputs = _check_list(input_list, pg.size(), output, name, "input_list")
    stacked = np.stack([to_host(t.array) for t in inputs])
    if output.dtype == np.bool_:
        stacked = stacked.view(np.uint8)
    return _reduce_scatter(pg, output, stacked, op, name, async_op)


def reduce_scatter_tensor(
    output: Tensor, input: Tensor, op: str = ReduceOp.SUM, group: Any = None, async_op: bool = False
) -> Work | None:
    """Like reduce_scatter, with the inputs concatenated along dim 0 of `input` (or stacked)."""
    name = "reduce_scatter_tensor"
    _check_tensor(output, name, "output")
    _check_tensor(input, name, "input")
    pg = resolve(group, name)
    _check_concatenated(input, output, pg.size(), name, "input", "output")
    a = to_host(input.array)
    if output.dtype == np.bool_:
        a = np.ascontiguousarray(a).view(np.uint8)
    return _reduce_scatter(pg, output, a, op, name, async_op)


def _check_concatenated(
    big: Tensor, part: Tensor, size: int, op: str, big_name: str, part_name: str
) -> None:
    """`big` must be `size` copies of `part`'s shape, concatenated on dim 0 or stacked."""
    if big.dtype != part.dtype:
        raise TypeError(
            f"[{op}] {big_name} has dtype {big.dtype}, {part_name} {part.dtype}: they must match"
        )
    shape = tuple(part.shape)
    stacked = (size, *shape)
    concatenated = (size * shape[0], *shape[1:]) if shape else None
    if tuple(big.shape) not in (stacked, concatenated):
        raise ValueError(
            f"[{op}] {big_name} of shape {tuple(big.shape)} must hold one {part_name} of shape {shape} "
            f"per rank ({size}): expected shape {concatenated or stacked}"
            + (f" or {stacked}" if concatenated else "")
        )


# ---------------------------------------------------------------------------- data movement


def broadcast(tensor: Tensor, src: int, group: Any = None, async_op: bool = False) -> Work | None:
    """Copies rank `src`'s tensor into every rank's `tensor`."""
    name = "broadcast"
    _check_tensor(tensor, name)
    pg = resolve(group, name)
    root = pg.group_rank(src, name)
    buf = _inout_bytes(tensor)
    finish = [_writer(tensor, buf.view(tensor.dtype), name)] if pg.rank != root else []
    return _run(pg, name, pg.broadcast(buf, root, wait=_blocking(name, async_op)), finish, async_op)


def all_gather(
    tensor_list: list[Tensor], tensor: Tensor, group: Any = None, async_op: bool = False
) -> Work | None:
    """Fills ``tensor_list[i]`` with rank i's `tensor`."""
    name = "all_gather"
    _check_tensor(tensor, name)
    pg = resolve(group, name)
    outputs = _check_list(tensor_list, pg.size(), tensor, name, "tensor_list")
    send = _bytes(tensor.array)
    recv = np.empty((pg.size(), send.size), np.uint8)
    finish = [_writer(t, recv[i].view(tensor.dtype), name) for i, t in enumerate(outputs)]
    return _run(
        pg, name, pg.allgather(send, recv, wait=_blocking(name, async_op)), finish, async_op
    )


def all_gather_into_tensor(
    output_tensor: Tensor, input_tensor: Tensor, group: Any = None, async_op: bool = False
) -> Work | None:
    """Rank i's `input_tensor` into the i-th slice (dim 0) of every rank's `output_tensor`."""
    name = "all_gather_into_tensor"
    _check_tensor(output_tensor, name, "output_tensor")
    _check_tensor(input_tensor, name, "input_tensor")
    pg = resolve(group, name)
    _check_concatenated(
        output_tensor, input_tensor, pg.size(), name, "output_tensor", "input_tensor"
    )
    send = _bytes(input_tensor.array)
    recv = _inout_bytes(output_tensor)
    finish = [_writer(output_tensor, recv.view(output_tensor.dtype), name)]
    return _run(
        pg, name, pg.allgather(send, recv, wait=_blocking(name, async_op)), finish, async_op
    )


def gather(
    tensor: Tensor,
    gather_list: list[Tensor] | None = None,
    dst: int = 0,
    group: Any = None,
    async_op: bool = False,
) -> Work | None:
    """Rank i's `tensor` into ``gather_list[i]`` on rank `dst` (other ranks pass no list)."""
    name = "gather"
    _check_tensor(tensor, name)
    pg = resolve(group, name)
    root = pg.group_rank(dst, name)
    send = _bytes(tensor.array)
    recv, finish = None, []
    if pg.rank == root:
        outputs = _check_list(gather_list, pg.size(), tensor, name, "gather_list")
        recv = np.empty((pg.size(), send.size), np.uint8)
        finish = [_writer(t, recv[i].view(tensor.dtype), name) for i, t in enumerate(outputs)]
    elif gather_list:
        raise ValueError(f"[{name}] gather_list must be given on the destination rank {dst} only")
    return _run(
        pg, name, pg.gather(send, recv, root, wait=_blocking(name, async_op)), finish, async_op
    )


def scatter(
    tensor: Tensor,
    scatter_list: list[Tensor] | None = None,
    src: int = 0,
    group: Any = None,
    async_op: bool = False,
) -> Work | None:
    """``scatter_list[i]`` of rank `src` into rank i's `tensor`."""
    name = "scatter"
    _check_tensor(tensor, name)
    pg = resolve(group, name)
    root = pg.group_rank(src, name)
    send = None
    if pg.rank == root:
        inputs = _check_list(scatter_list, pg.size(), tensor, name, "scatter_list")
        send = np.stack([_bytes(t.array) for t in inputs])
    elif scatter_list:
        raise ValueError(f"[{name}] scatter_list must be given on the source rank {src} only")
    recv = _inout_bytes(tensor)
    finish = [_writer(tensor, recv.view(tensor.dtype), name)]
    return _run(
        pg, name, pg.scatter(send, recv, root, wait=_blocking(name, async_op)), finish, async_op
    )


def all_to_all(
    output_tensor_list: list[Tensor],
    input_tensor_list: list[Tensor],
    group: Any = None,
    async_op: bool = False,
) -> Work | None:
    """``input_tensor_list[j]`` of rank i into ``output_tensor_list[i]`` of rank j (any sizes)."""
    name = "all_to_all"
    pg = resolve(group, name)
    if not input_tensor_list:
        raise ValueError(f"[{name}] input_tensor_list is empty")
    like = _check_tensor(input_tensor_list[0], name, "input_tensor_list[0]")
    inputs = _check_list(
        input_tensor_list, pg.size(), like, name, "input_tensor_list", same_shape=False
    )
    outputs = _check_list(
        output_tensor_list, pg.size(), like, name, "output_tensor_list", same_shape=False
    )
    parts = [_bytes(t.array) for t in inputs]
    send = np.concatenate(parts) if parts else np.empty(0, np.uint8)
    recv_counts = [t.array.nbytes for t in outputs]
    recv = np.empty(sum(recv_counts), np.uint8)
    offsets = np.concatenate([[0], np.cumsum(recv_counts)]).astype(int)
    finish = [
        _writer(t, recv[offsets[i] : offsets[i + 1]].view(like.dtype), name)
        for i, t in enumerate(outputs)
    ]
    requests = pg.alltoallv(
        send, [p.size for p in parts], recv, recv_counts, wait=_blocking(name, async_op)
    )
    return _run(pg, name, requests, finish, async_op)


def _splits(sizes: Any, length: int, size: int, op: str, name: str) -> list[int]:
    if sizes is None:
        if length % size:
            raise ValueError(
                f"[{op}] dim 0 of {name} ({length}) is not divisible by the group's size "
                f"({size}): pass {name}_split_sizes"
            )
        return [length // size] * size
    sizes = [int(s) for s in sizes]
    if len(sizes) != size or sum(sizes) != length or min(sizes) < 0:
        raise ValueError(
            f"[{op}] {name}_split_sizes {sizes} must be {size} non-negative sizes summing to {length}"
        )
    return sizes


def all_to_all_single(
    output: Tensor,
    input: Tensor,
    output_split_sizes: list[int] | None = None,
    input_split_sizes: list[int] | None = None,
    group: Any = None,
    async_op: bool = False,
) -> Work | None:
    """Splits `input` along dim 0, sends split j to rank j, and concatenates what arrives."""
    name = "all_to_all_single"
    _check_tensor(output, name, "output")
    _check_tensor(input, name, "input")
    pg = resolve(group, name)
    if output.dtype != input.dtype or output.shape[1:] != input.shape[1:] or not input.ndim:
        raise ValueError(
            f"[{name}] output {tuple(output.shape)} {output.dtype} and input "
            f"{tuple(input.shape)} {input.dtype} must share the dtype and every dim after the first"
        )
    row = input.array.itemsize * int(np.prod(input.shape[1:], dtype=np.int64))
    send_counts = [
        s * row for s in _splits(input_split_sizes, input.shape[0], pg.size(), name, "input")
    ]
    recv_counts = [
        s * row for s in _splits(output_split_sizes, output.shape[0], pg.size(), name, "output")
    ]
    recv = _inout_bytes(output)
    finish = [_writer(output, recv.view(output.dtype), name)]
    return _run(
        pg,
        name,
        pg.alltoallv(
            _bytes(input.array), send_counts, recv, recv_counts, wait=_blocking(name, async_op)
        ),
        finish,
        async_op,
    )


# ---------------------------------------------------------------------------- point to point


def _peer(pg: ProcessGroup, rank: int, op: str) -> int:
    peer = pg.group_rank(rank, op)
    if peer == pg.rank:
        raise ValueError(f"[{op}] rank {rank} is this process: a rank can't {op} to itself")
    return peer


def _start_send(tensor: Tensor, dst: int, group: Any, tag: int, name: str) -> Work:
    _check_tensor(tensor, name)
    pg = resolve(group, name)
    buf = _bytes(tensor.array)
    return Work(pg, name, pg.send(buf, _peer(pg, dst, name), tag), [])


def isend(tensor: Tensor, dst: int, group: Any = None, tag: int = 0) -> Work:
    """Starts sending `tensor` to rank `dst`; ``wait()`` on the result."""
    return _start_send(tensor, dst, group, tag, "isend")


def send(tensor: Tensor, dst: int, group: Any = None, tag: int = 0) -> None:
    """Sends `tensor` to rank `dst` (which calls recv)."""
    _start_send(tensor, dst, group, tag, "send").wait()


def irecv(tensor: Tensor, src: int | None = None, group: Any = None, tag: int = 0) -> Work:
    """Starts receiving into `tensor` from rank `src` (any rank when None)."""
    name = "irecv"
    _check_tensor(tensor, name)
    pg = resolve(group, name)
    source = None if src is None else _peer(pg, src, name)
    buf = _inout_bytes(tensor)
    return Work(
        pg, name, pg.recv(buf, source, tag), [_writer(tensor, buf.view(tensor.dtype), name)]
    )


def recv(tensor: Tensor, src: int | None = None, group: Any = None, tag: int = 0) -> int:
    """Receives into `tensor` from rank `src` (any rank when None); returns the sender's rank."""
    name = "recv"
    _check_tensor(tensor, name)
    pg = resolve(group, name)
    source = None if src is None else _peer(pg, src, name)
    buf = _inout_bytes(tensor)
    requests = pg.recv(buf, source, tag)
    sender = pg.recv_wait(requests, name)
    _writer(tensor, buf.view(tensor.dtype), name)()
    return pg.ranks[sender]


# ---------------------------------------------------------------------------- synchronisation, objects


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None) -> Work | None:
    """Returns once every rank of the group has called it."""
    pg = resolve(group, "barrier")
    return _run(pg, "barrier", pg.barrier(wait=_blocking("barrier", async_op)), [], async_op)


def monitored_barrier(group: Any = None, timeout: Any = None, wait_all_ranks: bool = False) -> None:
    """A barrier with its own deadline: past it, this rank reports and the job ends."""
    pg = resolve(group, "monitored_barrier")
    seconds = None if timeout is None else getattr(timeout, "total_seconds", lambda: timeout)()
    pg.wait(pg.barrier(), "monitored_barrier", seconds)


def broadcast_object_list(
    object_list: list, src: int = 0, group: Any = None, device: Any = None
) -> None:
    """Replaces the items of `object_list` with rank `src`'s (picklable objects)."""
    name = "broadcast_object_list"
    if not isinstance(object_list, list):
        raise TypeError(f"[{name}] expected a list, got {type(object_list).__name__}")
    pg = resolve(group, name)
    values = pg.objects("broadcast", list(object_list), pg.group_rank(src, name))
    if len(values) != len(object_list):
        raise ValueError(
            f"[{name}] rank {src} sent {len(values)} objects into a list of {len(object_list)}"
        )
    object_list[:] = values


def all_gather_object(object_list: list, obj: Any, group: Any = None) -> None:
    """Fills ``object_list[i]`` with rank i's `obj` (picklable)."""
    name = "all_gather_object"
    pg = resolve(group, name)
    if not isinstance(object_list, list) or len(object_list) != pg.size():
        raise ValueError(f"[{name}] object_list must be a list of one slot per rank ({pg.size()})")
    object_list[:] = pg.objects("allgather", obj)

"""Bucketed gradient averaging for DistributedDataParallel, overlapped with the backward.

The parameters are packed, in reverse order of registration (roughly the order backward
finishes them), into buckets of at most `bucket_cap_bytes` each (the first one smaller, so that
communication starts early), one dtype per bucket. Each parameter has a post-accumulate-grad
hook: when backward has written its ``.grad``, the hook copies it into its bucket's flat buffer,
and when a bucket is full it starts a non-blocking all_reduce of that buffer -- while backward
goes on computing earlier layers. Buckets start strictly in index order on every rank, so the
ranks' collectives always match even when their backwards finish parameters in different orders.
A callback queued on the backward waits for the buckets, divides by the world size and writes the
averages back into ``.grad``.

``find_unused_parameters``: parameters that the forward's graph does not reach are marked ready
(zeros) when the backward starts, and one more all_reduce of a used-bitmap tells which were used
on no rank: those keep their ``.grad`` untouched (None stays None), as in PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import queue_callback
from ..tensor import Tensor
from .groups import ProcessGroup

__all__ = ["Reducer"]

# PyTorch's defaults: 25 MiB buckets, and a 1 MiB first bucket.
DEFAULT_BUCKET_CAP_MB = 25
FIRST_BUCKET_BYTES = 1 << 20


class _Bucket:
    def __init__(self, index: int, params: list[tuple[str, Tensor]], dtype: Any) -> None:
        self.index = index
        self.params = params
        sizes = [p.array.size for _, p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        # float16 gradients are reduced in float32 (MPI has no half type)
        self.buffer = np.zeros(int(self.offsets[-1]), np.float32 if dtype == np.float16 else dtype)
        self.pending = len(params)
        self.requests: list = []

    def view(self, i: int) -> np.ndarray:
        return self.buffer[self.offsets[i] : self.offsets[i + 1]]


def _buckets(named: list[tuple[str, Tensor]], cap_bytes: int, first_bytes: int) -> list[_Bucket]:
    buckets: list[_Bucket] = []
    open_by_dtype: dict[Any, list] = {}  # dtype -> [params, bytes]

    def close(dtype: Any) -> None:
        params, _ = open_by_dtype.pop(dtype)
        buckets.append(_Bucket(len(buckets), params, dtype))

    for name, p in reversed(named):
        dtype = p.array.dtype
        params, used = open_by_dtype.setdefault(dtype, [[], 0])
        params.append((name, p))
        open_by_dtype[dtype][1] = used + p.array.nbytes
        limit = min(first_bytes, cap_bytes) if not buckets else cap_bytes
        if open_by_dtype[dtype][1] >= limit:
            close(dtype)
    for dtype in list(open_by_dtype):
        close(dtype)
    return buckets


class Reducer:
    """Averages the gradients of `named_params` across `group` during each backward."""

    def __init__(
        self,
        named_params: list[tuple[str, Tensor]],
        group: ProcessGroup,
        bucket_cap_bytes: int,
        find_unused_parameters: bool,
        first_bucket_bytes: int = FIRST_BUCKET_BYTES,
    ) -> None:
        self.group = group
        self.find_unused = find_unused_parameters
        self.buckets = _buckets(named_params, bucket_cap_bytes, first_bucket_bytes)
        # where each parameter sits: id -> (bucket, position in it, global index)
        self.where: dict[int, tuple[_Bucket, int, int]] = {}
        self.params = [p for b in self.buckets for _, p in b.params]
        self.names = [n for b in self.buckets for n, _ in b.params]
        index = 0
        for b in self.buckets:
            for i, (_, p) in enumerate(b.params):
                self.where[id(p)] = (b, i, index)
                index += 1
        self.handles = [p.register_post_accumulate_grad_hook(self._ready) for p in self.params]
        self.expect_backward = False  # set by prepare() when a forward should be reduced
        self.unused: list[Tensor] = []
        self._reset()

    # ---------------------------------------------------------------- per iteration
    def _reset(self) -> None:
        for b in self.buckets:
            b.pending = len(b.params)
            b.requests = []
        self.next_bucket = 0  # the first bucket not yet started
        self.started = False
        self.ready = np.zeros(len(self.params), bool)
        self.used = np.zeros(len(self.params), np.int32)

    def prepare(self, unused: list[Tensor] | None) -> None:
        """Called after a forward whose backward should average gradients; `unused`: the
        parameters its graph does not reach (find_unused_parameters only)."""
        if self.started:  # the previous backward never finished (an exception inside it)
            self._reset()
        self.expect_backward = True
        self.unused = unused or []

    def skip(self) -> None:
        """A forward under no_sync(): its backward only accumulates locally."""
        self.expect_backward = False

    def _ready(self, p: Tensor) -> None:
        if not self.expect_backward:
            return
        if not self.started:
            self.started = True
            queue_callback(self._finish)
            for q in self.unused:  # ready from the start: nothing will ever reach them
                self._mark(q, None)
        self._mark(p, p.grad.array)
        self.used[self.where[id(p)][2]] = 1
        self._start_ready_buckets()

    def _mark(self, p: Tensor, grad: Any) -> None:
        bucket, i, index = self.where[id(p)]
        if self.ready[index]:
            return
        self.ready[index] = True
        view = bucket.view(i)
        if grad is None:
            view[...] = 0
        else:
            view[...] = grad.reshape(-1) if isinstance(grad, np.ndarray) else grad.get().reshape(-1)
        bucket.pending -= 1

    def _start_ready_buckets(self) -> None:
        while self.next_bucket < len(self.buckets) and self.buckets[self.next_bucket].pending == 0:
            b = self.buckets[self.next_bucket]
            b.requests = self.group.allreduce(b.buffer, "sum")
            self.next_bucket += 1
        # drive MPI's progress for the buckets in flight (MPI has no progress thread by default)
        in_flight = [r for b in self.buckets[: self.next_bucket] for r in b.requests]
        if in_flight:
            self.group.test(in_flight)

    def _finish(self) -> None:
        try:
            if self.next_bucket < len(self.buckets):
                # the buckets already started must finish before anything else uses MPI
                self.group.wait([r for b in self.buckets for r in b.requests], "DDP all_reduce")
                missing = [n for n, r in zip(self.names, self.ready) if not r]
                raise RuntimeError(
                    "[DistributedDataParallel] these parameters received no gradient in this "
                    f"backward: {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}. "
                    "Every rank must reduce the same gradients: pass "
                    "find_unused_parameters=True when the forward does not use every "
                    "parameter, or set requires_grad=False on those never used"
                )
            self.group.wait(
                [r for b in self.buckets for r in b.requests], "DDP gradient all_reduce"
            )
            used = None
            if self.find_unused:
                used = self.used.copy()
                self.group.allreduce(used, "max", wait="DDP unused-parameter map")
            size = self.group.size()
            for b in self.buckets:
                b.buffer /= size
                for i, (_, p) in enumerate(b.params):
                    index = self.where[id(p)][2]
                    if used is not None and not used[index]:
                        continue  # no rank used it: its .grad stays as it was
                    self._write_grad(p, b.view(i))
        finally:
            self.expect_backward = False
            self._reset()

    @staticmethod
    def _write_grad(p: Tensor, average: np.ndarray) -> None:
        grad = p.grad
        if grad is None:
            p.grad = Tensor(average.reshape(p.shape).copy())
        elif isinstance(grad.array, np.ndarray):
            grad.array[...] = average.reshape(p.shape)
        else:  # a GPU gradient reduced through the host
            grad.array[...] = type(grad.array)(average.reshape(p.shape))

    def remove(self) -> None:
        for h in self.handles:
            h.remove()

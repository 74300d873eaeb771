"""Process groups: who takes part in a collective, and the engine that moves the bytes.

A group's collectives work on contiguous host arrays of the dtypes MPI reduces natively
(``collectives.py`` stages everything else into one of those). Called with ``wait="op name"``
a collective runs to completion (MPI's blocking call, under the group's deadline) and returns no
request; without, it is started non-blocking and returns its requests, on which ``wait`` blocks
under the deadline.

- ``MPIGroup``: an mpi4py communicator: ``Allreduce`` or ``Iallreduce``, ``Bcast`` or
  ``Ibcast``, ... (``async_op=True`` and DistributedDataParallel's overlap take the second).
- ``SelfGroup``: a world of one process, without MPI: every collective is the identity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .watchdog import Watchdog

__all__ = ["MPIGroup", "ProcessGroup", "SelfGroup", "mpi"]

_MPI: Any = None


def mpi() -> Any:
    """mpi4py's MPI module, imported (and MPI initialised) on first use."""
    global _MPI
    if _MPI is None:
        try:
            from mpi4py import MPI  # lazy: optional, and importing it initialises MPI
        except ImportError as e:
            raise RuntimeError(
                "[init_process_group] the 'mpi' backend needs mpi4py and an MPI library: "
                'pip install "pyfastdl[distributed]" (mpi4py and Open MPI)'
            ) from e
        _MPI = MPI
    return _MPI


class ProcessGroup:
    """The ranks of a collective (global ranks, in group order) and this process's place."""

    backend = "none"

    def __init__(self, ranks: list[int], rank: int, timeout: float) -> None:
        self.ranks = list(ranks)
        self.rank = rank  # this process's rank within the group
        self.timeout = timeout

    def size(self) -> int:
        return len(self.ranks)

    def group_rank(self, global_rank: int, op: str) -> int:
        """The position in this group of global rank `global_rank`."""
        if isinstance(global_rank, bool) or not isinstance(global_rank, (int, np.integer)):
            raise TypeError(f"[{op}] expected an int rank, got {type(global_rank).__name__}")
        try:
            return self.ranks.index(int(global_rank))
        except ValueError:
            raise ValueError(
                f"[{op}] rank {global_rank} is not in the group (its ranks: {self.ranks})"
            ) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(backend={self.backend!r}, ranks={self.ranks})"


class SelfGroup(ProcessGroup):
    """A group of one process: nothing to exchange (a world of one needs no MPI)."""

    backend = "self"

    def __init__(self, global_rank: int, timeout: float) -> None:
        super().__init__([global_rank], 0, timeout)

    def allreduce(self, buf: np.ndarray, op: str, wait: str | None = None) -> list:
        return []

    def broadcast(self, buf: np.ndarray, root: int, wait: str | None = None) -> list:
        return []

    def allgather(self, send: np.ndarray, recv: np.ndarray, wait: str | None = None) -> list:
        recv.reshape(-1)[...] = send.reshape(-1)
        return []

    def reduce_scatter(
        self, send: np.ndarray, recv: np.ndarray, op: str, wait: str | None = None
    ) -> list:
        recv.reshape(-1)[...] = send.reshape(-1)
        return []

    def alltoallv(
        self,
        send: np.ndarray,
        send_counts: list,
        recv: np.ndarray,
        recv_counts: list,
        wait: str | None = None,
    ) -> list:
        recv[: recv_counts[0]] = send[: send_counts[0]]
        return []

    def reduce(self, buf: np.ndarray, root: int, op: str, wait: str | None = None) -> list:
        return []

    def gather(
        self, send: np.ndarray, recv: np.ndarray | None, root: int, wait: str | None = None
    ) -> list:
        recv.reshape(-1)[...] = send.reshape(-1)
        return []

    def scatter(
        self, send: np.ndarray | None, recv: np.ndarray, root: int, wait: str | None = None
    ) -> list:
        recv.reshape(-1)[...] = send.reshape(-1)
        return []

    def send(self, buf: np.ndarray, dst: int, tag: int) -> list:
        raise RuntimeError("[send] a process can't send to itself in a world of one")

    def recv(self, buf: np.ndarray, src: int | None, tag: int) -> list:
        raise RuntimeError("[recv] a process can't receive from itself in a world of one")

    def barrier(self, wait: str | None = None) -> list:
        return []

    def objects(self, kind: str, value: Any, root: int = 0) -> Any:
        return [value] if kind == "allgather" else value

    def wait(self, requests: list, op: str, timeout: float | None = None) -> None:
        pass

    def test(self, requests: list) -> bool:
        return True

    def free(self) -> None:
        pass


# ReduceOp name -> the MPI operation. Bool tensors are staged as uint8 with SUM/MAX as a logical
# or and PRODUCT/MIN as a logical and (collectives.py), so LOR/LAND never meet a C bool type.
_MPI_OPS = {
    "sum": "SUM",
    "product": "PROD",
    "min": "MIN",
    "max": "MAX",
    "band": "BAND",
    "bor": "BOR",
    "bxor": "BXOR",
}


class MPIGroup(ProcessGroup):
    """Collectives on an MPI communicator, each started non-blocking."""

    backend = "mpi"

    def __init__(self, comm: Any, ranks: list[int], timeout: float, watchdog: Watchdog) -> None:
        super().__init__(ranks, comm.Get_rank(), timeout)
        self.comm = comm
        self.watchdog = watchdog

    def _op(self, op: str) -> Any:
        return getattr(mpi(), _MPI_OPS[op])

    def _issue(self, wait: str | None, method: str, *args: Any, **kwargs: Any) -> list:
        """``comm.<method>(...)`` to completion under the deadline when `wait` names the op (MPI's
        blocking collectives are faster than waiting on the non-blocking ones: on shared memory
        Open MPI's MPI_Allreduce moved 2-4x the bandwidth of MPI_Iallreduce + wait); else starts
        ``comm.I<method>(...)`` and returns its request."""
        if wait is not None:
            with self.watchdog.watch(wait, self.timeout):
                getattr(self.comm, method)(*args, **kwargs)
            return []
        return [getattr(self.comm, "I" + method.lower())(*args, **kwargs)]

    def allreduce(self, buf: np.ndarray, op: str, wait: str | None = None) -> list:
        return self._issue(wait, "Allreduce", mpi().IN_PLACE, buf, op=self._op(op))

    def broadcast(self, buf: np.ndarray, root: int, wait: str | None = None) -> list:
        return self._issue(wait, "Bcast", buf, root=root)

    def allgather(self, send: np.ndarray, recv: np.ndarray, wait: str | None = None) -> list:
        return self._issue(wait, "Allgather", send, recv)

    def reduce_scatter(
        self, send: np.ndarray, recv: np.ndarray, op: str, wait: str | None = None
    ) -> list:
        return self._issue(wait, "Reduce_scatter_block", send, recv, op=self._op(op))

    def alltoallv(
        self,
        send: np.ndarray,
        send_counts: list,
        recv: np.ndarray,
        recv_counts: list,
        wait: str | None = None,
    ) -> list:
        """Bytes: send[send_displs[i]:][:send_counts[i]] to rank i, from rank i into recv."""
        MPI = mpi()
        send_displs = np.concatenate([[0], np.cumsum(send_counts)[:-1]]).astype(np.int64)
        recv_displs = np.concatenate([[0], np.cumsum(recv_counts)[:-1]]).astype(np.int64)
        return self._issue(
            wait,
            "Alltoallv",
            [send, (list(send_counts), list(send_displs)), MPI.BYTE],
            [recv, (list(recv_counts), list(recv_displs)), MPI.BYTE],
        )

    def reduce(self, buf: np.ndarray, root: int, op: str, wait: str | None = None) -> list:
        if self.rank == root:
            return self._issue(wait, "Reduce", mpi().IN_PLACE, buf, op=self._op(op), root=root)
        return self._issue(wait, "Reduce", buf, None, op=self._op(op), root=root)

    def gather(
        self, send: np.ndarray, recv: np.ndarray | None, root: int, wait: str | None = None
    ) -> list:
        return self._issue(wait, "Gather", send, recv, root=root)

    def scatter(
        self, send: np.ndarray | None, recv: np.ndarray, root: int, wait: str | None = None
    ) -> list:
        return self._issue(wait, "Scatter", send, recv, root=root)

    def send(self, buf: np.ndarray, dst: int, tag: int) -> list:
        return [self.comm.Isend(buf, dest=dst, tag=tag)]

    def recv(self, buf: np.ndarray, src: int | None, tag: int) -> list:
        source = mpi().ANY_SOURCE if src is None else src
        return [self.comm.Irecv(buf, source=source, tag=tag)]

    def recv_wait(self, requests: list, op: str) -> int:
        """Waits for one receive; returns the group rank it came from."""
        status = mpi().Status()
        with self.watchdog.watch(op, self.timeout):
            requests[0].Wait(status)
        return status.Get_source()

    def barrier(self, wait: str | None = None) -> list:
        return self._issue(wait, "Barrier")

    def objects(self, kind: str, value: Any, root: int = 0) -> Any:
        """Picklable objects: 'broadcast' from `root`, or 'allgather' one from each rank."""
        with self.watchdog.watch(f"{kind}_object", self.timeout):
            if kind == "broadcast":
                return self.comm.bcast(value, root=root)
            return self.comm.allgather(value)

    def wait(self, requests: list, op: str, timeout: float | None = None) -> Any:
        if requests:
            with self.watchdog.watch(op, self.timeout if timeout is None else timeout):
                mpi().Request.Waitall(requests)

    def test(self, requests: list) -> bool:
        """True once every request is complete (and drives MPI's progress meanwhile)."""
        return not requests or mpi().Request.Testall(requests)

    def free(self) -> None:
        MPI = mpi()
        if self.comm not in (MPI.COMM_WORLD, MPI.COMM_NULL):
            self.comm.Free()

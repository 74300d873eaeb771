"""Never a hang: a deadline on every collective, and one rank's failure ends every rank.

MPI gives a process no way out of a collective that the other ranks never join, so a blocking
wait here runs under a deadline kept by one daemon thread. When a deadline passes, the thread
writes which rank, which op and how long it waited to stderr, then calls ``MPI_Abort``, which
ends every process of the job (PyTorch's NCCL watchdog does the same with its communicators).
The waiting thread is inside MPI with the GIL released, so the watchdog runs meanwhile.

An uncaught exception on a rank would otherwise leave the others blocked in their next
collective; ``install_excepthook`` prints it with the rank's number and aborts the job.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Watchdog", "install_excepthook", "uninstall_excepthook"]


class Watchdog:
    """Aborts the job (`abort()`) when a watched wait outlives its deadline."""

    def __init__(self, rank: int, world_size: int, abort: Callable[[], None]) -> None:
        self.rank = rank
        self.world_size = world_size
        self._abort = abort
        # thread id -> (deadline, op, timeout): the waits in progress, at most one per thread
        self._waits: dict[int, tuple[float, str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pyfastdl-watchdog", daemon=True)
        self._thread.start()

    @contextmanager
    def watch(self, op: str, timeout: float) -> Iterator[None]:
        """Runs the body (a blocking wait) under a deadline of `timeout` seconds."""
        key = threading.get_ident()
        self._waits[key] = (time.monotonic() + timeout, op, timeout)
        try:
            yield
        finally:
            self._waits.pop(key, None)

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            now = time.monotonic()
            for deadline, op, timeout in list(self._waits.values()):
                if now > deadline:
                    self._expire(op, timeout)
                    return

    def _expire(self, op: str, timeout: float) -> None:
        sys.stderr.write(
            f"[pyfastdl.distributed] rank {self.rank} of {self.world_size}: {op} did not complete "
            f"within {timeout:g} s: another rank never joined it (it failed, hangs, or runs a "
            "different sequence of collectives). Aborting every rank of the job.\n"
        )
        sys.stderr.flush()
        self._abort()


_previous_hook: Any = None


def install_excepthook(rank: int, world_size: int, abort: Callable[[], None]) -> None:
    """On an uncaught exception: print it with this rank's number, then abort every rank."""
    global _previous_hook
    if _previous_hook is not None:
        return

    def hook(kind: type, value: BaseException, tb: Any) -> None:
        if issubclass(kind, KeyboardInterrupt):
            text = "interrupted"
        else:
            text = "".join(traceback.format_exception(kind, value, tb)).rstrip()
        sys.stderr.write(
            f"[pyfastdl.distributed] rank {rank} of {world_size} failed:\n{text}\n"
            f"[pyfastdl.distributed] rank {rank} failed: aborting every rank of the job.\n"
        )
        sys.stderr.flush()
        abort()

    _previous_hook = sys.excepthook
    sys.excepthook = hook


def uninstall_excepthook() -> None:
    global _previous_hook
    if _previous_hook is not None:
        sys.excepthook = _previous_hook
        _previous_hook = None

"""The default process group: ``init_process_group`` and the questions about the world.

The ranks and the world size come from MPI (``mpiexec``/``srun`` start the processes and wire
them up), never from a rendezvous of our own. A process that no MPI launcher started is a world
of one, which needs neither mpi4py nor an MPI library.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

from .groups import MPIGroup, ProcessGroup, SelfGroup, mpi
from .watchdog import Watchdog, install_excepthook, uninstall_excepthook

__all__ = [
    "Backend",
    "GroupMember",
    "ProcessGroup",
    "default_pg_timeout",
    "destroy_process_group",
    "get_backend",
    "get_process_group_ranks",
    "get_rank",
    "get_world_size",
    "group",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "is_nccl_available",
    "new_group",
]

# PyTorch's default: a collective that waits this long ends the job.
default_pg_timeout = datetime.timedelta(minutes=30)

# Variables that MPI launchers set in every process they start (Open MPI, MPICH/Hydra and Intel
# MPI, PMIx launchers such as srun --mpi=pmix).
_LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")


class Backend:
    """The backends' names (``Backend.MPI == "mpi"``)."""

    MPI = "mpi"
    NCCL = "nccl"
    GLOO = "gloo"  # accepted as the CPU backend: MPI here


class GroupMember:
    """``GroupMember.WORLD``: the default group; ``NON_GROUP_MEMBER``: returned by new_group to a
    rank outside the new group."""

    WORLD: ProcessGroup | None = None
    NON_GROUP_MEMBER = object()


class group:  # noqa: N801 - PyTorch's name (dist.group.WORLD)
    WORLD: ProcessGroup | None = None


class _World:
    default: ProcessGroup | None = None
    watchdog: Watchdog | None = None
    groups: list = []


def is_available() -> bool:
    """True: this build supports ``pyfastdl.distributed`` (a world of one needs no MPI)."""
    return True


def is_mpi_available() -> bool:
    """True when mpi4py and an MPI library can be imported."""
    try:
        mpi()
    except RuntimeError:
        return False
    return True


def is_nccl_available() -> bool:
    """False: NCCL arrives with the CUDA backend (GPU tensors)."""
    return False


def is_initialized() -> bool:
    """Whether ``init_process_group`` has run (and ``destroy_process_group`` has not)."""
    return _World.default is not None


def _seconds(timeout: Any, op: str) -> float:
    if timeout is None:
        return default_pg_timeout.total_seconds()
    seconds = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else timeout
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ValueError(
            f"[{op}] timeout must be a positive timedelta or number of seconds, got {timeout!r}"
        )
    return float(seconds)


def _launched_by_mpi() -> bool:
    return any(name in os.environ for name in _LAUNCHER_VARIABLES)


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout: datetime.timedelta | float | None = None,
    world_size: int = -1,
    rank: int = -1,
    store: Any = None,
    group_name: str = "",
    pg_options: Any = None,
    device_id: Any = None,
) -> None:
    """Joins this process to the job's world (PyTorch's signature).

    ``backend`` is ``"mpi"`` (the default; ``"gloo"`` is accepted as its alias, so a PyTorch
    CPU program runs unchanged). The ranks come from the MPI launcher; `world_size` and `rank`,
    when given, must agree with it. A process not started by an MPI launcher is a world of one.

    Example:
        >>> import pyfastdl.distributed as dist
        >>> dist.init_process_group("mpi")
        >>> dist.get_rank(), dist.get_world_size()
        (0, 1)
        >>> dist.destroy_process_group()
    """
    op = "init_process_group"
    if _World.default is not None:
        raise RuntimeError(f"[{op}] trying to initialize the default process group twice")
    name = (backend or Backend.MPI).lower()
    if name == Backend.NCCL:
        raise RuntimeError(
            f"[{op}] the 'nccl' backend needs GPU tensors, which arrive with the CUDA backend; "
            "use backend='mpi' for CPU tensors"
        )
    if name not in (Backend.MPI, Backend.GLOO):
        raise ValueError(
            f"[{op}] unknown backend {backend!r}: expected 'mpi' (or its alias 'gloo')"
        )
    if store is not None:
        raise ValueError(f"[{op}] a store is not used: the MPI launcher connects the ranks")
    seconds = _seconds(timeout, op)
    if not _launched_by_mpi():
        wanted = int(os.environ.get("WORLD_SIZE", world_size if world_size != -1 else 1))
        if wanted != 1:
            raise RuntimeError(
                f"[{op}] asked for a world of {wanted} processes, but this process was not started "
                "by an MPI launcher: run it with `python -m pyfastdl.distributed.run -n "
                f"{wanted} script.py` (or mpiexec / srun)"
            )
        if rank not in (-1, 0):
            raise ValueError(f"[{op}] rank {rank} is out of range for a world of one process")
        _World.default = SelfGroup(0, seconds)
    else:
        MPI = mpi()
        comm = MPI.COMM_WORLD
        size, me = comm.Get_size(), comm.Get_rank()
        if world_size not in (-1, size) or rank not in (-1, me):
            raise ValueError(
                f"[{op}] world_size={world_size}, rank={rank} disagree with the MPI launcher's "
                f"world of {size} processes in which this one is rank {me}"
            )
        if _World.watchdog is None:
            _World.watchdog = Watchdog(me, size, lambda: comm.Abort(1))
        _World.default = MPIGroup(comm, list(range(size)), seconds, _World.watchdog)
        if size > 1:
            install_excepthook(me, size, lambda: comm.Abort(1))
    group.WORLD = GroupMember.WORLD = _World.default


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Leaves the world (or frees `group`). MPI itself stays up until the process exits, so
    ``init_process_group`` may run again."""
    if group is not None and group is not _World.default:
        group.free()
        if group in _World.groups:
            _World.groups.remove(group)
        return
    if _World.default is None:
        raise ValueError("[destroy_process_group] the default process group was not initialized")
    for g in _World.groups:
        g.free()
    _World.groups = []
    _World.default = None
    globals()["group"].WORLD = GroupMember.WORLD = None
    uninstall_excepthook()


def default_group(op: str) -> ProcessGroup:
    """The default group, or a named error when init_process_group has not run."""
    pg = _World.default
    if pg is None:
        raise ValueError(
            f"[{op}] the default process group has not been initialized: call "
            "pyfastdl.distributed.init_process_group() first"
        )
    return pg


def resolve(group: Any, op: str) -> ProcessGroup:
    """`group`, or the default group for None; a named error for a group this rank is not in."""
    if group is None or group is GroupMember.WORLD:
        return default_group(op)
    if group is GroupMember.NON_GROUP_MEMBER:
        raise RuntimeError(f"[{op}] this rank is not a member of the group")
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"[{op}] expected a ProcessGroup, got {type(group).__name__}")
    return group


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in `group` (the world by default); -1 if it is not a member."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    return resolve(group, "get_rank").rank


def get_world_size(group: ProcessGroup | None = None) -> int:
    """The number of processes in `group` (the world by default); -1 if not a member."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    return resolve(group, "get_world_size").size()


def get_backend(group: ProcessGroup | None = None) -> str:
    """The backend of `group`: 'mpi', or 'self' for a world of one."""
    return resolve(group, "get_backend").backend


def get_process_group_ranks(group: ProcessGroup) -> list[int]:
    """The global ranks of `group`, in group order."""
    return list(resolve(group, "get_process_group_ranks").ranks)


def new_group(
    ranks: list[int] | None = None, timeout: Any = None, backend: str | None = None, **_: Any
) -> Any:
    """A group of the given global ranks (all of them by default). Every rank of the world must
    call it, members or not, in the same order; non-members get ``GroupMember.NON_GROUP_MEMBER``."""
    op = "new_group"
    world = default_group(op)
    size = world.size()
    members = list(range(size)) if ranks is None else [int(r) for r in ranks]
    if len(set(members)) != len(members) or any(not 0 <= r < size for r in members):
        raise ValueError(f"[{op}] ranks must be distinct and in [0, {size}), got {ranks}")
    seconds = world.timeout if timeout is None else _seconds(timeout, op)
    me = world.rank
    if isinstance(world, SelfGroup):
        created: ProcessGroup = SelfGroup(0, seconds)
    else:
        MPI = mpi()
        comm = world.comm.Create(world.comm.Get_group().Incl(sorted(members)))
        if comm == MPI.COMM_NULL:
            return GroupMember.NON_GROUP_MEMBER
        created = MPIGroup(comm, sorted(members), seconds, world.watchdog)
    if me not in members:
        return GroupMember.NON_GROUP_MEMBER
    _World.groups.append(created)
    return created

"""pyfastdl.distributed: data-parallel training across processes and machines, on MPI.

PyTorch's ``torch.distributed`` names: ``init_process_group``, ``get_rank``,
``get_world_size``, ``barrier``, the collectives on Tensors (``all_reduce``, ``broadcast``,
``all_gather``, ``reduce_scatter``, ``all_to_all``, ...) and process groups. MPI (mpi4py and an
MPI library: ``pip install "pyfastdl[distributed]"``) moves the bytes and an MPI launcher starts
the processes: ``python -m pyfastdl.distributed.run -n 4 train.py`` (a thin wrapper over
``mpiexec``), ``mpiexec``, or Slurm's ``srun``. A process started without one is a world of one.

``nn.parallel.DistributedDataParallel`` averages gradients across the ranks, and
``utils.data.DistributedSampler`` gives each rank its share of a dataset. docs/DISTRIBUTED.md
explains how to run on a cluster and how the step time scales.

A collective that some rank never joins ends the job after the group's timeout (30 minutes by
default, ``init_process_group(timeout=...)``), and an uncaught exception on any rank ends every
rank, each with a message that names the rank -- never a hang.
"""

from __future__ import annotations

from .collectives import (
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_gather_object,
    all_reduce,
    all_to_all,
    all_to_all_single,
    barrier,
    broadcast,
    broadcast_object_list,
    gather,
    irecv,
    isend,
    monitored_barrier,
    recv,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
    send,
)
from .process_group import (
    Backend,
    GroupMember,
    ProcessGroup,
    default_pg_timeout,
    destroy_process_group,
    get_backend,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    new_group,
)

__all__ = [
    "Backend",
    "GroupMember",
    "ProcessGroup",
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
    "default_pg_timeout",
    "destroy_process_group",
    "gather",
    "get_backend",
    "get_process_group_ranks",
    "get_rank",
    "get_world_size",
    "group",
    "init_process_group",
    "irecv",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "is_nccl_available",
    "isend",
    "monitored_barrier",
    "new_group",
    "recv",
    "reduce",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "scatter",
    "send",
]

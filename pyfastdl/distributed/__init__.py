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

from . import collectives, process_group
from .collectives import *  # noqa: F403 - the collectives, listed in collectives.__all__
from .process_group import *  # noqa: F403 - the process group's API, in process_group.__all__

__all__ = sorted([*collectives.__all__, *process_group.__all__])

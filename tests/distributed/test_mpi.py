"""Two MPI ranks on this machine (``mpiexec -n 2``, oversubscribed): the scenarios of
mpi_worker.py, each in one job. Skipped when mpi4py or mpiexec is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mpi4py")

WORKER = Path(__file__).with_name("mpi_worker.py")
MPIEXEC = shutil.which("mpiexec") or str(Path(sys.executable).with_name("mpiexec"))
if not Path(MPIEXEC).exists():
    pytest.skip("no mpiexec", allow_module_level=True)


def launch(scenario: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs a scenario on two ranks; a job still running after `timeout` s fails the test (the
    fault scenarios would run 600 s if the abort did not end every rank)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    # Open MPI refuses to run as root unless told twice (CI containers run as root).
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    command = [MPIEXEC, "-n", "2", "--oversubscribe", sys.executable, str(WORKER), scenario]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.parametrize("scenario", ["collectives", "ddp", "sampler"])
def test_scenario_passes_on_two_ranks(scenario):
    done = launch(scenario)
    assert done.returncode == 0, done.stdout + done.stderr
    for rank in (0, 1):
        assert f"rank {rank}: {scenario} OK" in done.stdout, done.stdout + done.stderr


def test_a_rank_that_raises_ends_every_rank_naming_it():
    done = launch("rank_raises", timeout=120)
    assert done.returncode != 0
    assert "rank 1 of 2 failed" in done.stderr and "deliberate failure on rank 1" in done.stderr
    assert "got past a collective" not in done.stdout


def test_a_collective_that_a_rank_never_joins_times_out():
    done = launch("timeout", timeout=120)
    assert done.returncode != 0
    assert "rank 0 of 2: all_reduce did not complete within 3 s" in done.stderr, done.stderr
    assert "got past a collective" not in done.stdout

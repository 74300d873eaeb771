"""Starts a data-parallel job: ``python -m pyfastdl.distributed.run -n 4 train.py [args...]``.

A thin wrapper over ``mpiexec`` (torchrun's role for pyfastdl): it starts `-n` copies of the
script (or of a module, ``-m pkg.train``) under the same Python, with the script's arguments
passed through untouched, and returns mpiexec's exit status. Each rank then calls
``pyfastdl.distributed.init_process_group()``, which takes the rank and the world size from MPI.
What it adds to a bare ``mpiexec`` call:

- the CPU cores shared out: ``OMP_NUM_THREADS`` is ``--threads-per-rank`` or, on one host with
  more than one rank and no ``OMP_NUM_THREADS`` already set, the host's CPUs divided by the ranks;
  with Open MPI the ranks are not bound to one core each (``--bind-to none``, since Open MPI's
  default for two ranks or fewer would run every thread of a rank on the same core);
- ``--oversubscribe`` with Open MPI when more ranks than CPUs run on one host;
- the variables Open MPI needs to run as root (in containers), and the launcher beside this
  Python when ``mpiexec`` is not on the PATH (``pip install "pyfastdl[distributed]"`` puts mpi4py
  and Open MPI in the environment).

``--dry-run`` prints the command instead of running it. On one 16-CPU host with Open MPI,
``python -m pyfastdl.distributed.run -n 4 train.py --lr 0.1`` runs::

    OMP_NUM_THREADS=4 mpiexec -n 4 --bind-to none -x OMP_NUM_THREADS python train.py --lr 0.1

On several hosts, ``--hostfile hosts`` (one line per host, ``node1 slots=4``) is passed on, and
``-n`` counts the ranks of the whole job. Under Slurm, ``srun`` starts the ranks itself::

    srun --nodes 2 --ntasks-per-node 4 --cpus-per-task 8 --mpi=pmix \\
        --export=ALL,OMP_NUM_THREADS=8 python train.py --lr 0.1

Example:
    >>> build_command(["train.py", "--lr", "0.1"], 2, mpiexec="mpiexec", open_mpi=True,
    ...               threads="4", python="python", cpu_count=8)
    ['mpiexec', '-n', '2', '--bind-to', 'none', '-x', 'OMP_NUM_THREADS', 'python', 'train.py', \
'--lr', '0.1']
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence

__all__ = ["build_command", "find_mpiexec", "is_open_mpi", "main"]

_OP = "pyfastdl.distributed.run"

# What `mpiexec --version` prints for Open MPI (5.x: "mpiexec (Open MPI)", 4.x: "(OpenRTE)") and
# for PRRTE, its launcher since 5.0; MPICH, Intel MPI and MVAPICH print Hydra's build details.
_OPEN_MPI_MARKERS = ("open mpi", "openrte", "prterun", "prrte")

_ROOT_VARIABLES = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}

_MISSING = (
    "[{op}] {what}: the launcher needs an MPI library's mpiexec. Install mpi4py and Open MPI "
    'with pip install "pyfastdl[distributed]" (or a system MPI), or pass --mpiexec PATH'
)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pyfastdl.distributed.run",
        description="Run a training script on several processes with mpiexec: every argument "
        "after the script (or module) goes to it.",
        allow_abbrev=False,
    )
    parser.add_argument(
        "-n",
        "--nproc",
        "--nproc-per-node",
        "--nproc_per_node",
        dest="nproc",
        type=_positive_int,
        default=1,
        help="number of processes (ranks) of the job (default: 1)",
    )
    parser.add_argument("--hostfile", metavar="FILE", help="the hosts to run on (mpiexec's)")
    parser.add_argument(
        "--threads-per-rank",
        metavar="K",
        type=_positive_int,
        help="OMP_NUM_THREADS of each rank (default on one host: the CPUs divided by the ranks, "
        "unless OMP_NUM_THREADS is set)",
    )
    parser.add_argument(
        "--mpiexec",
        metavar="PATH",
        help="the MPI launcher (default: mpiexec on the PATH, else the one beside this Python)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the command and exit without running it"
    )
    parser.add_argument(
        "-m",
        "--module",
        action="store_true",
        help="run the program as a module, like python -m",
    )
    parser.add_argument("script", metavar="script|module", help="the program each rank runs")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the program's arguments")
    return parser


def find_mpiexec(path: str | None = None) -> str | None:
    """The launcher to run: `path` (a file or a name on the PATH) when given, else the
    ``mpiexec`` beside ``sys.executable`` (the environment's own MPI, which its mpi4py was
    installed with), else ``mpiexec`` on the PATH; None when there is none."""
    if path is not None:
        return shutil.which(path)
    beside = shutil.which(os.path.join(os.path.dirname(sys.executable), "mpiexec"))
    return beside if beside is not None else shutil.which("mpiexec")


def is_open_mpi(mpiexec: str) -> bool:
    """Whether `mpiexec` is Open MPI's (else MPICH/Hydra-style options are used)."""
    try:
        done = subprocess.run(
            [mpiexec, "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    text = (done.stdout + done.stderr).lower()
    return any(marker in text for marker in _OPEN_MPI_MARKERS)


def _threads(
    requested: int | None,
    nproc: int,
    hostfile: str | None,
    environ: Mapping[str, str],
    cpu_count: int | None,
) -> str | None:
    """The ranks' OMP_NUM_THREADS (None: leave it to the ranks' default)."""
    if requested is not None:
        return str(requested)
    if environ.get("OMP_NUM_THREADS"):
        return environ["OMP_NUM_THREADS"]  # forwarded as set, to remote hosts too
    if nproc > 1 and hostfile is None:
        return str(max(1, (cpu_count or 1) // nproc))
    return None


def build_command(
    program: Sequence[str],
    nproc: int,
    *,
    mpiexec: str,
    open_mpi: bool,
    threads: str | None = None,
    hostfile: str | None = None,
    module: bool = False,
    python: str | None = None,
    cpu_count: int | None = None,
) -> list[str]:
    """The mpiexec command that runs `program` (a script and its arguments, or a module and its
    arguments when `module`) on `nproc` ranks, each with ``OMP_NUM_THREADS=threads`` when given
    (the caller sets it in mpiexec's environment; Open MPI's ``-x`` forwards it)."""
    cpus = os.cpu_count() if cpu_count is None else cpu_count
    command = [mpiexec, "-n", str(nproc)]
    if open_mpi:
        if nproc > (cpus or 1) and hostfile is None:
            command.append("--oversubscribe")
        if hostfile is not None:
            command += ["--hostfile", hostfile]
        if threads != "1":
            command += ["--bind-to", "none"]
        if threads is not None:
            command += ["-x", "OMP_NUM_THREADS"]
    else:  # MPICH / Hydra: oversubscribing is allowed, and ranks are not bound, by default
        if hostfile is not None:
            command += ["-f", hostfile]
        if threads is not None:
            command += ["-genv", "OMP_NUM_THREADS", threads]
    command.append(sys.executable if python is None else python)
    if module:
        command.append("-m")
    command += list(program)
    return command


def _wait(process: subprocess.Popen) -> int:
    try:
        return process.wait()
    except KeyboardInterrupt:
        # Ctrl-C in a terminal reached mpiexec too; pass it on in case it came only to us, and
        # give mpiexec the time to stop the ranks.
        process.send_signal(signal.SIGINT)
        try:
            return process.wait(timeout=30)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            process.kill()
            return process.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the launcher on `argv` (``sys.argv[1:]`` by default) and returns the exit status:
    mpiexec's, 2 for a usage error or a missing mpiexec."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.hostfile is not None and not os.path.isfile(args.hostfile):
        parser.error(f"--hostfile {args.hostfile!r} is not a file")
    mpiexec = find_mpiexec(args.mpiexec)
    if mpiexec is None:
        what = (
            f"--mpiexec {args.mpiexec!r} is not an executable file or a command on the PATH"
            if args.mpiexec is not None
            else "no mpiexec on the PATH or beside " + sys.executable
        )
        print(_MISSING.format(op=_OP, what=what), file=sys.stderr)
        return 2
    open_mpi = is_open_mpi(mpiexec)
    threads = _threads(args.threads_per_rank, args.nproc, args.hostfile, os.environ, os.cpu_count())
    command = build_command(
        [args.script, *args.args],
        args.nproc,
        mpiexec=mpiexec,
        open_mpi=open_mpi,
        threads=threads,
        hostfile=args.hostfile,
        module=args.module,
    )
    extra_env = {} if threads is None else {"OMP_NUM_THREADS": threads}
    if open_mpi and hasattr(os, "geteuid") and os.geteuid() == 0:
        extra_env.update(_ROOT_VARIABLES)
    if args.dry_run:
        prefix = "".join(f"{name}={shlex.quote(value)} " for name, value in extra_env.items())
        print(prefix + shlex.join(command), flush=True)
        return 0
    try:
        process = subprocess.Popen(command, env={**os.environ, **extra_env})
    except OSError as e:
        print(f"[{_OP}] could not start {mpiexec}: {e}", file=sys.stderr)
        return 2
    code = _wait(process)
    return code if code >= 0 else 128 - code  # killed by a signal: the shell's 128 + signal


if __name__ == "__main__":
    sys.exit(main())

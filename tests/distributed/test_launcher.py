"""The launcher, ``python -m pyfastdl.distributed.run``: the mpiexec command it builds and runs."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import textwrap

import pytest

from pyfastdl.distributed import run

OPEN_MPI = "mpiexec (Open MPI) 5.0.11\n\nReport bugs to https://www.open-mpi.org/community/help/"
HYDRA = "HYDRA build details:\n    Version:                                 4.2.0"


@pytest.fixture
def fake_mpiexec(tmp_path):
    """Writes an executable stand-in for mpiexec that prints `version` for --version, else logs
    its arguments and the variables it was given to a file and exits with `code`."""

    def make(version=OPEN_MPI, code=0):
        log = tmp_path / "mpiexec.log"
        path = tmp_path / "mpiexec"
        path.write_text(
            textwrap.dedent(
                f"""\
                #!{sys.executable}
                import os, sys
                if sys.argv[1:] == ["--version"]:
                    print({version!r})
                    sys.exit(0)
                with open({str(log)!r}, "w") as f:
                    for name in ("OMP_NUM_THREADS", "OMPI_ALLOW_RUN_AS_ROOT",
                                 "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"):
                        f.write(f"{{name}}={{os.environ.get(name)}}\\n")
                    f.write("ARGS " + " ".join(sys.argv[1:]) + "\\n")
                sys.exit({code})
                """
            )
        )
        path.chmod(0o755)
        return str(path), log

    return make


@pytest.fixture
def host(monkeypatch):
    """An 8-CPU host, not root, without OMP_NUM_THREADS set."""
    monkeypatch.setattr(run.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(run.os, "geteuid", lambda: 1000, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def dry_run(capsys, mpiexec, *argv):
    """(the variables set, the command) that --dry-run prints."""
    assert run.main(["--mpiexec", mpiexec, "--dry-run", *argv]) == 0
    words = shlex.split(capsys.readouterr().out)
    env = {}
    while "=" in words[0] and not words[0].startswith("/"):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return env, words


def test_one_host_shares_the_cpus_among_the_ranks(host, fake_mpiexec, capsys):
    mpiexec, _ = fake_mpiexec()
    env, command = dry_run(capsys, mpiexec, "-n", "4", "train.py")
    assert env == {"OMP_NUM_THREADS": "2"}
    assert command == [
        mpiexec, "-n", "4", "--bind-to", "none", "-x", "OMP_NUM_THREADS", sys.executable, "train.py"
    ]  # fmt: skip


def test_one_rank_per_cpu_keeps_open_mpis_binding(host, fake_mpiexec, capsys):
    mpiexec, _ = fake_mpiexec()
    env, command = dry_run(capsys, mpiexec, "--nproc", "8", "train.py")
    assert env == {"OMP_NUM_THREADS": "1"}
    assert command == [mpiexec, "-n", "8", "-x", "OMP_NUM_THREADS", sys.executable, "train.py"]


def test_more_ranks_than_cpus_oversubscribe(host, fake_mpiexec, capsys):
    mpiexec, _ = fake_mpiexec()
    env, command = dry_run(capsys, mpiexec, "-n", "12", "train.py")
    assert env == {"OMP_NUM_THREADS": "1"}
    assert command[:4] == [mpiexec, "-n", "12", "--oversubscribe"]


def test_one_rank_gets_every_cpu(host, fake_mpiexec, capsys):
    mpiexec, _ = fake_mpiexec()
    env, command = dry_run(capsys, mpiexec, "train.py")
    assert env == {}
    assert command == [mpiexec, "-n", "1", "--bind-to", "none", sys.executable, "train.py"]


def test_hostfile_is_passed_on_and_neither_oversubscribes_nor_sets_threads(
    host, fake_mpiexec, capsys, tmp_path
):
    mpiexec, _ = fake_mpiexec()
    hosts = tmp_path / "hosts"
    hosts.write_text("node1 slots=8\nnode2 slots=8\n")
    env, command = dry_run(capsys, mpiexec, "-n", "16", "--hostfile", str(hosts), "train.py")
    assert env == {}
    assert command == [
        mpiexec, "-n", "16", "--hostfile", str(hosts), "--bind-to", "none", sys.executable,
        "train.py",
    ]  # fmt: skip
    env, command = dry_run(
        capsys, mpiexec, "-n", "16", "--hostfile", str(hosts), "--threads-per-rank", "4", "t.py"
    )
    assert env == {"OMP_NUM_THREADS": "4"}
    assert command[3:9] == ["--hostfile", str(hosts), "--bind-to", "none", "-x", "OMP_NUM_THREADS"]


def test_threads_per_rank_and_omp_num_threads_win(host, fake_mpiexec, capsys, monkeypatch):
    mpiexec, _ = fake_mpiexec()
    env, command = dry_run(capsys, mpiexec, "-n", "2", "--threads-per-rank", "3", "train.py")
    assert env == {"OMP_NUM_THREADS": "3"}
    assert "-x" in command
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    env, command = dry_run(capsys, mpiexec, "-n", "2", "train.py")
    assert env == {"OMP_NUM_THREADS": "1"}  # kept, and forwarded to every rank
    assert command == [mpiexec, "-n", "2", "-x", "OMP_NUM_THREADS", sys.executable, "train.py"]
    env, _ = dry_run(capsys, mpiexec, "-n", "2", "--threads-per-rank", "2", "train.py")
    assert env == {"OMP_NUM_THREADS": "2"}


def test_a_module_and_the_programs_arguments_pass_through_untouched(host, fake_mpiexec, capsys):
    mpiexec, _ = fake_mpiexec()
    args = ["--lr", "0.1", "-n", "5", "--dry-run", "--hostfile", "x", "-m", "--", "a b"]
    _, command = dry_run(capsys, mpiexec, "-n", "2", "-m", "pkg.train", *args)
    assert command[-len(args) - 3 :] == [sys.executable, "-m", "pkg.train", *args]
    _, command = dry_run(capsys, mpiexec, "--nproc-per-node", "2", "train.py", *args)
    assert command[2] == "2"
    assert command[-len(args) - 2 :] == [sys.executable, "train.py", *args]
    _, command = dry_run(capsys, mpiexec, "--nproc_per_node=3", "--", "train.py", "--lr", "1")
    assert command[2] == "3" and command[-3:] == ["train.py", "--lr", "1"]


def test_root_needs_open_mpis_permission(host, fake_mpiexec, capsys, monkeypatch):
    monkeypatch.setattr(run.os, "geteuid", lambda: 0, raising=False)
    mpiexec, _ = fake_mpiexec()
    env, _ = dry_run(capsys, mpiexec, "train.py")
    assert env == {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    hydra, _ = fake_mpiexec(version=HYDRA)
    env, _ = dry_run(capsys, hydra, "train.py")
    assert env == {}


def test_mpich_hydra_gets_its_own_options(host, fake_mpiexec, capsys, tmp_path):
    mpiexec, _ = fake_mpiexec(version=HYDRA)
    env, command = dry_run(capsys, mpiexec, "-n", "12", "train.py", "--lr", "0.1")
    assert env == {"OMP_NUM_THREADS": "1"}
    assert command == [
        mpiexec, "-n", "12", "-genv", "OMP_NUM_THREADS", "1", sys.executable, "train.py", "--lr",
        "0.1",
    ]  # fmt: skip
    hosts = tmp_path / "hosts"
    hosts.write_text("node1\n")
    _, command = dry_run(capsys, mpiexec, "-n", "2", "--hostfile", str(hosts), "train.py")
    assert command == [mpiexec, "-n", "2", "-f", str(hosts), sys.executable, "train.py"]


def test_it_runs_mpiexec_and_returns_its_exit_status(host, fake_mpiexec, monkeypatch):
    monkeypatch.setattr(run.os, "geteuid", lambda: 0, raising=False)
    mpiexec, log = fake_mpiexec(code=3)
    assert run.main(["--mpiexec", mpiexec, "-n", "2", "train.py", "--lr", "0.1"]) == 3
    assert log.read_text().splitlines() == [
        "OMP_NUM_THREADS=4",
        "OMPI_ALLOW_RUN_AS_ROOT=1",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
        f"ARGS -n 2 --bind-to none -x OMP_NUM_THREADS {sys.executable} train.py --lr 0.1",
    ]
    assert "OMP_NUM_THREADS" not in os.environ, "the launcher's own environment is unchanged"
    mpiexec, _ = fake_mpiexec(code=0)
    assert run.main(["--mpiexec", mpiexec, "train.py"]) == 0


def test_no_mpiexec_is_a_clear_error(host, monkeypatch, capsys, tmp_path):
    with monkeypatch.context() as m:
        m.setattr(run.shutil, "which", lambda *args, **kwargs: None)
        assert run.main(["-n", "2", "train.py"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("[pyfastdl.distributed.run] no mpiexec on the PATH or beside ")
    assert 'pip install "pyfastdl[distributed]"' in err
    assert run.main(["--mpiexec", str(tmp_path / "missing" / "mpiexec"), "train.py"]) == 2
    err = capsys.readouterr().err
    assert "--mpiexec" in err and 'pip install "pyfastdl[distributed]"' in err


@pytest.mark.parametrize(
    "argv",
    [
        ["-n", "0", "train.py"],
        ["-n", "two", "train.py"],
        ["--threads-per-rank", "0", "train.py"],
        ["--hostfile", "/nonexistent/hosts", "train.py"],
        ["-n", "2"],
    ],
)
def test_usage_errors_exit_with_2(argv, capsys):
    with pytest.raises(SystemExit) as raised:
        run.main(argv)
    assert raised.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_a_real_job_of_two_ranks(tmp_path):
    pytest.importorskip("mpi4py")
    if run.find_mpiexec() is None:
        pytest.skip("no mpiexec")
    script = tmp_path / "job.py"
    script.write_text(
        textwrap.dedent(
            """\
            import os
            import sys

            import pyfastdl.distributed as dist

            dist.init_process_group()
            rank, size = dist.get_rank(), dist.get_world_size()
            print(f"rank {rank} of {size} OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')} "
                  f"args={sys.argv[1:]}", flush=True)
            dist.barrier()
            dist.destroy_process_group()
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    done = subprocess.run(
        [sys.executable, "-m", "pyfastdl.distributed.run", "-n", "2", str(script), "--lr", "0.1"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    threads = max(1, (os.cpu_count() or 1) // 2)
    lines = sorted(line for line in done.stdout.splitlines() if line.startswith("rank "))
    assert lines == [
        f"rank {r} of 2 OMP_NUM_THREADS={threads} args=['--lr', '0.1']" for r in (0, 1)
    ], done.stdout + done.stderr

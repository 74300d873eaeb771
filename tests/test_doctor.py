"""python -m pyfastdl doctor: its sections, and an exit status of 1 when a kernel is wrong."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pyfastdl.bench import doctor

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("== build", "== cpu", "== threads", "== optional dependencies", "== kernels")


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_the_command_prints_every_section_and_passes():
    result = subprocess.run(
        [sys.executable, "-m", "pyfastdl", "doctor", "--ops", "gemm,softmax_forward"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    positions = [out.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    assert "_C: loaded" in out and "_cuda:" in out
    assert "path chosen:" in out and "paths supported: generic" in out
    assert "get_num_threads:" in out and "OpenMP runtime:" in out
    for name in ("torch", "cupy", "mpi4py", "matplotlib", "PIL", "safetensors", "gymnasium", "jax"):
        assert f"  {name}: " in out
    assert "ok   gemm/native" in out and "ok   softmax_forward/native" in out
    assert "kernels: 2 checked, 0 failed" in out


def test_a_wrong_default_kernel_fails_with_exit_status_1():
    result = run(
        """
        import sys
        from pyfastdl import kernels
        from pyfastdl.__main__ import main

        def bad_softmax(x, y):
            kernels.reference.softmax_forward(x, y)
            y *= 1.5

        kernels.register("softmax_forward/bad", bad_softmax, default=True)
        sys.exit(main(["doctor", "--ops", "softmax_forward"]))
        """
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL softmax_forward/bad" in result.stdout
    assert "max rel error" in result.stdout
    assert "kernels: 1 checked, 1 failed" in result.stdout


def test_in_process_sections_all_versions_and_bad_options(capsys):
    lines: list[str] = []
    assert doctor.main(["--no-check"], write=lines.append) == 0
    assert [line for line in lines if line.startswith("==")] == list(SECTIONS[:-1])
    lines.clear()
    assert doctor.main(["--ops", "rnn_cell_forward", "--all"], write=lines.append) == 0
    assert any(line.startswith("  ok   rnn_cell_forward/native") for line in lines)
    with pytest.raises(SystemExit) as info:  # argparse's usage error
        doctor.main(["--ops", "no_such_op"], write=lines.append)
    assert info.value.code == 2
    assert "[doctor] unknown kernel(s) no_such_op" in capsys.readouterr().err
    with pytest.raises(KeyError, match=r"^.\[doctor\] unknown kernel"):
        doctor.check_kernels(["no_such_op"])


def test_the_cli_lists_doctor():
    from pyfastdl.__main__ import COMMANDS

    assert "doctor" in COMMANDS

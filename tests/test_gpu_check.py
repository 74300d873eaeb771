"""tools/gpu_check.sh, the one-shot check of the CUDA backend on a GPU machine, run here with fake
nvidia-smi, nvcc, compute-sanitizer and a fake Python for pip, pytest and the benchmark: the
stage runner (limits, timeouts, skips, the build stopping the run), the report and the logs."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

from pyfastdl import cuda
from pyfastdl.kernels.reference import KERNELS

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "gpu_check.sh"

pytestmark = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("timeout") is None,
    reason="needs bash and coreutils' timeout",
)

FAKES = {
    "nvidia-smi": """\
case "$*" in
  *-L*) echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-fake)" ;;
  *compute_cap*) echo "9.0" ;;
  *) echo "name, driver_version"; echo "NVIDIA H100 80GB HBM3, 550.54" ;;
esac
""",
    "nvcc": 'echo "nvcc: NVIDIA (R) Cuda compiler driver"; echo "Cuda compilation tools, 12.4"\n',
    "compute-sanitizer": """\
[[ $1 == --version ]] && { echo "NVIDIA (R) Compute Sanitizer 2024.1"; exit 0; }
echo "$* SUBSET=$PYFASTDL_SANITIZE_SUBSET TOOL=$PYFASTDL_SANITIZER" >>"$FAKE_DIR/sanitizer_calls"
if [[ -n ${FAKE_SANITIZER_OLD:-} && "$*" == *--report-api-errors* ]]; then
  echo "Unrecognized option: --report-api-errors"; exit 1
fi
echo "========= COMPUTE-SANITIZER"
errors=${FAKE_SANITIZER_ERRORS:-0}
((errors)) && echo "========= Invalid __global__ write of size 4 bytes"
echo "2 passed in 3.10s"
echo "========= ERROR SUMMARY: $errors errors"
((errors)) && exit 9
exit 0
""",
    "python": """\
if [[ $1 == - ]]; then
  script=$(cat)
  if [[ $script == *"registered on cuda"* ]]; then
    echo "11 of 45 ops have a native kernel registered on cuda:"; exit "${FAKE_IMPORT_RC:-0}"
  fi
  echo "python 3.11 (fake)"; echo "numpy 2.0"; exit 0
fi
case "$1 $2" in
  "-m pip")
    echo "PYFASTDL_CUDA=$PYFASTDL_CUDA ARCHS=$PYFASTDL_CUDA_ARCHITECTURES $*" | tee "$FAKE_DIR/build_call"
    echo "-- pyfastdl: building the CUDA module (/usr/bin/nvcc, 90)"
    if [[ ${FAKE_BUILD_RC:-0} != 0 ]]; then
      echo "cuda/gemm.cu(12): error: identifier \\"tile\\" is undefined"; exit "$FAKE_BUILD_RC"
    fi
    echo "Successfully installed pyfastdl-0.1.0" ;;
  "-m pytest")
    echo "$*" >"$FAKE_DIR/pytest_call"
    sleep "${FAKE_PYTEST_SLEEP:-0}"
    echo "....                                   [100%]"
    echo "4 passed in 0.50s"
    exit "${FAKE_PYTEST_RC:-0}" ;;
  "-m pyfastdl")
    echo "$*" >>"$FAKE_DIR/bench_calls"
    echo "pyfastdl bench --device cuda"
    echo "gemm 2048      40.1    50.2      0.80x" ;;
  *) echo "fake python: unexpected $*" >&2; exit 3 ;;
esac
""",
}


def fake_env(tmp_path: pathlib.Path, **env: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in FAKES.items():
        path = bin_dir / name
        path.write_text("#!/usr/bin/env bash\n" + body)
        path.chmod(0o755)
    out = dict(os.environ)
    out.update(
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        PYTHON=str(bin_dir / "python"),
        FAKE_DIR=str(tmp_path),
        OUT=str(tmp_path / "out"),
        GPU_CHECK_MIN_STAGE="1",
    )
    for key in (
        "CMAKE_ARGS",
        "PYFASTDL_CUDA_ARCHS",
        "PYFASTDL_SANITIZE_SUBSET",
        "GPU_CHECK_BUDGET",
    ):
        out.pop(key, None)
    out.update(env)
    return out


def run_check(tmp_path: pathlib.Path, cwd: pathlib.Path | None = None, **env: str):
    res = subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=cwd or ROOT,
        env=fake_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return res, tmp_path / "out"


def stage_rows(out: pathlib.Path) -> dict[str, list[str]]:
    lines = (out / "stages.tsv").read_text().splitlines()[1:]
    return {f"{cells[0]} {cells[1]}": cells[2:] for cells in (line.split("\t") for line in lines)}


def test_every_stage_passes(tmp_path):
    res, out = run_check(tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    rows = stage_rows(out)
    assert list(rows) == [
        "a info",
        "b1 build",
        "b2 import check",
        "c tests",
        "d1 memcheck",
        "d2 racecheck",
        "e1 bench --quick",
        "e2 bench (full)",
    ]
    assert all(cells[0] == "ok" for cells in rows.values()), rows
    report = (out / "gpu_report.md").read_text()
    assert "| b1 build | ok | 0 |" in report and "NVIDIA H100 80GB HBM3" in report
    assert "4 passed in 0.50s" in report and "ERROR SUMMARY: 0 errors" in report
    assert "gemm 2048      40.1" in report and "11 of 45 ops" in report
    build = (tmp_path / "build_call").read_text()
    assert "PYFASTDL_CUDA=ON" in build and "ARCHS=90" in build
    assert "--no-build-isolation --no-deps --no-index" in build and "-e ." in build
    pytest_call = (tmp_path / "pytest_call").read_text()
    assert "-m pytest -m cuda -q -x --no-header -p no:cacheprovider tests/cuda" in pytest_call
    assert f"--junitxml={out}/pytest_cuda.xml" in pytest_call
    memcheck, racecheck = (tmp_path / "sanitizer_calls").read_text().splitlines()
    assert memcheck.startswith("--tool memcheck --error-exitcode 9 --report-api-errors no")
    assert (
        "test_kernels_cuda.py -k not slow and not reference_runs_on_cupy -p gpu_check_nopool"
        in memcheck
    )
    assert memcheck.endswith("SUBSET= TOOL=memcheck")
    assert racecheck.startswith("--tool racecheck")
    subset = "gemm,conv2d_forward,attention_forward,attention_backward,softmax_forward"
    assert racecheck.endswith(
        f"SUBSET={subset},layer_norm_forward,batchnorm_forward_train TOOL=racecheck"
    )
    assert all(op in KERNELS for op in subset.split(","))  # op names, as the test file takes
    bench = (tmp_path / "bench_calls").read_text().splitlines()
    assert bench == [
        f"-m pyfastdl bench --device cuda --quick --json {out}/bench_quick.json",
        f"-m pyfastdl bench --device cuda --json {out}/bench_full.json",
    ]
    for log in ("info", "build", "import", "pytest_cuda", "memcheck", "racecheck", "bench_quick"):
        assert (out / f"{log}.log").stat().st_size > 0, log
    assert "[gpu_check] stages:" in res.stdout


def test_a_failed_build_stops_the_run(tmp_path):
    res, out = run_check(tmp_path, cwd=tmp_path, OUT="", FAKE_BUILD_RC="2")
    out = tmp_path / "gpu_check_out"  # OUT empty: the default, under the caller's directory
    assert res.returncode == 1
    rows = stage_rows(out)
    assert rows["b1 build"][:2] == ["failed", "2"]
    later = [name for name in rows if name[0] in "cde" or name.startswith("b2")]
    assert len(later) == 6 and all(rows[n][0] == "not run" for n in later)
    report = (out / "gpu_report.md").read_text()
    assert 'error: identifier "tile" is undefined' in report
    assert "the build failed: nothing else can run" in report
    assert not (out / "pytest_cuda.log").exists()


def test_a_stage_out_of_time_is_stopped_and_the_next_one_runs(tmp_path):
    res, out = run_check(
        tmp_path, GPU_CHECK_CAP_TESTS="2", FAKE_PYTEST_SLEEP="30", GPU_CHECK_FULL_BENCH_MIN="9999"
    )
    assert res.returncode == 1
    rows = stage_rows(out)
    assert rows["c tests"][0] == "timeout" and rows["c tests"][-1] == "stopped after 2s"
    assert int(rows["c tests"][2]) < 15  # the fake's sleep was killed
    assert rows["d1 memcheck"][0] == "ok" and rows["e1 bench --quick"][0] == "ok"
    assert rows["e2 bench (full)"][0] == "not run"
    assert "| c tests | timeout | 124 |" in (out / "gpu_report.md").read_text()


def test_sanitizer_findings_and_an_older_sanitizer(tmp_path):
    res, out = run_check(tmp_path, FAKE_SANITIZER_ERRORS="3", FAKE_PYTEST_RC="1")
    assert res.returncode == 1
    rows = stage_rows(out)
    assert (
        rows["d1 memcheck"][:2] == ["failed", "9"] and "sanitizer errors" in rows["d1 memcheck"][-1]
    )
    assert rows["c tests"][-1] == "tests failed"
    report = (out / "gpu_report.md").read_text()
    assert "ERROR SUMMARY: 3 errors" in report and "Invalid __global__ write" in report

    older = tmp_path / "older"
    older.mkdir()
    res, out = run_check(older, FAKE_SANITIZER_OLD="1")
    rows = stage_rows(out)
    assert rows["d1 memcheck"][0] == "failed"
    assert rows["d1 memcheck (plain options)"][0] == "ok"
    assert rows["d2 racecheck (plain options)"][0] == "ok"
    assert res.returncode == 0  # the options were refused, the checks themselves passed


def test_without_time_the_stages_are_skipped(tmp_path):
    res, out = run_check(tmp_path, GPU_CHECK_BUDGET="30", GPU_CHECK_MIN_STAGE="15")
    assert res.returncode == 1
    rows = stage_rows(out)
    assert rows["a info"][0] == "skipped" and "not enough time left" in rows["a info"][-1]
    assert rows["b1 build"][0] == "skipped" and rows["c tests"][0] == "not run"
    assert "| a info | skipped |" in (out / "gpu_report.md").read_text()


def test_info_and_import_subcommands_with_the_real_python(tmp_path):
    env = fake_env(tmp_path, PYTHON=sys.executable)
    info = subprocess.run(
        ["bash", str(SCRIPT), "__info"], env=env, capture_output=True, text=True, timeout=120
    )
    assert info.returncode == 0, info.stderr
    assert "GPU 0: NVIDIA H100" in info.stdout and "## python packages" in info.stdout
    assert f"numpy {np.__version__}" in info.stdout
    assert "cupy " in info.stdout  # a version, or MISSING with the reason
    imported = subprocess.run(
        ["bash", str(SCRIPT), "__import"], env=env, capture_output=True, text=True, timeout=120
    )
    assert "ops have a native kernel registered on cuda" in imported.stdout, imported.stdout
    assert "is_available" in imported.stdout
    assert (imported.returncode == 0) == cuda.is_available()


def test_the_nopool_plugin(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    import gpu_check_nopool

    calls = []
    cuda = types.SimpleNamespace(
        set_allocator=lambda a: calls.append(("device", a)),
        set_pinned_memory_allocator=lambda a: calls.append(("pinned", a)),
    )
    monkeypatch.setitem(sys.modules, "cupy", types.SimpleNamespace(cuda=cuda))
    gpu_check_nopool.pytest_configure(None)
    assert calls == [("device", None), ("pinned", None)]
    monkeypatch.setitem(sys.modules, "cupy", None)  # not installed: nothing happens
    gpu_check_nopool.pytest_configure(None)


def test_the_script_parses_and_lints():
    assert subprocess.run(["bash", "-n", str(SCRIPT)], check=False).returncode == 0
    shellcheck = shutil.which("shellcheck")
    if shellcheck is not None:  # where it is installed
        res = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True, check=False)
        assert res.returncode == 0, res.stdout

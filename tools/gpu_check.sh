#!/usr/bin/env bash
# tools/gpu_check.sh -- one pass over pyfastdl's CUDA backend on a GPU machine: build, tests,
# compute-sanitizer, benchmark, and a report. No installs (besides pyfastdl itself, editable),
# no network.
#
#   bash tools/gpu_check.sh                 # from the repository root
#   OUT=/some/dir bash tools/gpu_check.sh   # where the report and logs go (default ./gpu_check_out)
#
# Stages, each under `timeout` with its own limit; a stage that fails or runs out of time is
# recorded and the next one runs -- except the build, without which nothing else can run:
#   a  info         nvidia-smi -L, versions (python, numpy, cupy, torch, nvcc, cmake, ...)
#   b  build        PYFASTDL_CUDA=ON pip install --no-build-isolation --no-deps -e .
#                   (for the GPU's own architecture only, read from nvidia-smi: half the nvcc
#                   time; PYFASTDL_CUDA_ARCHS overrides it), then an import check listing the
#                   kernels registered on 'cuda'
#   c  tests        pytest -m cuda tests/cuda (JUnit XML beside the log)
#   d  sanitizers   compute-sanitizer memcheck, then racecheck, on tests/cuda/test_kernels_cuda.py
#                   -k "not slow" (less its test of the references on CuPy: no kernel of ours,
#                   and it runs last, where a time limit would cut the sanitizer's summary off);
#                   CuPy's and PyTorch's memory pools are off (memcheck then sees each array's
#                   own bounds); racecheck gets PYFASTDL_SANITIZE_SUBSET (op names,
#                   comma-separated), the ops the test file then runs
#   e  bench        python -m pyfastdl bench --device cuda --quick, then the full run when at
#                   least GPU_CHECK_FULL_BENCH_MIN seconds are left
#   f  report       $OUT/gpu_report.md: per stage status, duration, key lines (pytest summary,
#                   sanitizer summaries, the benchmark tables); every raw log in $OUT. Written
#                   again after each stage, so a run stopped from outside keeps what it did.
#
# Budget: GPU_CHECK_BUDGET seconds in all (default 480, 8 minutes). A stage runs under the
# smaller of its cap and the time left, less what later stages are promised (the quick
# benchmark: BENCH_RESERVE seconds, promised from the build on; the report: 5); under
# GPU_CHECK_MIN_STAGE seconds (default 15), the stage is skipped. The caps (seconds) are
# GPU_CHECK_CAP_<STAGE> (INFO, BUILD, IMPORT, TESTS, MEMCHECK, RACECHECK, BENCH) in the
# environment, defaults below.
#
# Exit status: 0 when every stage passed, 1 otherwise (the report says which).
set -uo pipefail

# ------------------------------------------------------------------------------------ settings
BUDGET=${GPU_CHECK_BUDGET:-480}
MIN_STAGE=${GPU_CHECK_MIN_STAGE:-15}
CAP_INFO=${GPU_CHECK_CAP_INFO:-40}
CAP_BUILD=${GPU_CHECK_CAP_BUILD:-300}
CAP_IMPORT=${GPU_CHECK_CAP_IMPORT:-60}
CAP_TESTS=${GPU_CHECK_CAP_TESTS:-120}
CAP_MEMCHECK=${GPU_CHECK_CAP_MEMCHECK:-100}
CAP_RACECHECK=${GPU_CHECK_CAP_RACECHECK:-70}
CAP_BENCH=${GPU_CHECK_CAP_BENCH:-100}
BENCH_RESERVE=${GPU_CHECK_BENCH_RESERVE:-75}
FULL_BENCH_MIN=${GPU_CHECK_FULL_BENCH_MIN:-90}
REPORT_RESERVE=5
# Ops whose kernels share memory within a block (tiles, block reductions): racecheck's subset
# (tests/cuda/test_kernels_cuda.py runs only these ops when PYFASTDL_SANITIZE_SUBSET is set)
SANITIZE_SUBSET=${PYFASTDL_SANITIZE_SUBSET:-gemm,conv2d_forward,attention_forward,attention_backward,softmax_forward,layer_norm_forward,batchnorm_forward_train}

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
OUT=${OUT:-./gpu_check_out}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
export OUT

if [[ -z ${PYTHON:-} ]]; then
  PYTHON=$(command -v python || command -v python3 || echo python)
fi
export PYTHON

# nvcc and compute-sanitizer live in the CUDA toolkit's bin/, not always on PATH
for dir in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda; do
  if [[ -n $dir && -x $dir/bin/nvcc ]] && ! command -v nvcc >/dev/null; then
    export PATH="$dir/bin:$PATH"
  fi
done
SANITIZER=$(command -v compute-sanitizer || true)
for candidate in /usr/local/cuda/bin/compute-sanitizer \
  /usr/local/cuda/compute-sanitizer/compute-sanitizer; do
  [[ -z $SANITIZER && -x $candidate ]] && SANITIZER=$candidate
done
export SANITIZER

STAGES="$OUT/stages.tsv"
REPORT="$OUT/gpu_report.md"
TRACE="$OUT/gpu_check.log"

# ------------------------------------------------------------------------------- sub-commands
# Stages made of several commands run as `bash tools/gpu_check.sh __<name>` so that `timeout`
# can hold them as one process.

info_main() {
  echo "## nvidia-smi -L"
  nvidia-smi -L 2>&1 || echo "(nvidia-smi failed or is missing: exit $?)"
  echo
  echo "## nvidia-smi --query-gpu"
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm \
    --format=csv 2>&1 || echo "(query failed)"
  echo
  echo "## nvcc --version"
  nvcc --version 2>&1 | tail -n 2 || echo "(nvcc missing)"
  echo
  echo "## compute-sanitizer --version"
  if [[ -n $SANITIZER ]]; then "$SANITIZER" --version 2>&1 | head -n 4; else echo "(missing)"; fi
  echo
  echo "## build tools"
  cmake --version 2>&1 | head -n 1 || echo "(cmake missing)"
  echo "ninja $(ninja --version 2>&1 || echo '(missing)')"
  echo "g++: $(g++ --version 2>&1 | head -n 1)"
  echo "nproc: $(nproc 2>&1)"
  echo
  echo "## python packages ($PYTHON)"
  "$PYTHON" - <<'PY' 2>&1
import importlib
import platform
import sys

print("python", platform.python_version(), sys.executable)
for name in ("numpy", "tqdm", "safetensors", "cupy", "torch", "pybind11", "scikit_build_core",
             "pytest"):
    try:
        module = importlib.import_module(name)
        print(f"{name} {getattr(module, '__version__', '?')}")
    except Exception as exc:  # noqa: BLE001 - every package is reported, found or not
        print(f"{name} MISSING ({type(exc).__name__}: {exc})")
try:
    import cupy

    runtime = cupy.cuda.runtime
    print("cupy: CUDA runtime", runtime.runtimeGetVersion(), "driver", runtime.driverGetVersion(),
          "devices", runtime.getDeviceCount())
except Exception as exc:  # noqa: BLE001
    print(f"cupy: no CUDA ({type(exc).__name__}: {exc})")
try:
    import torch

    print("torch: CUDA", torch.version.cuda, "available", torch.cuda.is_available(),
          "cuDNN", torch.backends.cudnn.version() if torch.cuda.is_available() else None)
except Exception as exc:  # noqa: BLE001
    print(f"torch: no CUDA ({type(exc).__name__}: {exc})")
PY
  echo
  echo "## source tree"
  echo "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), files changed:" \
    "$(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l)"
  echo "CUDA_HOME=${CUDA_HOME:-} PYFASTDL_CUDA_ARCHS=${PYFASTDL_CUDA_ARCHS:-}" \
    "CMAKE_ARGS=${CMAKE_ARGS:-}"
}

import_main() {
  "$PYTHON" - <<'PY' 2>&1
# The kernels registered on 'cuda' after the build (the import check of stage b)
import sys

import pyfastdl
import pyfastdl.cuda as cuda
from pyfastdl import kernels
from pyfastdl._native import cuda_module
from pyfastdl.kernels import reference

module = cuda_module()
print("pyfastdl", pyfastdl.__version__, "from", pyfastdl.__file__)
print("pyfastdl._cuda:", None if module is None else module.__file__)
print("device_count", cuda.device_count(), "is_available", cuda.is_available())
if cuda.device_count():
    print("device 0:", cuda.get_device_name(0))
native = sorted(op for op in reference.KERNELS if "native" in kernels.versions(op, "cuda"))
print(f"{len(native)} of {len(reference.KERNELS)} ops have a native kernel registered on cuda:")
for op in native:
    print(f"  {op}: {', '.join(kernels.versions(op, 'cuda'))}")
print("without one:", ", ".join(op for op in reference.KERNELS if op not in native) or "none")
sys.exit(0 if module is not None and cuda.is_available() else 1)
PY
}

case ${1:-} in
  __info)
    info_main
    exit $?
    ;;
  __import)
    cd "$ROOT" && import_main
    exit $?
    ;;
esac

# ---------------------------------------------------------------------------- stage machinery
cd "$ROOT" || exit 1
printf 'id\ttitle\tstatus\trc\tseconds\tlimit\tlog\tnote\n' >"$STAGES"
: >"$TRACE"
log() { echo "[gpu_check $(date +%T) +${SECONDS}s] $*" | tee -a "$TRACE"; }

# record ID TITLE STATUS RC SECONDS LIMIT LOG NOTE
record() {
  local IFS=$'\t'
  echo "$*" >>"$STAGES"
}

# run_stage ID TITLE CAP RESERVE LOG COMMAND...: runs COMMAND under timeout, output in $OUT/LOG;
# returns its exit status (124/137: out of time; 200: skipped for lack of time)
run_stage() {
  local id=$1 title=$2 cap=$3 reserve=$4 logfile=$5
  shift 5
  local left=$((BUDGET - SECONDS - REPORT_RESERVE - reserve))
  local limit=$((cap < left ? cap : left))
  if ((limit < MIN_STAGE)); then
    log "$id $title: skipped (${left}s left for it)"
    record "$id" "$title" "skipped" "-" 0 "$limit" "-" "not enough time left (${left}s)"
    write_report
    return 200
  fi
  local shown
  shown=$(printf '%q ' "$@")
  log "$id $title (limit ${limit}s): $shown"
  {
    echo "\$ $shown"
    echo
  } >"$OUT/$logfile"
  local start=$SECONDS rc
  timeout --kill-after=10 "$limit" "$@" >>"$OUT/$logfile" 2>&1 </dev/null
  rc=$?
  local seconds=$((SECONDS - start)) status note=""
  case $rc in
    0) status=ok ;;
    124 | 137)
      status=timeout
      note="stopped after ${limit}s"
      ;;
    *) status=failed ;;
  esac
  if [[ $status == failed && $id == c* || $status == failed && $id == d* ]]; then
    case $rc in # pytest's exit statuses
      1) note="tests failed" ;;
      2) note="interrupted" ;;
      3) note="pytest internal error" ;;
      4) note="pytest usage error (path missing?)" ;;
      5) note="no tests collected or selected" ;;
      9) note="sanitizer errors (--error-exitcode 9)" ;;
    esac
  fi
  log "$id $title: $status (exit $rc, ${seconds}s)"
  record "$id" "$title" "$status" "$rc" "$seconds" "$limit" "$logfile" "$note"
  write_report
  return "$rc"
}

not_run() { # not_run ID TITLE WHY
  record "$1" "$2" "not run" "-" 0 0 "-" "$3"
}

# ------------------------------------------------------------------------------------- report
fence() { # fence FILE [head|tail|all] N: a text block of part of FILE
  local file=$1 how=$2 n=$3
  echo '```text'
  if [[ ! -s $file ]]; then
    echo "(no output)"
  elif [[ $how == head ]]; then
    head -n "$n" "$file"
  elif [[ $how == tail ]]; then
    tail -n "$n" "$file"
  else
    cat "$file"
  fi
  echo '```'
}

grep_fence() { # grep_fence FILE REGEX N: the first N lines of FILE matching REGEX, as text
  local lines
  lines=$(grep -E -- "$2" "$1" 2>/dev/null | head -n "$3")
  echo '```text'
  if [[ -n $lines ]]; then echo "$lines"; else echo "(no line matches /$2/)"; fi
  echo '```'
}

PYTEST_SUMMARY='^(=+ )?[0-9]+ (passed|failed|errors?|skipped|deselected|xfailed|xpassed)|no tests ran|^(FAILED|ERROR) |^E +[A-Za-z]+Error'

key_lines() { # key_lines ID STATUS LOG: what the report shows of a stage
  local id=$1 status=$2 file="$OUT/$3"
  [[ $3 == - || ! -e $file ]] && return
  case $id in
    a*)
      fence "$file" all 0
      ;;
    b1)
      if [[ $status == ok ]]; then
        grep_fence "$file" 'CUDA module|Successfully installed|[Ww]arning' 20
      else
        echo "Errors (first 40 lines naming one):"
        grep_fence "$file" '[Ee]rror|FAILED|fatal' 40
        echo "End of the log:"
        fence "$file" tail 40
      fi
      ;;
    b2)
      fence "$file" tail 60
      ;;
    c*)
      grep_fence "$file" "$PYTEST_SUMMARY" 60
      [[ $status != ok ]] && echo "End of the log:" && fence "$file" tail 30
      ;;
    d*)
      echo "Sanitizer summaries and the first findings:"
      grep_fence "$file" 'ERROR SUMMARY|RACECHECK SUMMARY|LEAK SUMMARY|^========= [^ ]' 60
      echo "pytest:"
      grep_fence "$file" "$PYTEST_SUMMARY" 20
      [[ $status != ok ]] && echo "End of the log:" && fence "$file" tail 25
      ;;
    e*)
      fence "$file" tail 160
      ;;
  esac
}

write_report() {
  {
    echo "# pyfastdl GPU check"
    echo
    echo "- date: $(date -Is 2>/dev/null || date)"
    echo "- host: $(hostname 2>/dev/null || echo '?'); GPU: ${GPU_LINE:-?}"
    echo "- budget: ${BUDGET}s, used ${SECONDS}s; logs in $OUT"
    echo
    echo "| stage | status | exit | seconds | limit | log | note |"
    echo "|---|---|--:|--:|--:|---|---|"
    tail -n +2 "$STAGES" | while IFS=$'\t' read -r id title status rc seconds limit logfile note; do
      echo "| $id $title | $status | $rc | $seconds | $limit | $logfile | $note |"
    done
    tail -n +2 "$STAGES" | while IFS=$'\t' read -r id title status rc seconds limit logfile note; do
      [[ $status == "not run" || $status == skipped ]] && continue
      echo
      echo "## $id $title: $status ($seconds s)"
      echo
      key_lines "$id" "$status" "$logfile"
    done
  } >"$REPORT.tmp" 2>>"$TRACE"
  mv -f "$REPORT.tmp" "$REPORT"
}

# --------------------------------------------------------------------------------- the stages
GPU_LINE=$(timeout 10 nvidia-smi -L 2>/dev/null | head -n 1)
log "pyfastdl GPU check: root $ROOT, OUT $OUT, budget ${BUDGET}s, python $PYTHON, ${GPU_LINE:-no GPU listed}"
failures=0

# a. info
run_stage a "info" "$CAP_INFO" "$BENCH_RESERVE" info.log bash "$SELF" __info || failures=$((failures + 1))

# b. build (the GPU's own architecture: sm_90 on an H100 or H200)
arch=${PYFASTDL_CUDA_ARCHS:-}
if [[ -z $arch ]]; then
  arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d ' .')
  [[ $arch =~ ^[0-9]+$ ]] || arch=""
fi
log "CUDA architectures: ${arch:-the default, 80-real;90}"
run_stage b1 "build" "$CAP_BUILD" "$BENCH_RESERVE" build.log \
  env PYFASTDL_CUDA=ON CMAKE_BUILD_PARALLEL_LEVEL="$(nproc 2>/dev/null || echo 4)" \
  PYFASTDL_CUDA_ARCHITECTURES="${arch:-80-real;90}" \
  "$PYTHON" -m pip install --no-build-isolation --no-deps --no-index \
  --disable-pip-version-check -v -e .
build_rc=$?
if ((build_rc != 0)); then
  failures=$((failures + 1))
  for stage in "b2:import check" "c:tests" "d1:memcheck" "d2:racecheck" "e1:bench --quick" \
    "e2:bench (full)"; do
    not_run "${stage%%:*}" "${stage#*:}" "the build failed: nothing else can run"
  done
  write_report
  log "build failed: report in $REPORT"
  cat "$REPORT"
  exit 1
fi
run_stage b2 "import check" "$CAP_IMPORT" "$BENCH_RESERVE" import.log bash "$SELF" __import ||
  failures=$((failures + 1))

# c. tests
run_stage c "tests" "$CAP_TESTS" "$BENCH_RESERVE" pytest_cuda.log \
  "$PYTHON" -m pytest -m cuda -q -x --no-header -p no:cacheprovider tests/cuda \
  --junitxml="$OUT/pytest_cuda.xml" || failures=$((failures + 1))

# d. sanitizers: every array its own allocation (no CuPy or PyTorch pool), API errors of the
# libraries' own probing left out (only the kernels' memory errors and hazards count)
sanitize() { # sanitize ID TOOL CAP LOG SUBSET (empty: the whole test file)
  local id=$1 tool=$2 cap=$3 logfile=$4 subset=$5
  if [[ -z $SANITIZER ]]; then
    record "$id" "$tool" "failed" "-" 0 0 "-" "compute-sanitizer not found (PATH, /usr/local/cuda)"
    write_report
    return 1
  fi
  local options=(--tool "$tool" --error-exitcode 9 --report-api-errors no)
  local run=(env PYTHONPATH="$ROOT/tools${PYTHONPATH:+:$PYTHONPATH}" PYFASTDL_SANITIZER="$tool"
    PYFASTDL_SANITIZE_SUBSET="$subset" PYTORCH_NO_CUDA_MEMORY_CACHING=1)
  local tests=("$PYTHON" -m pytest -q -m cuda tests/cuda/test_kernels_cuda.py
    -k "not slow and not reference_runs_on_cupy"
    -p gpu_check_nopool --no-header -p no:cacheprovider --junitxml="$OUT/${logfile%.log}.xml")
  run_stage "$id" "$tool" "$cap" "$BENCH_RESERVE" "$logfile" \
    "${run[@]}" "$SANITIZER" "${options[@]}" "${tests[@]}"
  local rc=$?
  # an older compute-sanitizer without one of the options: once more with --tool alone
  if ((rc != 0 && rc != 200)) && grep -qiE 'unrecognized option|unknown option|invalid option' \
    "$OUT/$logfile" 2>/dev/null; then
    log "$id: the sanitizer refused an option; again with --tool $tool only"
    run_stage "$id" "$tool (plain options)" "$cap" "$BENCH_RESERVE" "$logfile" \
      "${run[@]}" "$SANITIZER" --tool "$tool" "${tests[@]}"
    rc=$?
  fi
  return "$rc"
}
# memcheck: the whole test file; racecheck (slow): the subset
sanitize d1 memcheck "$CAP_MEMCHECK" memcheck.log "" || failures=$((failures + 1))
sanitize d2 racecheck "$CAP_RACECHECK" racecheck.log "$SANITIZE_SUBSET" || failures=$((failures + 1))

# e. benchmark: the quick run, then the full one if time is left
run_stage e1 "bench --quick" "$CAP_BENCH" 0 bench_quick.log \
  "$PYTHON" -m pyfastdl bench --device cuda --quick --json "$OUT/bench_quick.json" ||
  failures=$((failures + 1))
left=$((BUDGET - SECONDS - REPORT_RESERVE))
if ((left >= FULL_BENCH_MIN)); then
  run_stage e2 "bench (full)" "$left" 0 bench_full.log \
    "$PYTHON" -m pyfastdl bench --device cuda --json "$OUT/bench_full.json" ||
    failures=$((failures + 1))
else
  not_run e2 "bench (full)" "${left}s left, under GPU_CHECK_FULL_BENCH_MIN=${FULL_BENCH_MIN}s"
fi

# f. the report
write_report
log "done in ${SECONDS}s, $failures stage(s) not ok: report in $REPORT"
cat "$REPORT"
echo
echo "[gpu_check] stages:"
column -t -s $'\t' "$STAGES" 2>/dev/null || cat "$STAGES"
((failures == 0))

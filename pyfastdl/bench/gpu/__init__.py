"""``python -m pyfastdl bench --device cuda``: pyfastdl's CUDA kernels against cuBLAS, cuDNN,
PyTorch's SDPA and a device copy, on one GPU.

Suites (``--only``): gemm, conv, attention, memory (``workloads`` describes each; ``--quick``:
one GEMM size, the VGG stack's forward + backward, L = 1024, about a minute with start-up).
Every contender works on the same CuPy buffers (PyTorch sees them through DLPack), is checked
against its peer or the reference before it is timed, and is timed with CUDA events in
interleaved rounds (``timing``). A workload whose kernel is not registered on 'cuda', or whose
peer is missing, is reported as skipped. Without a usable GPU (``pyfastdl.cuda.is_available()``
False) the command prints one line saying why and exits with status 2.

Modules: ``timing`` (the backend -- CuPy or, for the tests, NumPy -- CUDA-event timing, the row),
``workloads`` (the cases and how each is run), ``report`` (header, tables, notes).

Example:
    >>> from pyfastdl.bench.gpu import GpuConfig, run
    >>> from pyfastdl.bench.gpu.timing import host_backend
    >>> from pyfastdl.bench.gpu.workloads import GemmCase
    >>> config = GpuConfig.preset(quick=True, only=("gemm",), rounds=1)
    >>> config.cases["gemm"] = [GemmCase(16)]
    >>> result = run(config, host_backend(), write=lambda s: None, progress=False)
    >>> result.rows[0].status, sorted(result.rows[0].seconds)
    ('ok', ['cuBLAS', 'pyfastdl'])
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

import pyfastdl

from ... import cuda, kernels
from ..._native import cuda_module
from ..report import write_json
from .report import format_header, format_tables, row_line
from .timing import Backend, GpuRow, cuda_backend
from .workloads import RUNNERS, Settings, default_cases

__all__ = ["SUITES", "GpuConfig", "GpuResult", "main", "run", "unavailable_reason"]

SUITES = tuple(RUNNERS)  # gemm, conv, attention, memory
# The kernels each suite times, named in the header with the version kernels.get resolves to
SUITE_KERNELS = {
    "gemm": ("gemm",),
    "conv": ("conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight"),
    "attention": ("attention_forward", "attention_backward"),
    "memory": (
        "softmax_forward",
        "layer_norm_forward",
        "batchnorm_forward_train",
        "gelu_forward",
        "adam_step",
    ),
}


@dataclass
class GpuConfig:
    """Settings of one GPU run: the suites, the timing, GEMM's sizes (None: the defaults) and
    ``cases[suite]``, which replace a suite's default workloads (the tests use tiny ones)."""

    quick: bool = False
    only: tuple[str, ...] = SUITES
    timing: Settings = field(default_factory=Settings)
    sizes: list[int] | None = None
    seed: int = 0
    cases: dict[str, list] = field(default_factory=dict)

    @classmethod
    def preset(
        cls,
        quick: bool,
        only: tuple[str, ...] = SUITES,
        rounds: int | None = None,
        sizes: list[int] | None = None,
    ) -> GpuConfig:
        """The quick run (5 rounds of 10 ms batches) or the full one (15 rounds of 25 ms)."""
        unknown = [s for s in only if s not in SUITES]
        if unknown or not only:
            raise ValueError(
                f"[bench] --only with --device cuda takes a comma-separated subset of "
                f"{','.join(SUITES)}, got {','.join(only) or 'nothing'}"
            )
        timing = Settings(rounds=5, target_s=0.01) if quick else Settings()
        if rounds is not None:
            timing = replace(timing, rounds=rounds)
        return cls(quick=quick, only=tuple(only), timing=timing, sizes=sizes)

    def suite_cases(self, suite: str) -> list:
        if suite in self.cases:
            return self.cases[suite]
        return default_cases(suite, self.quick, self.sizes if suite == "gemm" else None)


@dataclass
class GpuResult:
    config: GpuConfig
    info: dict[str, Any]
    rows: list[GpuRow] = field(default_factory=list)

    @property
    def mode(self) -> str:
        return "quick" if self.config.quick else "full"

    def to_dict(self) -> dict[str, Any]:
        """The raw numbers, as written by ``--json``."""
        c = self.config
        config = {"quick": c.quick, "only": list(c.only), "timing": vars(c.timing), "seed": c.seed}
        return {
            "mode": self.mode,
            "config": config,
            "info": self.info,
            "rows": [r.to_dict() for r in self.rows],
        }


def unavailable_reason() -> str | None:
    """Why ``--device cuda`` cannot run here (None: it can), in one line."""
    mod = cuda_module()
    if mod is None:
        return (
            "pyfastdl was built without CUDA (pyfastdl._cuda is missing): reinstall with "
            "PYFASTDL_CUDA=ON and nvcc on PATH, see docs/CUDA.md"
        )
    try:
        count = mod.device_count()
    except Exception as exc:  # noqa: BLE001 - a broken driver is reported, not raised
        return f"no usable CUDA device ({type(exc).__name__}: {exc})"
    if count == 0:
        return "no CUDA device found (pyfastdl._cuda sees 0 devices)"
    try:
        import cupy  # noqa: F401
    except ImportError as exc:
        return f"CuPy is not installed ({exc}); GPU arrays are CuPy arrays"
    if not cuda.is_available():
        return "pyfastdl.cuda.is_available() is False"
    return None


def _version(module: str) -> str | None:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    return getattr(mod, "__version__", "?")


def device_info(backend: Backend, only: tuple[str, ...]) -> dict[str, Any]:
    """The header's facts, best effort (a query that fails leaves a "?")."""
    info: dict[str, Any] = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "backend": backend.name,
        "python": platform.python_version(),
        "versions": {
            "pyfastdl": pyfastdl.__version__,
            "numpy": np.__version__,
            "cupy": _version("cupy") if backend.name == "cuda" else None,
            "torch": None if backend.torch is None else backend.torch.__version__,
        },
        "timing": "CUDA events around batches of back-to-back calls, interleaved rounds, medians"
        if backend.name == "cuda"
        else "wall clock (host backend)",
        "notes": list(backend.notes),
        "kernels": {},
    }
    for suite in only:
        for op in SUITE_KERNELS[suite]:
            info["kernels"][op] = (
                kernels.current(op, backend.device) if backend.kernel(op) else "not registered"
            )
    if backend.name == "cuda":
        info["device"] = _cuda_device(backend.xp)
        info["versions"]["cupy_tf32"] = os.environ.get("CUPY_TF32", "0")
    torch = backend.torch
    if torch is not None and backend.torch_device == "cuda":
        info["versions"]["torch_cuda"] = torch.version.cuda
        try:
            info["versions"]["cudnn"] = torch.backends.cudnn.version()
        except Exception:  # noqa: BLE001 - informational only
            info["versions"]["cudnn"] = "?"
    return info


def _cuda_device(cupy: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        index = cupy.cuda.Device().id
        props = cupy.cuda.runtime.getDeviceProperties(index)
        name = props.get("name", b"?")
        out["name"] = name.decode(errors="replace") if isinstance(name, bytes) else str(name)
        out["cc"] = f"{props.get('major', '?')}{props.get('minor', '?')}"
        out["sms"] = props.get("multiProcessorCount", "?")
        out["memory"] = props.get("totalGlobalMem")
        out["index"] = index

        def dotted(v: int) -> str:
            return f"{v // 1000}.{v % 1000 // 10}"

        out["driver"] = dotted(cupy.cuda.runtime.driverGetVersion())
        out["runtime"] = dotted(cupy.cuda.runtime.runtimeGetVersion())
    except Exception as exc:  # noqa: BLE001 - informational only
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def _run_case(
    suite: str, case: Any, backend: Backend, config: GpuConfig, rng: np.random.Generator
) -> GpuRow:
    """One workload; an exception becomes the row's status so that the rest of the run goes on."""
    start = time.perf_counter()
    try:
        row = RUNNERS[suite](case, backend, config.timing, rng)
    except Exception as exc:  # noqa: BLE001 - reported in the table, its traceback in the JSON
        message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        row = GpuRow(suite, case.name, "?", 0.0, status=f"error: {type(exc).__name__}: {message}")
        row.notes["traceback"] = traceback.format_exc()
    row.notes["wall_s"] = time.perf_counter() - start
    return row


def run(
    config: GpuConfig,
    backend: Backend,
    write: Callable[[str], None] = print,
    progress: bool = True,
) -> GpuResult:
    """Runs the suites; `write` gets the header first. With `progress`, a line per finished
    workload goes to stderr (a run cut short by a time limit keeps them)."""
    result = GpuResult(config, device_info(backend, config.only))
    write(format_header(result.info, result.mode))
    rng = np.random.default_rng(config.seed)
    for suite in SUITES:
        if suite not in config.only:
            continue
        for case in config.suite_cases(suite):
            row = _run_case(suite, case, backend, config, rng)
            result.rows.append(row)
            if progress:
                print(f"[{suite}] {row_line(row)} ({row.notes['wall_s']:.1f} s)", file=sys.stderr)
                sys.stderr.flush()
    return result


# Options of the CPU suite that mean nothing on the GPU: (dest, flag, value when not given)
CPU_ONLY_OPTIONS = (
    ("threads", "--threads", None),
    ("peers", "--peers", None),
    ("plot", "--plot", None),
    ("conv_sweep", "--conv-sweep", False),
    ("conv_batches", "--conv-batches", None),
    ("conv_models", "--conv-models", None),
    ("conv_budget", "--conv-budget", None),
)


def config_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> GpuConfig:
    """Validates the options a GPU run takes (``parser.error``, exit status 2, otherwise)."""
    given = [flag for dest, flag, unset in CPU_ONLY_OPTIONS if getattr(args, dest, unset) != unset]
    if given:
        parser.error(f"{', '.join(given)}: CPU suite only, not with --device cuda")
    if args.rounds is not None and args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    sizes = None
    if args.sizes is not None:
        try:
            sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
        except ValueError:
            parser.error(f"--sizes takes comma-separated integers, got {args.sizes!r}")
        if not sizes or min(sizes) < 1:
            parser.error(f"--sizes takes positive sizes, got {args.sizes!r}")
    if args.json is not None:
        directory = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
            parser.error(f"--json: cannot write to {directory!r}")
    only = (
        SUITES if args.only is None else tuple(s.strip() for s in args.only.split(",") if s.strip())
    )
    try:
        return GpuConfig.preset(args.quick, only, rounds=args.rounds, sizes=sizes)
    except ValueError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits


# What main() builds the backend with (the tests hand it the host backend)
make_backend: Callable[[], Backend] = cuda_backend


def main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``bench --device cuda``: 0, 1 when a workload is wrong or failed, 2 without a GPU."""
    config = config_from_args(args, parser)
    # cuBLAS in fp32, not TF32: CuPy reads CUPY_TF32 when it is first imported (below)
    os.environ["CUPY_TF32"] = "0"
    reason = unavailable_reason()
    if reason is not None:
        print(f"{parser.prog}: error: --device cuda: {reason}", file=sys.stderr)
        return 2
    try:
        backend = make_backend()
    except Exception as exc:  # noqa: BLE001 - a GPU that fails to start is one line, as above
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(
            f"{parser.prog}: error: --device cuda: {type(exc).__name__}: {message}", file=sys.stderr
        )
        return 2
    result = run(config, backend, progress=not args.no_progress)
    print()
    print(format_tables(result.rows, markdown=args.markdown))
    sys.stdout.flush()
    if args.json:
        write_json(args.json, result.to_dict())
        print(f"\nraw numbers: {args.json}")
    failed = [r for r in result.rows if r.status.startswith(("wrong", "error"))]
    return 1 if failed else 0

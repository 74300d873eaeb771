"""``python -m pyfastdl bench``: the machine's limits, then every kernel family and the training
steps vs the peers.

Suites (``--only``): gemm, conv (conv2d), pool (max/avg pooling), norm (batch and layer norm),
attention (scaled_dot_product_attention), train (the course's models, one optimizer step each),
overhead (microseconds per call of small ops -- add, mul, matmul, relu, sum, softmax, linear on
4x4 to 64x64 tensors -- with and without grad: the per-op overhead table).
convsweep (the conv2d layer-shape sweep, ``conv_sweep``: every distinct convolution of
ResNet-18/34/50, VGG-16, MobileNet-V2, U-Net and DCGAN at batches 1, 8, 32, 64, forward and
forward + backward, vs PyTorch; about 20 minutes) is not in the default list: ``--conv-sweep``
adds it (with ``--quick``: one shape per kind at batch 8, under a minute), ``--conv-batches``,
``--conv-models`` and ``--conv-budget`` narrow it; its table ends with the median and minimum
ratio vs PyTorch and the rows below 1.00x.
A suite whose pyfastdl function or model does not exist yet shows its rows as skipped.
``--peers auto`` (the default of the full run) adds ``torch.compile`` and JAX's ``jit`` to the
MLP and CNN training steps where they are installed (``pip install -e ".[bench,peers]"``).

Usage (the quick run takes about 3 minutes on 2 cores, the full one about 15)::

    python -m pyfastdl bench --quick
    python -m pyfastdl bench --only gemm --threads 1 --json gemm.json --plot gemm.png
    python -m pyfastdl bench --only conv,attention --quick
    python -m pyfastdl bench --markdown            # tables ready to paste into RESULTS.md
    python -m pyfastdl bench --quick --only train --peers auto   # with torch.compile and JAX
    python -m pyfastdl bench --only convsweep --conv-sweep --conv-batches 1,8 --json sweep.json
    python -m pyfastdl bench --device cuda --quick  # the CUDA kernels on the GPU (bench.gpu)

Example:
    >>> from pyfastdl.bench.cli import build_parser
    >>> build_parser().parse_args(["--quick", "--only", "gemm"]).only
    'gemm'
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from . import attention, conv2d, conv_sweep, gemm, gpu, layers, ops, overhead, peers, training
from .config import ALL_SUITES, SUITES, Config
from .limits import machine_info, measure_limits, remeasure_peak
from .report import format_header, format_tables, plot, write_json
from .results import Row
from .threads import cpu_count, jax_module, jax_threads, set_all_threads

# FMA peak on 1 and n threads, triad on 1 and n threads; the FMA peak on n again at the end
LIMIT_STEPS = 5

# suite -> (the function running one of its cases, its default cases for quick / full); the
# modules' functions are looked up at each call (tests replace them with tiny workloads)
SUITE_RUNNERS: dict[str, tuple[Callable[..., Row], Callable[[bool], list]]] = {
    "gemm": (lambda *a: gemm.run_case(*a), lambda quick: gemm.default_cases(quick)),
    "conv": (lambda *a: ops.run_case(*a), lambda quick: conv2d.default_cases(quick)),
    "pool": (lambda *a: ops.run_case(*a), lambda quick: layers.pool_cases(quick)),
    "norm": (lambda *a: ops.run_case(*a), lambda quick: layers.norm_cases(quick)),
    "attention": (lambda *a: ops.run_case(*a), lambda quick: attention.default_cases(quick)),
    "train": (lambda *a: training.run_case(*a), lambda quick: training.default_cases(quick)),
    "overhead": (lambda *a: overhead.run_case(*a), lambda quick: overhead.default_cases(quick)),
    "convsweep": (
        lambda *a: conv_sweep.run_case(*a),
        lambda quick: conv_sweep.default_cases(quick),
    ),
}


def build_parser(prog: str = "python -m pyfastdl bench") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Measure the machine's limits (FMA peak, memory bandwidth), then pyfastdl's "
        "kernels (GEMM, conv2d, pooling, normalization, attention), training steps and per-op "
        "overhead against NumPy and PyTorch in the same run (interleaved rounds, medians of "
        "paired per-round ratios).",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="fewer rounds and shapes: about 3 minutes on 2 cores",
    )
    p.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="cpu: the CPU suite (the default); cuda: pyfastdl's CUDA kernels against cuBLAS, "
        "cuDNN, PyTorch's SDPA and a device copy on the GPU (suites "
        f"{','.join(gpu.SUITES)}; exit status 2 without a usable GPU)",
    )
    p.add_argument(
        "--only",
        default=None,
        metavar="SUITES",
        help=f"comma-separated subset of {','.join(ALL_SUITES)} (default: {','.join(SUITES)}; "
        f"convsweep: see --conv-sweep); with --device cuda, of {','.join(gpu.SUITES)}",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="threads for every library (default: all cores)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=None,
        metavar="R",
        help="interleaved rounds per workload (default: 5 with --quick, else 21; with "
        "--device cuda: 5 or 15)",
    )
    p.add_argument(
        "--sizes",
        default=None,
        metavar="N,N,...",
        help="GEMM: only these square sizes instead of the standard workload list",
    )
    p.add_argument(
        "--peers",
        choices=("auto", "none"),
        default=None,
        help="auto: add torch.compile and JAX (jit) to the MLP and CNN training steps where "
        "installed, their first call (compilation) timed apart; none: leave them out (default: "
        "auto, none with --quick: compiling takes seconds to minutes per workload)",
    )
    p.add_argument("--json", default=None, metavar="FILE", help="write the raw numbers as JSON")
    p.add_argument(
        "--plot",
        default=None,
        metavar="FILE.png",
        help="write a bar chart of the speed-ups (needs matplotlib)",
    )
    p.add_argument("--markdown", action="store_true", help="print the tables in Markdown")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_conv_sweep_arguments(p)
    return p


def _add_conv_sweep_arguments(p: argparse.ArgumentParser) -> None:
    nets = ", ".join(conv_sweep.GENERATORS)
    g = p.add_argument_group(
        "conv2d layer-shape sweep (suite convsweep, not in the default --only)",
        "every distinct convolution of ResNet-18/34/50, VGG-16, MobileNet-V2 (224x224), U-Net, "
        "DCGAN (64x64), VGG-16 and a CIFAR ResNet-18 (32x32) at batches 1, 8, 32, 64, forward "
        "and forward + backward, against PyTorch",
    )
    g.add_argument(
        "--conv-sweep",
        action="store_true",
        help="add the sweep to the suites (about 20 minutes on 2 cores; with --quick one "
        "shape per kind at batch 8, under a minute)",
    )
    g.add_argument(
        "--conv-batches",
        default=None,
        metavar="N,N,...",
        help="only these batches (default: 1,8,32,64; with --quick: 8)",
    )
    g.add_argument(
        "--conv-models",
        default=None,
        metavar="NAME,...",
        help=f"only the layers of these networks, of {nets}",
    )
    g.add_argument(
        "--conv-budget",
        type=float,
        default=None,
        metavar="GFLOP",
        help="leave out a (shape, batch) whose forward pass needs more "
        f"(default: {conv_sweep.BUDGET_GFLOP:g})",
    )


def _conv_sweep_options(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    only: tuple[str, ...],
    overrides: dict[str, Any],
) -> tuple[str, ...]:
    """`only` with the sweep added by --conv-sweep; its cases in `overrides` when
    --conv-batches, --conv-models or --conv-budget narrow it."""
    if args.conv_sweep and "convsweep" not in only:
        only = (*only, "convsweep")
    options = {
        "--conv-batches": args.conv_batches,
        "--conv-models": args.conv_models,
        "--conv-budget": args.conv_budget,
    }
    given = [name for name, value in options.items() if value is not None]
    if not given:
        return only
    if "convsweep" not in only:
        parser.error(f"{', '.join(given)}: for the conv2d sweep, add --conv-sweep")
    batches = None
    if args.conv_batches is not None:
        try:
            batches = [int(s) for s in args.conv_batches.split(",") if s.strip()]
        except ValueError:
            parser.error(
                f"--conv-batches takes comma-separated integers, got {args.conv_batches!r}"
            )
        if not batches or min(batches) < 1:
            parser.error(f"--conv-batches takes positive batches, got {args.conv_batches!r}")
    models = None
    if args.conv_models is not None:
        models = [s.strip() for s in args.conv_models.split(",") if s.strip()]
        unknown = [m for m in models if m not in conv_sweep.GENERATORS]
        if unknown or not models:
            parser.error(
                f"--conv-models takes some of {','.join(conv_sweep.GENERATORS)}, "
                f"got {args.conv_models!r}"
            )
    budget = conv_sweep.BUDGET_GFLOP if args.conv_budget is None else args.conv_budget
    if not budget > 0:
        parser.error(f"--conv-budget must be positive, got {args.conv_budget}")
    cases = conv_sweep.sweep_cases(args.quick, batches, models=models, budget_gflop=budget)
    if not cases:
        parser.error(f"{', '.join(given)}: no layer of the sweep left (with --quick: one per kind)")
    overrides["convsweep_cases"] = cases
    return only


def _check_output_path(parser: argparse.ArgumentParser, option: str, path: str | None) -> None:
    if path is None:
        return
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
        parser.error(f"{option}: cannot write to {directory!r}")


def config_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Config:
    """Validates the options (before anything slow runs) and builds the run's settings."""
    threads = cpu_count() if args.threads is None else args.threads
    if threads < 1:
        parser.error(f"--threads must be >= 1, got {threads}")
    if args.rounds is not None and args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    only_arg = ",".join(SUITES) if args.only is None else args.only
    only = tuple(s.strip() for s in only_arg.split(",") if s.strip())
    _check_output_path(parser, "--json", args.json)
    _check_output_path(parser, "--plot", args.plot)
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            parser.error("--plot needs matplotlib (pip install matplotlib)")
    overrides: dict[str, Any] = {"progress": not args.no_progress}
    if args.peers is not None:
        overrides["peers"] = args.peers
    if args.rounds is not None:
        overrides["rounds"] = args.rounds
    if args.sizes is not None:
        try:
            sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
        except ValueError:
            parser.error(f"--sizes takes comma-separated integers, got {args.sizes!r}")
        if not sizes or min(sizes) < 1:
            parser.error(f"--sizes takes positive sizes, got {args.sizes!r}")
        overrides["gemm_cases"] = [gemm.GemmCase(s, s, s) for s in sizes]
    only = _conv_sweep_options(args, parser, only, overrides)
    try:
        return Config.preset(args.quick, threads, only, **overrides)
    except ValueError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits


def _run_case(
    run: Callable[..., Row],
    case: Any,
    suite: str,
    config: Config,
    rng: np.random.Generator,
    on_round: Callable[[], None],
) -> Row:
    """One workload; an exception becomes the row's status so that the rest of the suite runs.
    The row's ``notes["wall_s"]``: the seconds it took, checks and pauses included."""
    start = time.perf_counter()
    try:
        row = run(case, config, rng, on_round)
    except Exception as exc:  # noqa: BLE001 - reported in the table, with its traceback kept
        row = Row(suite, case.name, status=f"error: {type(exc).__name__}: {exc}")
        row.notes["traceback"] = traceback.format_exc()
    row.notes["wall_s"] = time.perf_counter() - start
    return row


@dataclass
class RunResult:
    """What a run measured: settings, machine, thread counts, limits and one row per workload."""

    config: Config
    machine: dict[str, Any]
    threads: dict[str, Any]
    limits: dict[str, Any]
    rows: list[Row] = field(default_factory=list)

    @property
    def mode(self) -> str:
        return "quick" if self.config.quick else "full"

    def to_dict(self) -> dict[str, Any]:
        """The raw numbers, as written by ``--json``."""
        config = {k: v for k, v in vars(self.config).items() if not k.endswith("_cases")}
        return {
            "mode": self.mode,
            "config": config,
            "machine": self.machine,
            "threads": self.threads,
            "limits": self.limits,
            "rows": [r.to_dict() for r in self.rows],
        }


def run(config: Config, write: Callable[[str], None] = print) -> RunResult:
    """Runs the suite; `write` gets the header as soon as the limits are known.

    It leaves every library with ``config.threads`` threads. With the compiled peers on for the
    training steps, JAX starts here (its thread pool is sized when it starts).
    """
    threads = set_all_threads(config.threads)
    compiled_peers = config.peers != "none" and "train" in config.only
    if compiled_peers and jax_module() is not None:
        threads["jax"] = jax_threads()
    suites: list[tuple[str, Callable[..., Row], list]] = []
    for suite, (run_one, default_cases) in SUITE_RUNNERS.items():
        if suite in config.only:
            cases = getattr(config, f"{suite}_cases") or default_cases(config.quick)
            suites.append((suite, run_one, cases))
    total = LIMIT_STEPS + config.rounds * sum(len(cases) for _, _, cases in suites)
    rng = np.random.default_rng(config.seed)
    with tqdm(
        total=total,
        desc="machine limits",
        unit="step",
        file=sys.stderr,
        disable=not config.progress,
        leave=False,
        dynamic_ncols=True,
    ) as bar:
        limits = measure_limits(
            config.threads,
            config.limit_seconds,
            config.triad_elements,
            on_step=lambda: bar.update(1),
        )
        result = RunResult(config, machine_info(), threads, limits)
        header = format_header(
            result.machine,
            threads,
            limits,
            result.mode,
            peers.describe(config.peers) if "train" in config.only else None,
        )
        if config.progress:
            bar.write(header, file=sys.stdout)
        else:
            write(header)
        for suite, run_one, cases in suites:
            for case in cases:
                bar.set_description(case.name)
                done = bar.n + config.rounds  # where the bar stands after this case's rounds
                result.rows.append(
                    _run_case(run_one, case, suite, config, rng, lambda: bar.update(1))
                )
                bar.update(max(0, done - bar.n))  # a case that failed early ran fewer rounds
        bar.set_description("FMA peak again")
        remeasure_peak(limits, config.limit_seconds)
        bar.update(1)
    return result


def main(argv: list[str] | None = None, prog: str = "python -m pyfastdl bench") -> int:
    """The command line; returns the exit status (1 when a workload failed its check; 2 for
    bad options, or ``--device cuda`` without a usable GPU)."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.device == "cuda":
        return gpu.main(args, parser)
    config = config_from_args(args, parser)
    result = run(config)
    print()
    print(format_tables(result.rows, result.limits, markdown=args.markdown))
    if args.json:
        write_json(args.json, result.to_dict())
        print(f"\nraw numbers: {args.json}")
    if args.plot:
        plot(
            result.rows,
            args.plot,
            title=f"pyfastdl vs peers, {result.machine['cpu']}, "
            f"{config.threads} threads ({result.mode} run)",
        )
        print(f"plot: {args.plot}")
    failed = [r for r in result.rows if r.status.startswith(("wrong", "error"))]
    return 1 if failed else 0

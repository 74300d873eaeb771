"""``python -m pyfastdl doctor``: what this installation is, and whether its kernels are right.

Prints, in sections: the build (version, where the package and its compiled modules were loaded
from, the compiler and flags when the CMake cache or the binary says so, whether ``_C`` and
``_cuda`` loaded), the CPU (the instruction-set path chosen and those this processor supports),
the threads (``get_num_threads`` and the OpenMP runtime the process mapped), the optional
dependencies with their versions (read from the installed distributions, nothing imported), and a
self-check of the default kernel of every op against its reference (:func:`pyfastdl.kernels.check`
on the op's test cases and its autograd probe; ``--all`` checks every registered version). The
exit status is 1 when a kernel fails its check, else 0.

Example:
    >>> from pyfastdl.bench.doctor import main
    >>> lines = []
    >>> main(["--ops", "softmax_forward"], write=lines.append)
    0
    >>> any("kernels: 1 checked, 0 failed" in line for line in lines)
    True
"""

from __future__ import annotations

import argparse
import glob
import importlib.metadata
import importlib.util
import os
import platform
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import pyfastdl

from .. import kernels
from .._native import _C, cuda_module
from .limits import cpu_model
from .threads import cpu_count

__all__ = ["main", "build_info", "optional_dependencies", "openmp_runtime", "check_kernels"]

# The CPU instruction-set paths, lowest first: a processor supports a prefix of these.
_CPU_PATHS = ("generic", "avx2", "avx512")
_CPU_NAMES = {"generic": "portable C++", "avx2": "AVX2+FMA", "avx512": "AVX-512"}
# Optional dependencies: import name -> what pyfastdl uses it for.
OPTIONAL = {
    "torch": "comparisons, state-dict import",
    "cupy": "GPU arrays",
    "mpi4py": "data parallelism",
    "matplotlib": "plots",
    "PIL": "images",
    "safetensors": "(pyfastdl reads and writes the format itself)",
    "gymnasium": "reinforcement-learning environments",
    "jax": "comparisons",
}
_CACHE_KEYS = (
    "CMAKE_BUILD_TYPE",
    "CMAKE_CXX_COMPILER",
    "CMAKE_CXX_FLAGS",
    "CMAKE_CXX_FLAGS_RELEASE",
    "CMAKE_CUDA_COMPILER",
    "CMAKE_CUDA_ARCHITECTURES",
    "PYFASTDL_CUDA",
)


def _compiler_of(binary: str) -> str | None:
    """The compiler named in an ELF binary's .comment section ('GCC: (...) 12.2.0'), if any."""
    try:
        data = Path(binary).read_bytes()
    except OSError:
        return None
    m = re.search(rb"(GCC: \([^)]*\) [0-9.]+|clang version [0-9.]+)", data)
    return m.group(1).decode(errors="replace").replace("GCC: ", "GCC ") if m else None


def build_info() -> dict[str, str]:
    """The version, the compiled modules and, when found, the CMake cache of the build.

    Example:
        >>> from pyfastdl.bench.doctor import build_info
        >>> build_info()["_C"].startswith("loaded")
        True
    """
    info = {
        "pyfastdl": f"{pyfastdl.__version__} ({Path(pyfastdl.__file__).parent})",
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "numpy": np.__version__,
    }
    c_file = getattr(_C, "__file__", "") or ""
    compiler = _compiler_of(c_file) if c_file else None
    info["_C"] = f"loaded from {c_file}" + (f", built by {compiler}" if compiler else "")
    try:
        cuda = cuda_module()
        info["_cuda"] = "not built (no CUDA compiler at install)" if cuda is None else "loaded"
    except Exception as e:  # built, but the driver or the runtime is missing here
        info["_cuda"] = f"built, but failed to load: {type(e).__name__}: {e}"
    # an editable or CMake build leaves its cache beside the sources: build/<wheel tag>/
    root = Path(pyfastdl.__file__).resolve().parent.parent
    for cache in sorted(glob.glob(str(root / "build" / "*" / "CMakeCache.txt"))):
        values = {}
        for line in Path(cache).read_text(errors="replace").splitlines():
            key, _, value = line.partition("=")
            name = key.partition(":")[0]
            if name in _CACHE_KEYS:
                values[name] = value
        info[f"cmake ({Path(cache).parent.name})"] = ", ".join(
            f"{k}={values[k]!r}" for k in _CACHE_KEYS if k in values
        )
    return info


def openmp_runtime() -> str:
    """The OpenMP runtime library this process has mapped (libgomp, libomp, libiomp5), or
    'unknown' where /proc/self/maps cannot say.

    Example:
        >>> from pyfastdl.bench.doctor import openmp_runtime
        >>> isinstance(openmp_runtime(), str)
        True
    """
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return "unknown"
    found = sorted(
        {
            line.split()[-1]
            for line in maps.splitlines()
            if re.search(r"lib(gomp|omp|iomp5)[^/]*\.so", line)
        }
    )
    return ", ".join(found) if found else "none mapped"


def optional_dependencies() -> dict[str, str | None]:
    """The version of each optional dependency (None when not installed), without importing it.

    Example:
        >>> from pyfastdl.bench.doctor import optional_dependencies
        >>> sorted(optional_dependencies())[:2]
        ['PIL', 'cupy']
    """
    dists = importlib.metadata.packages_distributions()
    versions: dict[str, str | None] = {}
    for name in OPTIONAL:
        if importlib.util.find_spec(name) is None:
            versions[name] = None
            continue
        version = None
        for dist in dists.get(name, []):
            try:
                version = f"{importlib.metadata.version(dist)} ({dist})"
                break
            except importlib.metadata.PackageNotFoundError:
                continue
        versions[name] = version or "installed (version unknown)"
    return versions


def check_kernels(
    ops: list[str] | None = None, every_version: bool = False, write: Callable = print
) -> int:
    """Checks the default kernel of each op (or every version) against its reference with
    :func:`pyfastdl.kernels.check`; writes a line per kernel and returns the number that failed.

    Example:
        >>> from pyfastdl.bench.doctor import check_kernels
        >>> check_kernels(["softmax_backward"], write=lambda line: None)
        0
    """
    names = kernels.list("cpu")
    all_ops = sorted({n.partition("/")[0] for n in names})
    unknown = sorted(set(ops or ()) - set(all_ops))
    if unknown:
        raise KeyError(f"[doctor] unknown kernel(s) {', '.join(unknown)}; see kernels.list()")
    chosen: list[tuple[str, str]] = []
    for op in ops or all_ops:
        if not kernels.cases.cases(op):
            continue  # no test cases to check it on
        if every_version:
            chosen += [(op, v) for v in kernels.versions(op) if v != "reference"]
        else:
            chosen.append((op, kernels.versions(op)[0]))  # the default first
    failed = 0
    for op, version in chosen:
        if version == "reference":
            write(f"  --   {op}/reference  (the op's default is its reference: the oracle itself)")
            continue
        t0 = time.perf_counter()
        report = kernels.check(op, kernels.get(f"{op}/{version}"), timing=False)
        seconds = time.perf_counter() - t0
        results = report.results + ([report.probe] if report.probe else [])
        worst = max((r.max_rel_error for r in results), default=0.0)
        if report.passed:
            write(
                f"  ok   {op}/{version}  ({len(results)} checks, max rel error {worst:.1e}, "
                f"{seconds:.2f} s)"
            )
        else:
            failed += 1
            write(f"  FAIL {op}/{version}")
            for r in results:
                if not r.ok:
                    detail = r.error or (
                        f"max abs error {r.max_abs_error:.2e}, max rel error {r.max_rel_error:.2e}"
                    )
                    write(f"         {r.name}: {detail}")
    checked = sum(1 for _, v in chosen if v != "reference")
    write(f"kernels: {checked} checked, {failed} failed")
    return failed


def main(argv: list[str] | None = None, write: Callable = print) -> int:
    """Runs the doctor; returns the exit status (1 when a kernel check fails).

    Example:
        >>> from pyfastdl.bench.doctor import main
        >>> main(["--no-check"], write=lambda line: None)
        0
    """
    parser = argparse.ArgumentParser(
        prog="python -m pyfastdl doctor",
        description="Print the build, CPU path, threads and optional dependencies, then check "
        "every op's default kernel against its NumPy reference (exit status 1 on a failure).",
    )
    parser.add_argument("--ops", help="comma-separated op names to check (default: all)")
    parser.add_argument(
        "--all", action="store_true", help="check every registered version, not only defaults"
    )
    parser.add_argument("--no-check", action="store_true", help="skip the kernel self-check")
    args = parser.parse_args(argv)
    ops = [o.strip() for o in args.ops.split(",") if o.strip()] if args.ops else None
    unknown = sorted(set(ops or ()) - {n.partition("/")[0] for n in kernels.list("cpu")})
    if unknown:
        parser.error(f"[doctor] unknown kernel(s) {', '.join(unknown)}; see kernels.list()")

    write("== build")
    for key, value in build_info().items():
        write(f"  {key}: {value}")
    write("== cpu")
    write(f"  processor: {cpu_model()}")
    chosen = _C.cpu_capability()
    supported = _CPU_PATHS[: _CPU_PATHS.index(_C.cpu_capability_supported()) + 1]
    write(f"  path chosen: {chosen} ({_CPU_NAMES.get(chosen, chosen)})")
    write(
        "  paths supported: "
        + ", ".join(f"{p} ({_CPU_NAMES[p]})" for p in supported)
        + f"; PYFASTDL_CPU={os.environ.get('PYFASTDL_CPU', '(unset)')}"
    )
    write("== threads")
    write(f"  get_num_threads: {_C.get_num_threads()} (CPUs available: {cpu_count()})")
    write(f"  OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}")
    write(f"  OpenMP runtime: {openmp_runtime()}")
    write("== optional dependencies")
    for name, version in optional_dependencies().items():
        write(f"  {name}: {version or 'not installed'}  [{OPTIONAL[name]}]")
    if args.no_check:
        return 0
    write("== kernels (each against its NumPy reference, kernels.check)")
    t0 = time.perf_counter()
    failed = check_kernels(ops, every_version=args.all, write=write)
    write(f"  ({time.perf_counter() - t0:.1f} s)")
    return 1 if failed else 0
